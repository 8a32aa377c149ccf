import Aggregation
import Foundation
import TestSupport
import Testing
@testable import Fleet

/// Retention: `darknetd db prune` drops whole UTC days of every partitioned
/// table, and a feed import's coverage follows, against a real PostgreSQL.
@Suite(.serialized, .enabled(if: PostgresServer.unavailableReason == nil,
                             Comment(rawValue: PostgresServer.unavailableReason ?? "")))
struct RetentionTests {
    @Test func pruneDropsWholeDaysOfEveryTableAndFeedCoverageFollows() async throws {
        let generated = try BucketStoreTests.generatedBuckets(packets: 3000, seconds: 180)
        let template = try #require(generated.first)
        // 2024-03-01, 02 and 03 at 12:00 UTC: one bucket on each day.
        let noon: Int64 = 1_709_294_400 * 1_000_000_000
        let days = (0..<3).map { d -> BucketSummary in
            var b = template
            b.startNs = noon + Int64(d) * 86_400 * 1_000_000_000
            return b
        }
        let server = try PostgresServer.start()
        defer { server.stop() }
        try server.createDatabase("fleet")
        var settings = try ConnectionSettings(url: server.url("fleet"))
        settings.password = server.password
        try await BucketStore.withStore(settings) { store in
            try await store.migrate()
            for b in days { _ = try await store.write(sensor: "s1", bucket: b) }
        }
        // A feed with one import spanning the three days and one on the first day only.
        _ = try server.psql("fleet", """
            INSERT INTO feeds (name) VALUES ('f');
            SELECT fleet_ensure_partitions(d::date) FROM generate_series('2024-03-01'::date, '2024-03-03', '1 day') AS d;
            INSERT INTO feed_imports (feed_id, file_bytes, file_hash, file_name, format, events, rejected_lines, first_event, last_event)
                VALUES (1, 10, 1, 'all.csv', 'csv', 3, 0, '2024-03-01 06:00Z', '2024-03-03 06:00Z'),
                       (1, 20, 2, 'first.csv', 'csv', 1, 0, '2024-03-01 07:00Z', '2024-03-01 07:00Z');
            INSERT INTO feed_events (feed_id, import_id, line, event_time, weight) VALUES
                (1, 1, 1, '2024-03-01 06:00Z', 5), (1, 1, 2, '2024-03-02 06:00Z', 6), (1, 1, 3, '2024-03-03 06:00Z', 7),
                (1, 2, 1, '2024-03-01 07:00Z', 8)
            """)
        let partitionsBefore = try server.psql("fleet", "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relkind = 'r'")
        #expect(partitionsBefore == ["\(3 * Migrations.partitionedTables.count)"])

        let url = server.url("fleet")
        let db = ["--db", url, "--db-password-file", server.passwordFile]
        let both = try Subprocess.run(Executables.darknetd, ["db", "prune", "--before", "2024-03-02", "--keep-days", "3"] + db)
        #expect(both.status != 0 && both.stderr.contains("exactly one of --before"), "\(both.stderr)")
        let badDay = try Subprocess.run(Executables.darknetd, ["db", "prune", "--before", "2024-13-02"] + db)
        #expect(badDay.status != 0 && badDay.stderr.contains("not a date"), "\(badDay.stderr)")

        let pruned = try Subprocess.run(Executables.darknetd, ["db", "prune", "--before", "2024-03-02"] + db)
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(pruned.stdout.contains("dropped \(Migrations.partitionedTables.count) partitions (1 days) before 2024-03-02"), "\(pruned.stdout)")
        #expect(!pruned.stdout.contains(server.password))
        let buckets = try server.psql("fleet", "SELECT to_char(bucket_start AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM buckets ORDER BY 1")
        #expect(buckets == ["2024-03-02", "2024-03-03"])
        let left = try server.psql("fleet", "SELECT count(*) FROM pg_inherits WHERE inhrelid::regclass::text LIKE '%20240301'")
        #expect(left == ["0"])
        let events = try server.psql("fleet", "SELECT sum(weight) FROM feed_events")
        #expect(events == ["13"])
        // The import of the first day only is forgotten; the other now starts at the cutoff.
        let imports = try server.psql("fleet", """
            SELECT file_name || ' ' || to_char(first_event AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM feed_imports ORDER BY 1
            """)
        #expect(imports == ["all.csv 2024-03-02 00:00"])

        // Nothing left before the cutoff: a second run drops nothing.
        let again = try await BucketStore.withStore(settings) { store in
            try await store.dropPartitions(before: Date(timeIntervalSince1970: 1_709_337_600))
        }
        #expect(again.isEmpty)
        // A later cutoff drops the next day, and writing into that day again recreates it.
        let next = try await BucketStore.withStore(settings) { store in
            let dropped = try await store.dropPartitions(before: Date(timeIntervalSince1970: 1_709_337_600 + 86_400))
            let rewritten = try await store.write(sensor: "s1", bucket: days[1])
            return (dropped, rewritten)
        }
        #expect(next.0.count == Migrations.partitionedTables.count)
        #expect(next.0.allSatisfy { $0.hasSuffix("_20240302") })
        #expect(next.1 == true)
    }
}
