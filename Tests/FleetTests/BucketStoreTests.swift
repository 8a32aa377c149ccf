import Aggregation
import Capture
import Foundation
import Logging
import PostgresNIO
import Reporting
import Synth
import TestSupport
import Testing
@testable import Fleet

/// Fleet against a real PostgreSQL that each test starts for itself
/// (`PostgresServer`): migrations, idempotent bucket writes, the backfill
/// through `darknetd analyze --db`, and the errors an operator sees.
/// Skipped, with the reason, only where PostgreSQL's server binaries are absent.
@Suite(.serialized, .enabled(if: PostgresServer.unavailableReason == nil,
                             Comment(rawValue: PostgresServer.unavailableReason ?? "")))
struct BucketStoreTests {
    static func tempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("darknetd-fleet-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    func settings(_ server: PostgresServer, _ database: String, password: String? = nil) throws -> ConnectionSettings {
        var settings = try ConnectionSettings(url: server.url(database))
        settings.password = password ?? server.password
        return settings
    }

    /// The schema as the catalog describes it: columns, indexes, partitions' parents, functions.
    func schema(_ server: PostgresServer, _ database: String) throws -> [String] {
        try server.psql(database, """
            SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
                FROM information_schema.columns WHERE table_schema = 'public'
            UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
            UNION ALL SELECT 'table ' || c.relname || ' ' || c.relkind::text FROM pg_class c
                WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
            UNION ALL SELECT 'function ' || p.proname || ' ' || p.prosecdef::text FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
            ORDER BY 1
            """)
    }

    /// Closed buckets of a generated capture, as `analyze` closes them.
    static func generatedBuckets(packets: Int, seconds: Int64, seed: UInt64 = 5) throws -> [BucketSummary] {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("gen.pcap").path
        var config = DarknetTrafficConfig()
        config.seed = seed
        config.packetCount = packets
        config.sourceCount = 2000
        config.pace = .duration(nanoseconds: seconds * 1_000_000_000)
        var traffic = DarknetTraffic(config: config)
        let writer = try PcapFileWriter(path: path)
        _ = try traffic.write(to: writer)
        try writer.close()
        final class Collected: @unchecked Sendable { var buckets: [BucketSummary] = [] }
        let collected = Collected()
        var analysis = OfflineAnalysis(config: AggregationConfig())
        analysis.onClosedBucket = { collected.buckets.append($0) }
        _ = analysis.run(source: try PacketSource.openFiles([path]), geoip: nil)
        return collected.buckets
    }

    @Test func migratingTwiceLeavesTheSameSchemaAndOneRowPerVersion() async throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        try server.createDatabase("fleet")
        let first = try await BucketStore.withStore(try settings(server, "fleet")) { store in
            #expect(try await store.appliedVersions() == [])
            #expect(try await store.migrate() == Migrations.all.map(\.version))
            let first = try schema(server, "fleet")
            #expect(first.contains("table buckets p") && first.contains("function fleet_ensure_partitions true"), "\(first)")
            #expect(try await store.migrate() == [])
            return first
        }
        #expect(try schema(server, "fleet") == first)
        let rows = try server.psql("fleet", "SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version")
        #expect(rows == Migrations.all.map { "\($0.version)|1" })

