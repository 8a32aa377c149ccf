import Aggregation
import Alerts
import Decoding
import Foundation
import TestSupport
import Testing
@testable import Fleet

/// `BucketStore.write(sensor:bucket:alerts:)`, the live export's write: a bucket
/// and its alerts in one transaction, stored once however often written.
@Suite(.serialized, .enabled(if: PostgresServer.unavailableReason == nil,
                             Comment(rawValue: PostgresServer.unavailableReason ?? "")))
struct ExportWriteTests {
    static func alerts(at ns: Int64) -> [Alert] {
        [Alert(rule: .dnsOpenResolverSurge, severity: .warning, timeNs: ns, key: "udp/53", ipProtocol: IPProtocolNumber.udp, port: 53,
               metric: "scan_packets", observed: 600, baseline: 20, deviation: 12.5,
               topSources: [SourceContribution(address: IPAddress("192.0.2.7")!, packets: 90)], message: "udp/53: 600 scan packets"),
         Alert(rule: .backscatterDoS, severity: .critical, timeNs: ns - 86_400_000_000_000, key: "203.0.113.9",
               address: IPAddress("203.0.113.9"), metric: "estimated_attack_pps", observed: 1e6, message: "DoS on 203.0.113.9"),
         // No protocol, port or address: the rate-limit summary.
         Alert(rule: .alertRateLimited, severity: .notice, timeNs: ns, key: "rate-limit", metric: "suppressed_alerts", observed: 4,
               suppressed: 4, message: "4 alerts suppressed")]
    }

    @Test func aBucketAndItsAlertsAreStoredOnceInOneTransaction() async throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        try server.createDatabase("fleet")
        var settings = try ConnectionSettings(url: server.url("fleet"))
        settings.password = server.password
        let buckets = try BucketStoreTests.generatedBuckets(packets: 600, seconds: 180)
        let bucket = try #require(buckets.first)
        let alerts = Self.alerts(at: bucket.startNs)
        try await BucketStore.withStore(settings) { store in
            try await store.migrate()
            let first = try await store.write(sensor: "tokyo", bucket: bucket, alerts: alerts)
            #expect(first == BucketStore.WriteOutcome(bucketIsNew: true, alerts: 3))
            // Again (a restart after the commit, before the spool entry was deleted): nothing new.
            let second = try await store.write(sensor: "tokyo", bucket: bucket, alerts: alerts)
            #expect(second.bucketIsNew == false)
            // Alerts alone (raised after the last bucket, at a stop).
            let alone = try await store.write(sensor: "tokyo", bucket: nil, alerts: [alerts[2]])
            #expect(alone == BucketStore.WriteOutcome(bucketIsNew: nil, alerts: 1))
        }
        #expect(try server.psql("fleet", "SELECT count(*) FROM buckets") == ["1"])
        let rows = try server.psql("fleet", """
            SELECT rule, alert_key, severity, coalesce(protocol::text, '-'), coalesce(port::text, '-'), coalesce(host(address), '-'),
                   body->>'rule', (body->>'time_ns')::bigint = (extract(epoch FROM alert_time) * 1e6)::bigint * 1000
            FROM alerts ORDER BY alert_time, rule
            """)
        #expect(rows == ["backscatter-dos|203.0.113.9|critical|-|-|203.0.113.9|backscatter-dos|t",
                         "alert-rate-limited|rate-limit|notice|-|-|-|alert-rate-limited|t",
                         "dns-open-resolver-surge|udp/53|warning|17|53|-|dns-open-resolver-surge|t"], "\(rows)")
        // The alert a day before the bucket got its own day's partition.
        let partitions = try server.psql("fleet", "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE 'alerts\\_2%'")
        #expect(partitions == ["2"])
        // The body is the JSON-lines sink's object.
        let body = try server.psql("fleet", "SELECT body->'top_sources'->0->>'address' FROM alerts WHERE rule = 'dns-open-resolver-surge'")
        #expect(body == ["192.0.2.7"])
    }
}
