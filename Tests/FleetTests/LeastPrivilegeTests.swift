import Foundation
import TestSupport
import Testing
@testable import Fleet

/// docs/fleet.md's least-privilege SQL, run verbatim against a real
/// PostgreSQL: a sensor's role writes only its own sensor's buckets, a report
/// role only reads.
@Suite(.enabled(if: PostgresServer.unavailableReason == nil, Comment(rawValue: PostgresServer.unavailableReason ?? "")))
struct LeastPrivilegeTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The ```sql block of docs/fleet.md that starts with `-- fleet-least-privilege`.
    static func documentedSQL() throws -> String {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/fleet.md"), encoding: .utf8)
        let start = try #require(text.range(of: "```sql\n-- fleet-least-privilege\n"))
        let end = try #require(text.range(of: "\n```", range: start.upperBound..<text.endIndex))
        return String(text[start.upperBound..<end.lowerBound])
    }

    @Test func aSensorRoleWritesOnlyItsOwnRowsAndAReportRoleOnlyReads() async throws {
        let buckets = try BucketStoreTests.generatedBuckets(packets: 3000, seconds: 120)
        #expect(buckets.count >= 2)
        let server = try PostgresServer.start()
        defer { server.stop() }
        try server.createDatabase("fleet")
        var admin = try ConnectionSettings(url: server.url("fleet"))
        admin.password = server.password
        try await BucketStore.withStore(admin) { try await $0.migrate() }
        try server.psql("fleet", try Self.documentedSQL())
        // docs/fleet.md's per-sensor and per-report lines, with the password set in SQL instead of \password.
        try server.psql("fleet", """
            CREATE ROLE sensor_tokyo LOGIN IN ROLE fleet_sensor PASSWORD 'tokyo-pw';
            INSERT INTO sensors (name, db_role) VALUES ('tokyo', 'sensor_tokyo');
            CREATE ROLE sensor_osaka LOGIN IN ROLE fleet_sensor PASSWORD 'osaka-pw';
            INSERT INTO sensors (name, db_role) VALUES ('osaka', 'sensor_osaka');
            CREATE ROLE report_alice LOGIN IN ROLE fleet_report PASSWORD 'alice-pw';
            """)

        var tokyo = try ConnectionSettings(url: server.url("fleet", user: "sensor_tokyo"))
        tokyo.password = "tokyo-pw"
        try await BucketStore.withStore(tokyo) { (store: BucketStore) async throws in
            try await store.checkSchema()
            #expect(try await store.write(sensor: "tokyo", bucket: buckets[0]) == true)
            #expect(try await store.write(sensor: "tokyo", bucket: buckets[0]) == false)
            #expect(try await store.write(sensor: "tokyo", bucket: buckets[1]) == true)
            // The live export's alerts, beside the buckets, under the same rule.
            let alerts = ExportWriteTests.alerts(at: buckets[1].startNs)
            #expect(try await store.write(sensor: "tokyo", bucket: buckets[1], alerts: alerts).bucketIsNew == false)
            await #expect(throws: FleetError.self) { try await store.write(sensor: "osaka", bucket: nil, alerts: alerts) }
            do {
                try await store.write(sensor: "osaka", bucket: buckets[0])
                Issue.record("sensor_tokyo wrote a bucket of sensor osaka")
            } catch let error as FleetError {
                guard case .server(let state, let message) = error else { throw error }
                #expect(state == "42501" && message.contains("row-level security"), "\(message)")
            }
            await #expect(throws: FleetError.sensorNotRegistered(sensor: "unregistered", user: "sensor_tokyo")) {
                try await store.write(sensor: "unregistered", bucket: buckets[0])
            }
        }
        #expect(try server.psql("fleet", "SELECT s.name, count(*) FROM buckets JOIN sensors s USING (sensor_id) GROUP BY s.name") == ["tokyo|2"])
        #expect(try server.psql("fleet", "SELECT s.name, count(*) FROM alerts JOIN sensors s USING (sensor_id) GROUP BY s.name") == ["tokyo|3"])
        #expect(try server.psql("fleet", "SELECT count(*) FROM bucket_ports WHERE sensor_id <> (SELECT sensor_id FROM sensors WHERE name = 'tokyo')") == ["0"])
        // Nor may a sensor role change or remove rows, its own included.
        #expect(throws: PostgresServer.Failure.self) {
            try server.psql("fleet", "DELETE FROM buckets", user: "sensor_tokyo", password: "tokyo-pw")
        }
        #expect(throws: PostgresServer.Failure.self) {
            try server.psql("fleet", "UPDATE buckets SET packets = 0", user: "sensor_tokyo", password: "tokyo-pw")
        }
        // The report role reads every bucket table and writes none.
        #expect(try server.psql("fleet", "SELECT count(*) FROM buckets", user: "report_alice", password: "alice-pw") == ["2"])
        let ports = try server.psql("fleet", "SELECT count(*) FROM bucket_ports", user: "report_alice", password: "alice-pw")
        #expect(ports != ["0"])
        #expect(throws: PostgresServer.Failure.self) {
            try server.psql("fleet", "INSERT INTO sensors (name) VALUES ('x')", user: "report_alice", password: "alice-pw")
        }
        #expect(throws: PostgresServer.Failure.self) {
            try server.psql("fleet", "DELETE FROM bucket_ports", user: "report_alice", password: "alice-pw")
        }
    }
}
