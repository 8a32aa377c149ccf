import Foundation
import TestSupport
import Testing
@testable import Fleet

/// `BackfillWriter`, what `analyze --db` writes through: its counts, the
/// failure that stops it when the server goes away, and a second run that
/// writes only what the first did not.
@Suite(.enabled(if: PostgresServer.unavailableReason == nil, Comment(rawValue: PostgresServer.unavailableReason ?? "")))
struct BackfillWriterTests {
    @Test func aFailureStopsTheWritingAndASecondRunWritesTheRest() throws {
        let buckets = try BucketStoreTests.generatedBuckets(packets: 8000, seconds: 360, seed: 21)
        #expect(buckets.count >= 6)
        let server = try PostgresServer.start()
        defer { server.stop() }
        try server.createDatabase("fleet")
        var url = try ConnectionSettings(url: server.url("fleet"))
        url.password = server.password
        let settings = url

        // Not migrated: refused before anything is read.
        #expect(throws: FleetError.schemaNotMigrated(applied: 0, required: Migrations.latestVersion)) {
            let writer = try BackfillWriter(settings: settings, sensor: "s1")
            writer.close()
        }
        _ = try waitFor { try await BucketStore.withStore(settings) { try await $0.migrate() } }

        let first = try BackfillWriter(settings: settings, sensor: "s1")
        let half = buckets.count / 2
        for bucket in buckets.prefix(half) { first.write(bucket) }
        #expect(first.written == half && first.alreadyStored == 0 && first.failure == nil)
        #expect(first.writeSeconds > 0)
        server.stopProcess()
        for bucket in buckets.dropFirst(half) { first.write(bucket) }
        first.close()
        let failure = try #require(first.failure)
        guard case .unreachable = failure else {
            Issue.record("expected .unreachable, got \(failure)")
            return
        }
        #expect(first.written == half, "nothing is counted after the failure")

        try server.restart()
        let second = try BackfillWriter(settings: settings, sensor: "s1")
        for bucket in buckets { second.write(bucket) }
        second.close()
        #expect(second.failure == nil)
        #expect(second.written == buckets.count - half && second.alreadyStored == half)
        #expect(try server.psql("fleet", "SELECT count(*) FROM buckets") == ["\(buckets.count)"])
    }

    @Test func theCommandLineAsksForBothDatabaseAndSensor() throws {
        let capture = "/nonexistent.pcap"
        let noSensor = try Subprocess.run(Executables.darknetd, ["analyze", "--pcap", capture, "--db", "postgres://u@127.0.0.1/fleet"])
        #expect(noSensor.status != 0 && noSensor.stderr.contains("--db needs --sensor NAME"), "\(noSensor.stderr)")
        let noDB = try Subprocess.run(Executables.darknetd, ["analyze", "--pcap", capture, "--sensor", "tokyo"])
        #expect(noDB.status != 0 && noDB.stderr.contains("--sensor needs --db"), "\(noDB.stderr)")
        let secret = try Subprocess.run(Executables.darknetd, ["db", "migrate", "--db", "postgres://u:hunter2@127.0.0.1/fleet"])
        #expect(secret.status == 1 && secret.stderr.contains("the URL contains a password"), "\(secret.stderr)")
        #expect(!secret.output.contains("hunter2"))
        let noURL = try Subprocess.run(Executables.darknetd, ["db", "migrate"])
        #expect(noURL.status != 0 && noURL.stderr.contains("give the database with --db"), "\(noURL.stderr)")
    }
}
