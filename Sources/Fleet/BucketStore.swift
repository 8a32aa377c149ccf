import Aggregation
import Alerts
import Foundation
import Interchange
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The fleet database as one sensor sees it: applies the migrations and
/// writes closed buckets, each in one transaction, idempotently on
/// (sensor, bucket start): a bucket written twice (a retry, a restart, a
/// second backfill of the same capture) is stored once.
///
/// One connection, used by one caller at a time (the actor serialises them).
public actor BucketStore {
    public nonisolated let settings: ConnectionSettings
    nonisolated let connection: PostgresConnection
    let logger: Logger
    /// Sensor name → `sensors.sensor_id`.
    var sensorIDs: [String: Int32] = [:]
    /// UTC days whose partitions this connection has made sure of.
    var partitionDays: Set<Int64> = []
    var closed = false

    init(settings: ConnectionSettings, connection: PostgresConnection, logger: Logger) {
        self.settings = settings
        self.connection = connection
        self.logger = logger
    }

    /// Connects and authenticates. Errors are `FleetError`s: `.unreachable`,
    /// `.authenticationFailed`, `.passwordRequired`, `.tls`, `.databaseMissing`.
    public static func connect(_ settings: ConnectionSettings, logger: Logger? = nil) async throws(FleetError) -> BucketStore {
        // PostgresNIO logs at debug and trace only; the password is never in its metadata.
        var logger = logger ?? Logger(label: "darknetd.fleet", factory: { _ in SwiftLogNoOpLogHandler() })
        logger[metadataKey: "db"] = "\(settings.redactedURL)"
        let configuration = try settings.postgresConfiguration()
        do {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
            return BucketStore(settings: settings, connection: connection, logger: logger)
        } catch {
            throw FleetError.from(error, settings: settings)
        }
    }

    /// Connects as a writer of `sensor`'s buckets: the schema checked (never
    /// migrated: that is `darknetd db migrate`) and the sensor's id known, the
    /// connection closed again if either fails.
    public static func connectWriter(_ settings: ConnectionSettings, sensor: String) async throws(FleetError) -> BucketStore {
        let store = try await connect(settings)
        do {
            try await store.checkSchema()
            _ = try await store.sensorID(sensor)
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    /// Connects, runs `body`, and closes the connection whatever `body` does
    /// (PostgresNIO requires every connection closed before it is released).
    @discardableResult
    public static func withStore<T: Sendable>(_ settings: ConnectionSettings,
                                              _ body: (BucketStore) async throws -> T) async throws -> T {
        let store = try await connect(settings)
        do {
            let result = try await body(store)
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    }

    /// Closes the connection; every store must be closed before it is released.
    public func close() async {
        guard !closed else { return }
        closed = true
        try? await connection.close()
    }

    /// Runs `body`, mapping whatever PostgresNIO throws to a `FleetError`.
    @discardableResult
    func mapped<T>(_ body: () async throws -> T) async throws(FleetError) -> T {
        do {
            return try await body()
        } catch {
            throw FleetError.from(error, settings: settings)
        }
    }

    // MARK: Migrations

    /// Versions recorded in `schema_migrations` (empty before the first migrate).
    public func appliedVersions() async throws(FleetError) -> [Int] {
        try await mapped {
            let exists = try await connection.checkedQuery("SELECT to_regclass('schema_migrations') IS NOT NULL", logger: logger)
            var present = false
            for try await row in exists { present = try row.decode(Bool.self) }
            guard present else { return [] }
            var versions: [Int] = []
            for try await row in try await connection.checkedQuery("SELECT version FROM schema_migrations ORDER BY version", logger: logger) {
                versions.append(Int(try row.decode(Int32.self)))
            }
            return versions
        }
    }

    /// Applies every migration not yet recorded, in order, each in its own
    /// transaction together with its `schema_migrations` row, under a session
    /// advisory lock (a second sensor migrating at the same time waits, then
    /// finds nothing left to do). Returns the versions it applied.
    @discardableResult
    public func migrate(_ migrations: [Migration] = Migrations.all) async throws(FleetError) -> [Int] {
        try await mapped {
            try await connection.checkedQuery("SELECT pg_advisory_lock(\(Migrations.advisoryLockKey))", logger: logger)
            do {
                let applied = try await migrateLocked(migrations)
                try await connection.checkedQuery("SELECT pg_advisory_unlock(\(Migrations.advisoryLockKey))", logger: logger)
                return applied
            } catch {
                // Closing the session would release the lock too; unlock so the connection stays usable.
                _ = try? await connection.checkedQuery("SELECT pg_advisory_unlock(\(Migrations.advisoryLockKey))", logger: logger)
                throw error
            }
        }
    }

    func migrateLocked(_ migrations: [Migration]) async throws -> [Int] {
        try await connection.checkedQuery("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)
        let done = Set(try await appliedVersions())
        if let newest = done.max(), newest > (migrations.last?.version ?? 0) {
            throw FleetError.schemaNewer(applied: newest, known: migrations.last?.version ?? 0)
        }
        var applied: [Int] = []
        for migration in migrations where !done.contains(migration.version) {
            let logger = self.logger
            try await connection.checkedTransaction(logger: logger) { connection in
                for statement in migration.statements {
                    try await connection.checkedQuery(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                let version = Int32(migration.version), name = migration.name
                try await connection.checkedQuery("INSERT INTO schema_migrations (version, name) VALUES (\(version), \(name))", logger: logger)
            }
            applied.append(migration.version)
        }
        return applied
    }

    /// Throws `.schemaNotMigrated` / `.schemaNewer` unless the schema is exactly at `Migrations.latestVersion`.
    public func checkSchema() async throws(FleetError) {
        let versions = try await appliedVersions()
        let newest = versions.max() ?? 0
        if newest < Migrations.latestVersion { throw .schemaNotMigrated(applied: newest, required: Migrations.latestVersion) }
        if newest > Migrations.latestVersion { throw .schemaNewer(applied: newest, known: Migrations.latestVersion) }
    }

    // MARK: Writing buckets

    /// The sensor's id, registering the name on first use. Under the least-privilege
    /// setup (docs/fleet.md) the administrator registers it, and this only reads it.
    public func sensorID(_ name: String) async throws(FleetError) -> Int32 {
        if let id = sensorIDs[name] { return id }
        let id: Int32 = try await mapped {
            if let id = try await lookUpSensor(name) { return id }
            do {
                try await connection.checkedQuery("INSERT INTO sensors (name) VALUES (\(name)) ON CONFLICT (name) DO NOTHING", logger: logger)
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42501" {
                throw FleetError.sensorNotRegistered(sensor: name, user: settings.user)
            }
            guard let id = try await lookUpSensor(name) else { throw FleetError.server(sqlState: "", message: "sensor \(name) could not be registered") }
            return id
        }
        sensorIDs[name] = id
        return id
    }

    func lookUpSensor(_ name: String) async throws -> Int32? {
        for try await row in try await connection.checkedQuery("SELECT sensor_id FROM sensors WHERE name = \(name)", logger: logger) {
            return try row.decode(Int32.self)
        }
        return nil
    }

    /// Writes one closed bucket and everything in it, in one transaction.
    /// Returns true if it was new, false if this sensor's bucket at that start
    /// was already stored (then nothing is written).
    @discardableResult
    public func write(sensor: String, bucket: BucketSummary) async throws(FleetError) -> Bool {
        let id = try await sensorID(sensor)
        let rows = BucketRows(bucket)
        let logger = self.logger
        if !partitionDays.contains(rows.day) {
            try await mapped {
                try await connection.checkedQuery("SELECT fleet_ensure_partitions((\(rows.start) AT TIME ZONE 'UTC')::date)", logger: logger)
            }
            partitionDays.insert(rows.day)
        }
        return try await mapped {
            try await connection.checkedTransaction(logger: logger) { connection in
                try await Self.insert(rows, sensor: id, connection: connection, logger: logger)
            }
        }
    }

    /// What `write(sensor:bucket:alerts:)` did.
    public struct WriteOutcome: Sendable, Equatable {
        /// True if the bucket was new, false if it was already stored, nil without a bucket.
        public var bucketIsNew: Bool?
        /// Alerts in the transaction (each stored once: a rewrite adds none).
        public var alerts: Int
    }

    /// Writes a closed bucket (if any) and the alerts raised with it, in one
    /// transaction: the bucket as `write(sensor:bucket:)` does, each alert
    /// `ON CONFLICT DO NOTHING` on the primary key (sensor, time, rule, key),
    /// so writing the same entry twice stores it once, all of it or nothing.
    @discardableResult
    public func write(sensor: String, bucket: BucketSummary?, alerts: [Alert]) async throws(FleetError) -> WriteOutcome {
        let id = try await sensorID(sensor)
        let rows = bucket.map(BucketRows.init)
        let alertRows = AlertRows(alerts)
        var days = alertRows.days
        if let rows { days.insert(rows.day) }
        for day in days.sorted() where !partitionDays.contains(day) {
            let start = Date(timeIntervalSince1970: Double(day) * 86_400)
            let logger = self.logger
            try await mapped {
                try await connection.checkedQuery("SELECT fleet_ensure_partitions((\(start) AT TIME ZONE 'UTC')::date)", logger: logger)
            }
            partitionDays.insert(day)
        }
        let logger = self.logger
        let isNew: Bool? = try await mapped {
            try await connection.checkedTransaction(logger: logger) { connection in
                var isNew: Bool?
                if let rows { isNew = try await Self.insert(rows, sensor: id, connection: connection, logger: logger) }
                if !alertRows.isEmpty { try await Self.insert(alertRows, sensor: id, connection: connection, logger: logger) }
                return isNew
            }
        }
        return WriteOutcome(bucketIsNew: isNew, alerts: alerts.count)
    }

    static func insert(_ a: AlertRows, sensor id: Int32, connection: PostgresConnection, logger: Logger) async throws {
        try await connection.checkedQuery("""
            INSERT INTO alerts (sensor_id, alert_time, rule, alert_key, severity, protocol, port, address, message, body)
            SELECT \(id), t.alert_time, t.rule, t.alert_key, t.severity, NULLIF(t.protocol, -1), NULLIF(t.port, -1),
                NULLIF(t.address, '')::inet, t.message, t.body::jsonb
            FROM unnest(\(a.times)::timestamptz[], \(a.rules)::text[], \(a.keys)::text[], \(a.severities)::text[],
                \(a.protocols)::smallint[], \(a.ports)::integer[], \(a.addresses)::text[], \(a.messages)::text[],
                \(a.bodies)::text[])
                AS t(alert_time, rule, alert_key, severity, protocol, port, address, message, body)
            ON CONFLICT DO NOTHING
            """, logger: logger)
    }

    static func insert(_ r: BucketRows, sensor id: Int32, connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let c = r.counts
        let inserted = try await connection.checkedQuery("""
            INSERT INTO buckets (sensor_id, bucket_start, length_s, packets, bytes, decoded, decode_errors, ipv4, ipv6,
                tcp, udp, icmp, icmpv6, other_ip, fragments, class_scan, class_backscatter, class_reflection_recon,
                class_misconfiguration, class_other, ports_with_packets, distinct_sources, sources_hll)
            VALUES (\(id), \(r.start), \(r.lengthSeconds), \(c[0]), \(c[1]), \(c[2]), \(c[3]), \(c[4]), \(c[5]),
                \(c[6]), \(c[7]), \(c[8]), \(c[9]), \(c[10]), \(c[11]), \(c[12]), \(c[13]), \(c[14]),
                \(c[15]), \(c[16]), \(r.portsWithPackets), \(r.distinctSources), \(r.sourcesHLL))
            ON CONFLICT (sensor_id, bucket_start) DO NOTHING
            RETURNING 1
            """, logger: logger)
        var isNew = false
        for try await _ in inserted { isNew = true }
        guard isNew else { return false }
        if !r.portNumbers.isEmpty {
            try await connection.checkedQuery("""
                INSERT INTO bucket_ports (sensor_id, bucket_start, protocol, port, packets, scan_packets, scan_sources)
                SELECT \(id), \(r.start), t.* FROM unnest(\(r.portProtocols)::smallint[], \(r.portNumbers)::integer[],
                    \(r.portPackets)::bigint[], \(r.portScanPackets)::bigint[], \(r.portScanSources)::bigint[]) AS t
                """, logger: logger)
        }
        if !r.countryCodes.isEmpty {
            try await connection.checkedQuery("""
                INSERT INTO bucket_countries (sensor_id, bucket_start, country, packets)
                SELECT \(id), \(r.start), t.* FROM unnest(\(r.countryCodes)::text[], \(r.countryPackets)::bigint[]) AS t
                """, logger: logger)
        }
        if !r.watchedPorts.isEmpty {
            try await connection.checkedQuery("""
                INSERT INTO bucket_watched_sources (sensor_id, bucket_start, port, source, rank, packets)
                SELECT \(id), \(r.start), t.port, t.source::inet, t.rank, t.packets
                FROM unnest(\(r.watchedPorts)::integer[], \(r.watchedSources)::text[], \(r.watchedRanks)::smallint[],
                    \(r.watchedPackets)::bigint[]) AS t(port, source, rank, packets)
                """, logger: logger)
        }
        if !r.topSources.isEmpty {
            try await connection.checkedQuery("""
                INSERT INTO bucket_top_sources (sensor_id, bucket_start, source, rank, packets)
                SELECT \(id), \(r.start), t.source::inet, t.rank, t.packets
                FROM unnest(\(r.topSources)::text[], \(r.topRanks)::smallint[], \(r.topPackets)::bigint[]) AS t(source, rank, packets)
                """, logger: logger)
        }
        if !r.scanSources.isEmpty {
            try await connection.checkedQuery("""
                INSERT INTO scans (sensor_id, bucket_start, source, protocol, port, started_at, last_seen_at, packets,
                    destinations, observed_rate, internet_rate, fingerprint)
                SELECT \(id), \(r.start), t.source::inet, t.protocol, t.port, t.started_at, t.last_seen_at, t.packets,
                    t.destinations, t.observed_rate, t.internet_rate, t.fingerprint
                FROM unnest(\(r.scanSources)::text[], \(r.scanProtocols)::smallint[], \(r.scanPorts)::integer[],
                    \(r.scanStarts)::timestamptz[], \(r.scanEnds)::timestamptz[], \(r.scanPackets)::bigint[],
                    \(r.scanDestinations)::bigint[], \(r.scanObservedRates)::float8[], \(r.scanInternetRates)::float8[],
                    \(r.scanFingerprints)::text[])
                    AS t(source, protocol, port, started_at, last_seen_at, packets, destinations, observed_rate, internet_rate, fingerprint)
                ON CONFLICT DO NOTHING
                """, logger: logger)
        }
        if !r.attackVictims.isEmpty {
            try await connection.checkedQuery("""
                INSERT INTO attacks (sensor_id, bucket_start, victim, protocol, started_at, last_seen_at, packets,
                    peak_rate, observed_rate, estimated_attack_rate)
                SELECT \(id), \(r.start), t.victim::inet, t.protocol, t.started_at, t.last_seen_at, t.packets,
                    t.peak_rate, t.observed_rate, t.estimated_attack_rate
                FROM unnest(\(r.attackVictims)::text[], \(r.attackProtocols)::smallint[], \(r.attackStarts)::timestamptz[],
                    \(r.attackEnds)::timestamptz[], \(r.attackPackets)::bigint[], \(r.attackPeakRates)::float8[],
                    \(r.attackObservedRates)::float8[], \(r.attackEstimatedRates)::float8[])
                    AS t(victim, protocol, started_at, last_seen_at, packets, peak_rate, observed_rate, estimated_attack_rate)
                ON CONFLICT DO NOTHING
                """, logger: logger)
        }
        return true
    }
}

/// The connection was closed (the server stopped, or the network dropped it)
/// before a statement could be sent.
struct ConnectionClosed: Error {}

/// Who resumes `withDeadline`'s continuation first: the statement or the timer.
final class DeadlineRace<T: Sendable>: Sendable {
    let waiting = Mutex<CheckedContinuation<T, any Error>?>(nil)
    let timer = Mutex<Task<Void, Never>?>(nil)

    func start(_ continuation: CheckedContinuation<T, any Error>) { waiting.withLock { $0 = continuation } }
    func setTimer(_ task: Task<Void, Never>) { timer.withLock { $0 = task } }
    func cancelTimer() { timer.withLock { $0?.cancel() } }

    /// Resumes the continuation unless the other side already did; true if this call did.
    func finish(_ result: Result<T, any Error>) -> Bool {
        guard let continuation = waiting.withLock({ value -> CheckedContinuation<T, any Error>? in
            defer { value = nil }
            return value
        }) else { return false }
        continuation.resume(with: result)
        return true
    }
}

/// No answer to a statement within its deadline.
struct NoAnswer: Error {
    var timeout: Duration
}

extension PostgresConnection {
    /// How long a statement may go unanswered before the connection is given up.
    /// Generous: a write may wait on another writer's lock, `migrate` on another migration.
    static let statementTimeout: Duration = .seconds(120)

    /// `query`, refusing up front once the connection is closed, and giving up
    /// (closing the connection) when no answer comes within `timeout`.
    /// PostgresNIO 1.33 hands a statement written to a closed channel a promise
    /// that never completes; the check catches a connection already seen
    /// closed, the deadline the instant between the check and the write.
    @discardableResult
    func checkedQuery(_ query: PostgresQuery, logger: Logger, timeout: Duration = statementTimeout,
                      file: String = #fileID, line: Int = #line) async throws -> PostgresRowSequence {
        guard !isClosed else { throw ConnectionClosed() }
        do {
            return try await Self.withDeadline(timeout) { try await self.query(query, logger: logger, file: file, line: line) }
        } catch let error as NoAnswer {
            let closing: EventLoopFuture<Void> = close()
            _ = closing
            throw error
        }
    }

    /// BEGIN, `body`, COMMIT (ROLLBACK if `body` throws), each statement through `checkedQuery`.
    func checkedTransaction<Result: Sendable>(logger: Logger, isolation: isolated (any Actor)? = #isolation,
                                              _ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        try await checkedQuery("BEGIN", logger: logger)
        let value: Result
        do {
            value = try await body(self)
        } catch {
            _ = try? await checkedQuery("ROLLBACK", logger: logger)
            throw error
        }
        try await checkedQuery("COMMIT", logger: logger)
        return value
    }

    /// `body`'s result, or `NoAnswer` once `timeout` has passed; a body that never
    /// returns is left behind (cancelled) rather than waited for.
    static func withDeadline<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let race = DeadlineRace<T>()
        return try await withCheckedThrowingContinuation { continuation in
            race.start(continuation)
            let work = Task {
                let result: Swift.Result<T, any Error>
                do { result = .success(try await body()) } catch { result = .failure(error) }
                if race.finish(result) { race.cancelTimer() }
            }
            race.setTimer(Task {
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled else { return }
                if race.finish(.failure(NoAnswer(timeout: timeout))) { work.cancel() }
            })
        }
    }
}

// MARK: Retention

extension BucketStore {
    /// Drops, as one transaction, every day partition of the partitioned tables
    /// (`Migrations.partitionedTables`) whose UTC day is before `day`
    /// (`fleet_drop_partitions`, migration 4), and shortens the feed imports
    /// accordingly. Returns the dropped partitions' names, in order. Only the
    /// tables' owner may drop them.
    public func dropPartitions(before day: Date) async throws(FleetError) -> [String] {
        let logger = self.logger
        let text = RFC3339.formatDate(seconds: Int64(day.timeIntervalSince1970.rounded(.down)))
        return try await mapped {
            try await connection.checkedTransaction(logger: logger) { connection in
                var dropped: [String] = []
                for try await row in try await connection.checkedQuery("SELECT fleet_drop_partitions(\(text)::date)", logger: logger) {
                    dropped.append(try row.decode(String.self))
                }
                return dropped
            }
        }
    }
}
