/// The fleet schema's versioned migrations, oldest first. They live here as
/// Swift string constants rather than as SwiftPM resource files: darknetd is
/// installed as one binary (docs/operations.md), and a resource bundle would
/// have to travel beside it and be found at run time; a constant cannot go
/// missing. Each migration is a list of single statements because PostgresNIO
/// sends every query through the extended protocol, which takes one statement
/// at a time.
///
/// Rules: a migration once released is never edited (the next version changes
/// what it must); `MigrationTests` checks the versions run 1, 2, 3… in order.
public struct Migration: Sendable {
    public var version: Int
    public var name: String
    public var statements: [String]
}

public enum Migrations {
    /// Key of the session advisory lock `migrate` holds, so that two sensors
    /// migrating at once take turns ('darkflt' in ASCII).
    public static let advisoryLockKey: Int64 = 0x6461_726B_666C_74

    /// Tables partitioned by day of `bucket_start` in migration 1.
    public static let bucketTables = ["buckets", "bucket_ports", "bucket_countries", "bucket_watched_sources", "scans", "attacks"]
    /// The tables partitioned by day as of migration 3 (which adds `alerts` by
    /// `alert_time` and `feed_events` by `event_time`).
    static let partitionedTablesV3 = bucketTables + ["alerts", "feed_events"]
    /// Every table partitioned by day (migration 5 adds `bucket_top_sources`);
    /// `fleet_ensure_partitions` creates one partition of each per UTC day and
    /// `fleet_drop_partitions` drops them.
    public static let partitionedTables = partitionedTablesV3 + ["bucket_top_sources"]

    /// Creates the day's partition of every table in `tables` (UTC days) unless it exists.
    /// SECURITY DEFINER: a sensor role that may only insert can still add a day.
    /// The transaction-scoped advisory lock serialises two writers adding the same day.
    static func ensurePartitionsFunction(_ tables: [String], replace: Bool) -> String {
        """
        CREATE \(replace ? "OR REPLACE " : "")FUNCTION fleet_ensure_partitions(day date) RETURNS void
        LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $fn$
        DECLARE
            parent text;
            part text;
            low timestamptz := day::timestamp AT TIME ZONE 'UTC';
            high timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
        BEGIN
            PERFORM pg_advisory_xact_lock(\(advisoryLockKey) + 1);
            FOREACH parent IN ARRAY ARRAY[\(tables.map { "'\($0)'" }.joined(separator: ", "))] LOOP
                part := parent || '_' || to_char(day, 'YYYYMMDD');
                IF to_regclass(quote_ident(part)) IS NULL THEN
                    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', part, parent, low, high);
                END IF;
            END LOOP;
        END
        $fn$
        """
    }

    /// Drops every day partition of `tables` before a UTC day, in one
    /// transaction, and shortens the feed imports to match (docs/fleet.md, Retention).
    static func dropPartitionsFunction(_ tables: [String], replace: Bool) -> String {
        """
        CREATE \(replace ? "OR REPLACE " : "")FUNCTION fleet_drop_partitions(before date) RETURNS SETOF text
        LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
        DECLARE
            part text;
            cutoff timestamptz := before::timestamp AT TIME ZONE 'UTC';
        BEGIN
            PERFORM pg_advisory_xact_lock(\(advisoryLockKey) + 1);
            FOR part IN
                SELECT c.relname FROM pg_inherits i
                JOIN pg_class c ON c.oid = i.inhrelid
                JOIN pg_class p ON p.oid = i.inhparent
                WHERE p.relname = ANY (ARRAY[\(tables.map { "'\($0)'" }.joined(separator: ", "))])
                  AND p.relnamespace = c.relnamespace
                  AND c.relname = p.relname || '_' || substring(c.relname FROM '[0-9]{8}$')
                  AND to_date(substring(c.relname FROM '[0-9]{8}$'), 'YYYYMMDD') < before
                ORDER BY c.relname
            LOOP
                EXECUTE format('DROP TABLE %I', part);
                RETURN NEXT part;
            END LOOP;
            -- An import whose events are all gone is forgotten (its file may come in again);
            -- one that straddles the cutoff now starts there, so fleet report shows the
            -- dropped days as missing, not as zeros.
            DELETE FROM feed_imports WHERE last_event < cutoff;
            UPDATE feed_imports SET first_event = cutoff WHERE first_event < cutoff;
        END
        $fn$
        """
    }