        // Two sensors migrating a new database at the same moment: one applies, the other finds it done.
        try server.createDatabase("fleet2")
        let fleet2 = try settings(server, "fleet2")
        async let appliedA = BucketStore.withStore(fleet2) { try await $0.migrate() }
        async let appliedB = BucketStore.withStore(fleet2) { try await $0.migrate() }
        let both = try await [appliedA, appliedB]
        #expect(both.flatMap { $0 }.sorted() == Migrations.all.map(\.version), "\(both)")
        #expect(try schema(server, "fleet2") == first)
        #expect(try server.psql("fleet2", "SELECT count(*) FROM schema_migrations") == ["\(Migrations.all.count)"])
    }

    @Test func aBucketWrittenTwiceIsStoredOnce() async throws {
        let buckets = try Self.generatedBuckets(packets: 8000, seconds: 300)
        #expect(buckets.count >= 5)
        let server = try PostgresServer.start()
        defer { server.stop() }
        try server.createDatabase("fleet")
        let counts = """
            SELECT (SELECT count(*) FROM buckets) || ' ' || (SELECT count(*) FROM bucket_ports) || ' ' ||
                (SELECT count(*) FROM bucket_countries) || ' ' || (SELECT count(*) FROM bucket_watched_sources) || ' ' ||
                (SELECT count(*) FROM scans) || ' ' || (SELECT count(*) FROM attacks)
            """
        let (afterOne, afterAll) = try await BucketStore.withStore(try settings(server, "fleet")) { store in
            try await store.migrate()
            #expect(try await store.write(sensor: "s1", bucket: buckets[0]) == true)
            let afterOne = try server.psql("fleet", counts)
            #expect(try await store.write(sensor: "s1", bucket: buckets[0]) == false)
            #expect(try server.psql("fleet", counts) == afterOne)
            for bucket in buckets.dropFirst() { #expect(try await store.write(sensor: "s1", bucket: bucket) == true) }
            return (afterOne, try server.psql("fleet", counts))
        }

        // A restart (a new connection) writing every bucket again stores nothing new.
        try await BucketStore.withStore(try settings(server, "fleet")) { (again: BucketStore) async throws in
            for bucket in buckets { #expect(try await again.write(sensor: "s1", bucket: bucket) == false) }
            // The same buckets under another sensor are that sensor's own rows.
            #expect(try await again.write(sensor: "s2", bucket: buckets[0]) == true)
        }
        #expect(try server.psql("fleet", "SELECT count(*) FROM buckets WHERE sensor_id = (SELECT sensor_id FROM sensors WHERE name = 's1')")
                == ["\(buckets.count)"])
        #expect(try server.psql("fleet", "SELECT count(*) FROM buckets") == ["\(buckets.count + 1)"])
        #expect(afterAll != afterOne)

        // What a row holds: the bucket's figures, every kept port, the registers in format 1.
        let b = buckets[1]
        let row = try server.psql("fleet", """
            SELECT packets, bytes, decoded, tcp, udp, class_scan, ports_with_packets, length_s, encode(sources_hll, 'hex'),
                extract(epoch FROM bucket_start)::bigint
            FROM buckets WHERE sensor_id = 1 ORDER BY bucket_start OFFSET 1 LIMIT 1
            """)
        let fields = try #require(row.first).split(separator: "|").map(String.init)
        #expect(fields[0..<8] == ["\(b.counters.total)", "\(b.counters.bytes)", "\(b.counters.decoded)", "\(b.counters.tcp)",
                                  "\(b.counters.udp)", "\(b.classes.scan)", "\(b.portCount)", "60"])
        #expect(fields[9] == "\(b.startNs / 1_000_000_000)")
        let registers = HLLFormat.encode(b.sources).readableBytesView.map { String(format: "%02x", $0) }.joined()
        #expect(fields[8] == registers)
        let ports = try server.psql("fleet", """
            SELECT protocol, port, packets FROM bucket_ports
            WHERE sensor_id = 1 AND bucket_start = to_timestamp(\(b.startNs / 1_000_000_000)) ORDER BY protocol, port
            """)
        let expected = b.ports.sorted { $0.key < $1.key }.map { "\($0.key.ipProtocol)|\($0.key.port)|\($0.packets)" }
        #expect(ports == expected)
        // The bucket's busiest sources, in rank order.
        #expect(!b.topSources.isEmpty)
        let top = try server.psql("fleet", """
            SELECT rank, host(source), packets FROM bucket_top_sources
            WHERE sensor_id = 1 AND bucket_start = to_timestamp(\(b.startNs / 1_000_000_000)) ORDER BY rank
            """)
        #expect(top == b.topSources.enumerated().map { "\($0.offset + 1)|\($0.element.address)|\($0.element.packets)" })
    }

    /// The registers merge and estimate in SQL as in Swift: `fleet_hll_union` over two
    /// sensors' buckets gives the registers of `HyperLogLog.merge`, and `fleet_hll_estimate`
    /// Ertl's estimate, to 1e-9.
    @Test func registersMergeAndEstimateInSQLAsInSwift() async throws {
        let a = try Self.generatedBuckets(packets: 6000, seconds: 240, seed: 21)
        let b = try Self.generatedBuckets(packets: 6000, seconds: 240, seed: 22)
        let server = try PostgresServer.start()
        defer { server.stop() }
        try server.createDatabase("fleet")
        try await BucketStore.withStore(try settings(server, "fleet")) { store in
            try await store.migrate()
            for bucket in a { _ = try await store.write(sensor: "a", bucket: bucket) }
            for bucket in b { _ = try await store.write(sensor: "b", bucket: bucket) }
        }
        var union = a[0].sources
        for bucket in a.dropFirst() + b { union.merge(bucket.sources) }
        let row = try #require(try server.psql("fleet", """
            SELECT encode(fleet_hll_union(sources_hll), 'hex') || '|' || fleet_hll_estimate(fleet_hll_union(sources_hll))::text
            FROM buckets
            """).first).split(separator: "|").map(String.init)
        #expect(row[0] == HLLFormat.encode(union).readableBytesView.map { String(format: "%02x", $0) }.joined())
        let estimate = try #require(Double(row[1]))
        #expect(abs(estimate - union.estimate) <= 1e-9 * union.estimate, "SQL \(estimate), Swift \(union.estimate)")
        // Every bucket's own estimate, and the sensors apart.
        let perBucket = try server.psql("fleet", """
            SELECT fleet_hll_estimate(sources_hll)::text FROM buckets WHERE sensor_id = (SELECT sensor_id FROM sensors WHERE name = 'a')
            ORDER BY bucket_start
            """).compactMap(Double.init)
        #expect(perBucket.count == a.count)
        for (sql, bucket) in zip(perBucket, a) {
            #expect(abs(sql - bucket.sources.estimate) <= 1e-9 * max(1, bucket.sources.estimate))
        }
        var onlyB = b[0].sources
        for bucket in b.dropFirst() { onlyB.merge(bucket.sources) }
        let textB = try server.psql("fleet", """
            SELECT fleet_hll_estimate(fleet_hll_union(sources_hll))::text FROM buckets
            WHERE sensor_id = (SELECT sensor_id FROM sensors WHERE name = 'b')
            """).first
        let sqlB = try #require(textB.flatMap(Double.init))
        #expect(abs(sqlB - onlyB.estimate) <= 1e-9 * onlyB.estimate)
        // Registers of another precision are refused, not merged.
        #expect(throws: (any Error).self) {
            _ = try server.psql("fleet", "SELECT fleet_hll_union_step(sources_hll, '\\x010400'::bytea) FROM buckets LIMIT 1")
        }
    }

    /// The server goes away in the middle of a run: the write fails with a connection error,
    /// and once it is back, writing every bucket again stores each one exactly once.
    @Test func aServerThatStopsMidRunLosesAndDuplicatesNothing() async throws {
        let buckets = try Self.generatedBuckets(packets: 8000, seconds: 300, seed: 8)
        #expect(buckets.count >= 5)
        let half = buckets.count / 2
        let server = try PostgresServer.start()
        defer { server.stop() }
        try server.createDatabase("fleet")
        try await BucketStore.withStore(try settings(server, "fleet")) { (store: BucketStore) async throws in
            try await store.migrate()
            for bucket in buckets.prefix(half) { #expect(try await store.write(sensor: "s1", bucket: bucket) == true) }
            server.stopProcess()
            do {
                try await store.write(sensor: "s1", bucket: buckets[half])
                Issue.record("a write succeeded with the server stopped")
            } catch let error as FleetError {
                guard case .unreachable(let endpoint, _) = error else {
                    Issue.record("expected .unreachable, got \(error)")
                    return
                }
                #expect(endpoint == "127.0.0.1:\(server.port)")
            }
        }
        try server.restart()
        var written = 0, already = 0
        try await BucketStore.withStore(try settings(server, "fleet")) { (store: BucketStore) async throws in
            for bucket in buckets {
                if try await store.write(sensor: "s1", bucket: bucket) { written += 1 } else { already += 1 }
            }
        }
        #expect(already == half && written == buckets.count - half)
        #expect(try server.psql("fleet", "SELECT count(*), count(DISTINCT bucket_start) FROM buckets") == ["\(buckets.count)|\(buckets.count)"])
        let packets = buckets.reduce(0) { $0 + $1.counters.total }
        #expect(try server.psql("fleet", "SELECT sum(packets) FROM buckets") == ["\(packets)"])
        let ports = buckets.reduce(0) { $0 + $1.ports.count }
        #expect(try server.psql("fleet", "SELECT count(*) FROM bucket_ports") == ["\(ports)"])
    }

    /// A statement without an answer in its deadline gives the connection up instead of waiting for ever
    /// (what keeps a write from hanging when the connection closes just as it is sent).
    @Test func aStatementWithoutAnAnswerGivesTheConnectionUp() async throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        try await BucketStore.withStore(try settings(server, "postgres")) { (store: BucketStore) async throws in
            let connection = store.connection
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            let clock = ContinuousClock()
            let started = clock.now
            await #expect(throws: NoAnswer.self) {
                try await connection.checkedQuery("SELECT pg_sleep(10)", logger: logger, timeout: .milliseconds(500))
            }
            #expect(clock.now - started < .seconds(5))
            // Given up: the next statement is refused at once, and the store says why.
            #expect(try await eventuallyClosed(connection))
            await #expect(throws: ConnectionClosed.self) { try await connection.checkedQuery("SELECT 1", logger: logger) }
            #expect(FleetError.from(NoAnswer(timeout: .seconds(120)), settings: store.settings).description
                        .hasPrefix("cannot reach the database at 127.0.0.1:\(server.port): no answer to a statement in 120"))
        }
        // A short statement well within its deadline is answered as usual.
        try await BucketStore.withStore(try settings(server, "postgres")) { (store: BucketStore) async throws in
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            var value: Int32 = 0
            for try await row in try await store.connection.checkedQuery("SELECT 42", logger: logger, timeout: .seconds(10)) {
                value = try row.decode(Int32.self)
            }
            #expect(value == 42)
        }
    }

    func eventuallyClosed(_ connection: PostgresConnection) async throws -> Bool {
        for _ in 0..<100 {
            if connection.isClosed { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    @Test func aWrongPasswordIsAClearAuthenticationError() async throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        let wrongSettings = try settings(server, "postgres", password: "not-the-password")
        do {
            let store = try await BucketStore.connect(wrongSettings)
            await store.close()
            Issue.record("a wrong password was accepted")
        } catch {
            guard case .authenticationFailed(let user, let endpoint, _) = error else {
                Issue.record("expected .authenticationFailed, got \(error)")
                return
            }
            #expect(user == server.admin && endpoint == "127.0.0.1:\(server.port)")
            #expect(error.description.contains("authentication failed for user \"fleetadmin\""))
        }
        // No password at all: the server's request for one is named as such.
        var none = try settings(server, "postgres")
        none.password = nil
        await #expect(throws: FleetError.passwordRequired(user: server.admin, endpoint: "127.0.0.1:\(server.port)")) {
            try await BucketStore.withStore(none) { _ in }
        }
        // The command line says the same and never echoes the password it read.
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let wrong = dir.appendingPathComponent("wrong").path
        try "wrong-password-123\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        let run = try Subprocess.run(Executables.darknetd, ["db", "migrate", "--db", server.url("postgres"), "--db-password-file", wrong])
        #expect(run.status == 1)
        #expect(run.stderr.contains("database authentication failed for user \"fleetadmin\""), "\(run.stderr)")
        #expect(!run.output.contains("wrong-password-123"))
    }

    @Test func anUnmigratedDatabaseIsNamedAsSuch() async throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        try server.createDatabase("fleet")
        try await BucketStore.withStore(try settings(server, "fleet")) { (store: BucketStore) async throws in
            await #expect(throws: FleetError.schemaNotMigrated(applied: 0, required: Migrations.latestVersion)) { try await store.checkSchema() }
        }
        await #expect(throws: FleetError.databaseMissing(database: "nosuchdb", endpoint: "127.0.0.1:\(server.port)")) {
            try await BucketStore.withStore(try settings(server, "nosuchdb")) { _ in }
        }
    }
}
