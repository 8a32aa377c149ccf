import Foundation
import TestSupport
import Testing
@testable import Fleet

/// The backfill as an operator runs it: `darknetd db migrate`, then
/// `darknetd analyze --pcap … --db URL --sensor NAME`, against a real
/// PostgreSQL (`PostgresServer`); skipped only where its binaries are absent.
@Suite(.enabled(if: PostgresServer.unavailableReason == nil, Comment(rawValue: PostgresServer.unavailableReason ?? "")))
struct BackfillTests {
    /// `darknetd db migrate` then `darknetd analyze --db`: the database holds exactly the
    /// per-bucket totals and per-port packets that `analyze --format json` reports for the same file.
    @Test func backfillStoresWhatAnalyzeReports() throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        try server.createDatabase("fleet")
        let dir = try BucketStoreTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let capture = dir.appendingPathComponent("gen.pcap").path
        let generated = try Subprocess.run(Executables.darknetd, ["generate", "--out", capture, "--packets", "30000", "--rate", "50", "--seed", "11"])
        #expect(generated.status == 0, "\(generated.stderr)")
        let db = ["--db", server.url("fleet"), "--db-password-file", server.passwordFile]

        // Before the migration, the backfill refuses with the command to run.
        let early = try Subprocess.run(Executables.darknetd, ["analyze", "--pcap", capture, "--sensor", "tokyo"] + db)
        #expect(early.status == 1 && early.stderr.contains("run darknetd db migrate"), "\(early.stderr)")

        let migrate = try Subprocess.run(Executables.darknetd, ["db", "migrate"] + db)
        #expect(migrate.status == 0 && migrate.stdout.contains("applied 1"), "\(migrate.output)")
        let analyzed = try Subprocess.run(Executables.darknetd, ["analyze", "--pcap", capture, "--format", "json"])
        #expect(analyzed.status == 0, "\(analyzed.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(analyzed.stdout.utf8)) as? [String: Any])
        let series = try #require(report["series"] as? [String: Any])
        let jsonBuckets = try #require(series["buckets"] as? [[String: Any]])
        #expect(jsonBuckets.count >= 10)

        let backfill = try Subprocess.run(Executables.darknetd, ["analyze", "--pcap", capture, "--sensor", "tokyo", "--format", "json"] + db)
        #expect(backfill.status == 0, "\(backfill.stderr)")
        #expect(backfill.stderr.contains("db: \(jsonBuckets.count) buckets written, 0 already there"), "\(backfill.stderr)")
        #expect(backfill.stdout == analyzed.stdout, "the report is the same with or without --db")

        let rows = try server.psql("fleet", """
            SELECT to_char(bucket_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS'), packets, bytes, decoded, tcp, udp, icmp, icmpv6,
                ports_with_packets, class_scan, class_backscatter, class_reflection_recon, class_misconfiguration, class_other
            FROM buckets b JOIN sensors s USING (sensor_id) WHERE s.name = 'tokyo' ORDER BY bucket_start
            """)
        #expect(rows.count == jsonBuckets.count)
        let protocolNumbers = ["icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58]
        var portsCompared = 0
        for (row, bucket) in zip(rows, jsonBuckets) {
            let start = try #require(bucket["start"] as? String)
            let classes = try #require(bucket["classes"] as? [String: Int])
            let expected = [String(start.prefix(19))] + ["packets", "bytes", "decoded", "tcp", "udp", "icmp", "icmpv6", "port_count"].map {
                "\(bucket[$0] as? Int ?? -1)"
            } + ["scan", "backscatter", "reflection-recon", "misconfiguration", "other"].map { "\(classes[$0] ?? -1)" }
            #expect(row.split(separator: "|").map(String.init) == expected)
            let ports = try #require(bucket["ports"] as? [[String: Any]])
            let stored = try server.psql("fleet", """
                SELECT protocol, port, packets FROM bucket_ports
                WHERE sensor_id = (SELECT sensor_id FROM sensors WHERE name = 'tokyo')
                    AND bucket_start = '\(start.prefix(19))+00'::timestamptz
                """)
            var storedPackets: [String: String] = [:]
            for line in stored {
                let f = line.split(separator: "|")
                storedPackets["\(f[0])/\(f[1])"] = String(f[2])
            }
            for port in ports {
                let proto = try #require(protocolNumbers[port["proto"] as? String ?? ""])
                #expect(storedPackets["\(proto)/\(port["port"] as? Int ?? -1)"] == "\(port["packets"] as? Int ?? -1)", "\(start) \(port)")
                portsCompared += 1
            }
        }
        #expect(portsCompared > 100)

        // The same capture again: every bucket is already there, nothing is duplicated.
        let again = try Subprocess.run(Executables.darknetd, ["analyze", "--pcap", capture, "--sensor", "tokyo"] + db)
        #expect(again.status == 0 && again.stderr.contains("db: 0 buckets written, \(jsonBuckets.count) already there"), "\(again.stderr)")
        #expect(try server.psql("fleet", "SELECT count(*) FROM buckets") == ["\(jsonBuckets.count)"])
        // Sharded aggregation closes the same buckets: all already there too.
        let sharded = try Subprocess.run(Executables.darknetd, ["analyze", "--pcap", capture, "--sensor", "tokyo", "--threads", "2"] + db)
        #expect(sharded.status == 0 && sharded.stderr.contains("db: 0 buckets written, \(jsonBuckets.count) already there"), "\(sharded.stderr)")
    }
}