    public static let all: [Migration] = [
        Migration(version: 1, name: "buckets", statements: [
            """
            CREATE TABLE sensors (
                sensor_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
                -- The database role allowed to write this sensor's rows (docs/fleet.md, least privilege).
                db_role name,
                created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE buckets (
                sensor_id integer NOT NULL,
                bucket_start timestamptz NOT NULL,
                length_s integer NOT NULL CHECK (length_s > 0),
                packets bigint NOT NULL,
                bytes bigint NOT NULL,
                decoded bigint NOT NULL,
                decode_errors bigint NOT NULL,
                ipv4 bigint NOT NULL,
                ipv6 bigint NOT NULL,
                tcp bigint NOT NULL,
                udp bigint NOT NULL,
                icmp bigint NOT NULL,
                icmpv6 bigint NOT NULL,
                other_ip bigint NOT NULL,
                fragments bigint NOT NULL,
                class_scan bigint NOT NULL,
                class_backscatter bigint NOT NULL,
                class_reflection_recon bigint NOT NULL,
                class_misconfiguration bigint NOT NULL,
                class_other bigint NOT NULL,
                ports_with_packets integer NOT NULL,
                distinct_sources double precision NOT NULL,
                -- Format 1: byte 0 = 1, byte 1 = precision p, then 2^p one-byte registers (docs/fleet.md).
                sources_hll bytea NOT NULL,
                written_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (sensor_id, bucket_start)
            ) PARTITION BY RANGE (bucket_start)
            """,
            """
            CREATE TABLE bucket_ports (
                sensor_id integer NOT NULL,
                bucket_start timestamptz NOT NULL,
                protocol smallint NOT NULL,
                port integer NOT NULL,
                packets bigint NOT NULL,
                scan_packets bigint NOT NULL,
                scan_sources bigint NOT NULL,
                PRIMARY KEY (sensor_id, bucket_start, protocol, port)
            ) PARTITION BY RANGE (bucket_start)
            """,
            """
            CREATE TABLE bucket_countries (
                sensor_id integer NOT NULL,
                bucket_start timestamptz NOT NULL,
                -- ISO 3166 alpha-2, or '??' for sources without a known country.
                country text NOT NULL,
                packets bigint NOT NULL,
                PRIMARY KEY (sensor_id, bucket_start, country)
            ) PARTITION BY RANGE (bucket_start)
            """,
            """
            CREATE TABLE bucket_watched_sources (
                sensor_id integer NOT NULL,
                bucket_start timestamptz NOT NULL,
                port integer NOT NULL,
                source inet NOT NULL,
                rank smallint NOT NULL,
                packets bigint NOT NULL,
                PRIMARY KEY (sensor_id, bucket_start, port, source)
            ) PARTITION BY RANGE (bucket_start)
            """,
            """
            CREATE TABLE scans (
                sensor_id integer NOT NULL,
                bucket_start timestamptz NOT NULL,
                source inet NOT NULL,
                protocol smallint NOT NULL,
                port integer NOT NULL,
                started_at timestamptz NOT NULL,
                last_seen_at timestamptz NOT NULL,
                packets bigint NOT NULL,
                destinations bigint NOT NULL,
                observed_rate double precision NOT NULL,
                internet_rate double precision NOT NULL,
                fingerprint text NOT NULL,
                PRIMARY KEY (sensor_id, bucket_start, source, protocol, port)
            ) PARTITION BY RANGE (bucket_start)
            """,
            """
            CREATE TABLE attacks (
                sensor_id integer NOT NULL,
                bucket_start timestamptz NOT NULL,
                victim inet NOT NULL,
                protocol smallint NOT NULL,
                started_at timestamptz NOT NULL,
                last_seen_at timestamptz NOT NULL,
                packets bigint NOT NULL,
                peak_rate double precision NOT NULL,
                observed_rate double precision NOT NULL,
                estimated_attack_rate double precision NOT NULL,
                PRIMARY KEY (sensor_id, bucket_start, victim, protocol)
            ) PARTITION BY RANGE (bucket_start)
            """,
            ensurePartitionsFunction(bucketTables, replace: false),
        ]),
        // The registers of `buckets.sources_hll` merged and estimated in SQL, so any
        // client counts distinct sources across buckets and sensors (docs/fleet.md):
        // the register-wise maximum, and Ertl's estimator as `HyperLogLog.estimate`
        // computes it. Only registers made under one hash key merge meaningfully.
        Migration(version: 2, name: "hll functions", statements: [
            """
            CREATE FUNCTION fleet_hll_union_step(state bytea, registers bytea) RETURNS bytea
            LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$
            BEGIN
                IF registers IS NULL THEN RETURN state; END IF;
                IF state IS NULL THEN RETURN registers; END IF;
                IF length(state) <> length(registers) OR length(state) < 3 OR get_byte(state, 0) <> 1
                   OR get_byte(registers, 0) <> 1 OR get_byte(state, 1) <> get_byte(registers, 1) THEN
                    RAISE EXCEPTION 'fleet_hll_union: registers of another format or precision';
                END IF;
                RETURN substring(state FROM 1 FOR 2) || (
                    SELECT string_agg(set_byte('\\x00'::bytea, 0, greatest(get_byte(state, i), get_byte(registers, i))),
                                      ''::bytea ORDER BY i)
                    FROM generate_series(2, length(state) - 1) AS i);
            END
            $fn$
            """,
            """
            CREATE AGGREGATE fleet_hll_union(bytea) (SFUNC = fleet_hll_union_step, STYPE = bytea, PARALLEL = SAFE)
            """,
            """
            CREATE FUNCTION fleet_hll_estimate(registers bytea) RETURNS double precision
            LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$
            DECLARE
                p integer; m integer; q integer; v integer; hist integer[];
                x double precision; y double precision; z double precision; previous double precision;
            BEGIN
                IF registers IS NULL THEN RETURN NULL; END IF;
                IF length(registers) < 3 OR get_byte(registers, 0) <> 1 THEN
                    RAISE EXCEPTION 'fleet_hll_estimate: not registers of format 1';
                END IF;
                p := get_byte(registers, 1);
                m := length(registers) - 2;
                q := 64 - p;
                IF p < 4 OR p > 18 OR m <> (1 << p) THEN
                    RAISE EXCEPTION 'fleet_hll_estimate: % registers do not fit precision %', m, p;
                END IF;
                hist := array_fill(0, ARRAY[q + 2], ARRAY[0]);
                FOR i IN 2 .. m + 1 LOOP
                    v := get_byte(registers, i);
                    IF v > q + 1 THEN RAISE EXCEPTION 'fleet_hll_estimate: register % above %', v, q + 1; END IF;
                    hist[v] := hist[v] + 1;
                END LOOP;
                -- tau((m - hist[q + 1]) / m)
                x := (m - hist[q + 1])::double precision / m;
                IF x = 0 OR x = 1 THEN
                    z := 0;
                ELSE
                    y := 1; z := 1 - x;
                    LOOP
                        x := sqrt(x); previous := z; y := y * 0.5;
                        z := z - (1 - x) * (1 - x) * y;
                        EXIT WHEN z = previous;
                    END LOOP;
                    z := z / 3;
                END IF;
                z := m * z;
                FOR k IN REVERSE q .. 1 LOOP
                    z := 0.5 * (z + hist[k]);
                END LOOP;
                -- sigma(hist[0] / m)
                x := hist[0]::double precision / m;
                IF x = 1 THEN RETURN 0; END IF;
                y := 1; previous := NULL;
                DECLARE s double precision := x;
                BEGIN
                    LOOP
                        x := x * x; previous := s; s := s + x * y; y := y + y;
                        EXIT WHEN s = previous;
                    END LOOP;
                    z := z + m * s;
                END;
                RETURN 0.7213475204444817 * m * m / z;
            END
            $fn$
            """,
        ]),
        // Alerts beside the buckets, and feeds (other observation networks: NORSE,
        // honeypots, threat lists) in the same database, so `fleet report` compares
        // any set of sensors and feeds (docs/fleet.md).
        Migration(version: 3, name: "alerts and feeds", statements: [
            """
            CREATE TABLE alerts (
                sensor_id integer NOT NULL,
                alert_time timestamptz NOT NULL,
                -- AlertRuleID's raw value ("dns-open-resolver-surge").
                rule text NOT NULL,
                -- The alert's dedup key (rule and subject); with the time it makes a rewrite idempotent.
                alert_key text NOT NULL,
                -- RFC 5424 severity name ("warning").
                severity text NOT NULL,
                protocol smallint,
                port integer,
                address inet,
                message text NOT NULL,
                -- The alert as the JSON sink writes it (docs/alerts.md).
                body jsonb NOT NULL,
                PRIMARY KEY (sensor_id, alert_time, rule, alert_key)
            ) PARTITION BY RANGE (alert_time)
            """,
            """
            CREATE TABLE feeds (
                feed_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
                -- The database role allowed to import into this feed (least privilege, docs/fleet.md).
                db_role name,
                created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE feed_imports (
                import_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                feed_id integer NOT NULL REFERENCES feeds (feed_id),
                -- The file's length and a 64-bit hash of its bytes (docs/fleet.md):
                -- the same file imported twice is stored once.
                file_bytes bigint NOT NULL,
                file_hash bigint NOT NULL,
                file_name text NOT NULL,
                -- The reader: a built-in format's name or "mapping:<file>".
                format text NOT NULL,
                events bigint NOT NULL,
                rejected_lines bigint NOT NULL,
                first_event timestamptz,
                last_event timestamptz,
                imported_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (feed_id, file_bytes, file_hash)
            )
            """,
            """
            CREATE TABLE feed_events (
                feed_id integer NOT NULL,
                import_id bigint NOT NULL,
                -- The event's line (or record) number in its file.
                line bigint NOT NULL,
                event_time timestamptz NOT NULL,
                -- Set when the feed gives a start and an end; event_time is the start.
                end_time timestamptz,
                source inet,
                protocol smallint,
                port integer,
                -- ISO 3166 alpha-2, as the feed gave it or mapped from a name.
                country text,
                weight double precision NOT NULL DEFAULT 1,
                PRIMARY KEY (feed_id, event_time, import_id, line)
            ) PARTITION BY RANGE (event_time)
            """,
            ensurePartitionsFunction(partitionedTablesV3, replace: true),
        ]),
        // Retention: whole days dropped, partition by partition (docs/fleet.md, "Retention").
        Migration(version: 4, name: "retention", statements: [
            dropPartitionsFunction(partitionedTablesV3, replace: false),
            "REVOKE EXECUTE ON FUNCTION fleet_drop_partitions(date) FROM PUBLIC",
        ]),
        // Each bucket's busiest sources (`BucketSummary.topSources`), so overlap and
        // locality across sensors are exact where these lists reach (docs/fleet.md).
        Migration(version: 5, name: "bucket top sources", statements: [
            """
            CREATE TABLE bucket_top_sources (
                sensor_id integer NOT NULL,
                bucket_start timestamptz NOT NULL,
                source inet NOT NULL,
                rank smallint NOT NULL,
                packets bigint NOT NULL,
                PRIMARY KEY (sensor_id, bucket_start, source)
            ) PARTITION BY RANGE (bucket_start)
            """,
            // Days that already have partitions of the other tables get this one too.
            """
            DO $$
            DECLARE day date;
            BEGIN
                FOR day IN SELECT DISTINCT to_date(substring(c.relname FROM '[0-9]{8}$'), 'YYYYMMDD') FROM pg_inherits i
                    JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
                    WHERE p.relname = 'buckets' AND c.relname ~ '_[0-9]{8}$'
                LOOP
                    EXECUTE format('CREATE TABLE %I PARTITION OF bucket_top_sources FOR VALUES FROM (%L) TO (%L)',
                                   'bucket_top_sources_' || to_char(day, 'YYYYMMDD'),
                                   day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
                END LOOP;
            END
            $$
            """,
            ensurePartitionsFunction(partitionedTables, replace: true),
            dropPartitionsFunction(partitionedTables, replace: true),
        ]),
    ]

    /// The newest version this darknetd knows.
    public static var latestVersion: Int { all.last?.version ?? 0 }
}
