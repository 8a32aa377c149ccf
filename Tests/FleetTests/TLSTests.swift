import Foundation
import TestSupport
import Testing
@testable import Fleet

/// sslmode=require and verify-full against a real PostgreSQL serving TLS with a
/// self-signed certificate for localhost: verification accepts it only with
/// that certificate as the trusted root, and the session is encrypted.
@Suite(.enabled(if: PostgresServer.unavailableReason == nil && Executables.system("openssl") != nil,
                Comment(rawValue: PostgresServer.unavailableReason ?? "no openssl to make the test certificate")))
struct TLSTests {
    @Test func verifyFullChecksTheCertificateAndTheSessionIsEncrypted() async throws {
        let server = try PostgresServer.start(tls: true)
        defer { server.stop() }
        try server.createDatabase("fleet")
        let encryptedSessions = "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE s.ssl AND a.datname = 'fleet'"

        // verify-full with the server's certificate as the root: connects, migrates, over TLS.
        var verified = try ConnectionSettings(url: server.url("fleet", host: "localhost") + "?sslmode=verify-full&sslrootcert=\(server.certificateFile)")
        verified.password = server.password
        try await BucketStore.withStore(verified) { (store: BucketStore) async throws in
            #expect(try await store.migrate() == Migrations.all.map(\.version))
            #expect(try server.psql("fleet", encryptedSessions) == ["1"])
        }

        // verify-full with the system's roots: the self-signed certificate is refused.
        var untrusted = try ConnectionSettings(url: server.url("fleet", host: "localhost") + "?sslmode=verify-full")
        untrusted.password = server.password
        do {
            try await BucketStore.withStore(untrusted) { _ in }
            Issue.record("a self-signed certificate passed verification against the system's roots")
        } catch let error as FleetError {
            guard case .tls(let endpoint, _) = error else {
                Issue.record("expected .tls, got \(error)")
                return
            }
            #expect(endpoint == "localhost:\(server.port)")
        }

        // require: encrypted without verification.
        var required = try ConnectionSettings(url: server.url("fleet") + "?sslmode=require")
        required.password = server.password
        try await BucketStore.withStore(required) { (store: BucketStore) async throws in
            try await store.checkSchema()
            #expect(try server.psql("fleet", encryptedSessions) == ["1"])
        }
    }
}
