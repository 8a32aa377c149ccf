import Foundation
import NIOCore
import Sketches
import TestSupport
import Testing
@testable import Fleet

/// The parts of Fleet that need no server: the `--db` URL, the password's
/// sources, the registers' byte format, the migrations' numbering, and the
/// error for an address where nothing listens.
@Suite struct FleetSettingsTests {
    @Test func parsesTheURL() throws {
        let plain = try ConnectionSettings(url: "postgres://sensor1@db.example.org/fleet")
        #expect(plain.host == "db.example.org" && plain.port == 5432 && plain.user == "sensor1" && plain.database == "fleet")
        #expect(plain.tlsMode == .disable && plain.password == nil)
        let full = try ConnectionSettings(url: "postgresql://s%40x@[2001:db8::1]:6543/fleet_db?sslmode=verify-full&sslrootcert=/etc/ca.pem")
        #expect(full.host == "2001:db8::1" && full.port == 6543 && full.user == "s@x" && full.database == "fleet_db")
        #expect(full.tlsMode == .verifyFull && full.rootCertificateFile == "/etc/ca.pem")
        #expect(full.endpoint == "[2001:db8::1]:6543")
        #expect(try ConnectionSettings(url: "postgres://u@h:1/d?sslmode=require").tlsMode == .require)
    }

    @Test func rejectsAPasswordInTheURLAndBadURLs() {
        #expect(throws: FleetError.passwordInURL) { try ConnectionSettings(url: "postgres://sensor1:secret@db/fleet") }
        #expect(throws: FleetError.passwordInURL) { try ConnectionSettings(url: "postgres://sensor1@db/fleet?password=secret") }
        #expect(FleetError.passwordInURL.description.contains("--db-password-file"))
        for bad in ["mysql://u@h/d", "postgres://h/d", "postgres://u@h", "postgres://u@h:0/d", "postgres://u@h:99999/d",
                    "postgres://u@h/d?sslmode=prefer", "postgres://u@h/d?sslrootcert=/ca.pem", "postgres://u@h/d?application_name=x",
                    "postgres://u@/d"] {
            #expect(throws: FleetError.self, "\(bad)") { try ConnectionSettings(url: bad) }
        }
    }

    @Test func redactedURLNeverHoldsThePassword() throws {
        var settings = try ConnectionSettings(url: "postgres://sensor1@db:5433/fleet?sslmode=require")
        settings.password = "hunter2-secret"
        #expect(settings.redactedURL == "postgres://sensor1@db:5433/fleet?sslmode=require")
        #expect(!FleetError.authenticationFailed(user: "sensor1", endpoint: settings.endpoint, detail: "x").description.contains("hunter2"))
    }

    @Test func readsThePasswordFromAFileOrTheSystemdCredential() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-pw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("pw").path
        try "s3cret\nignored\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try PasswordSource.read(file: file, environment: [:]) == "s3cret")
        // The credential is read when no file is named, and the named file wins over it.
        let credentials = dir.appendingPathComponent("creds")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        try "from-credential".write(toFile: credentials.appendingPathComponent("db-password").path, atomically: true, encoding: .utf8)
        #expect(try PasswordSource.read(file: nil, environment: ["CREDENTIALS_DIRECTORY": credentials.path]) == "from-credential")
        #expect(try PasswordSource.read(file: file, environment: ["CREDENTIALS_DIRECTORY": credentials.path]) == "s3cret")
        #expect(try PasswordSource.read(file: nil, environment: [:]) == nil)
        #expect(try PasswordSource.read(file: nil, environment: ["CREDENTIALS_DIRECTORY": dir.path]) == nil)
        let empty = dir.appendingPathComponent("empty").path
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        #expect(throws: FleetError.passwordFile(path: empty, reason: "the file is empty")) { try PasswordSource.read(file: empty, environment: [:]) }
        #expect(throws: FleetError.self) { try PasswordSource.read(file: dir.appendingPathComponent("missing").path, environment: [:]) }
    }

    @Test func registersRoundTripThroughTheirByteFormat() throws {
        var sketch = HyperLogLog(precision: 12)
        let hasher = SeededHash(seed0: 1, seed1: 2)
        for i in 0..<5000 { sketch.insert(hash: hasher.hash(UInt64(i), 7)) }
        let bytes = HLLFormat.encode(sketch)
        #expect(bytes.readableBytes == 2 + 4096)
        #expect(bytes.getInteger(at: 0, as: UInt8.self) == 1 && bytes.getInteger(at: 1, as: UInt8.self) == 12)
        #expect(HLLFormat.decode(bytes) == sketch)
        var wrongVersion = bytes
        wrongVersion.setInteger(UInt8(2), at: 0)
        #expect(HLLFormat.decode(wrongVersion) == nil)
        #expect(HLLFormat.decode(bytes.getSlice(at: 0, length: 100)!) == nil)
    }

    @Test func migrationsAreNumberedOneByOneAndPartitionEveryBucketTable() {
        #expect(Migrations.all.map(\.version) == Array(1...Migrations.all.count))
        #expect(Migrations.latestVersion == Migrations.all.count)
        let first = Migrations.all[0].statements.joined(separator: "\n")
        for table in Migrations.bucketTables {
            #expect(first.contains("CREATE TABLE \(table) ("), "\(table)")
        }
        #expect(first.components(separatedBy: "PARTITION BY RANGE (bucket_start)").count - 1 == Migrations.bucketTables.count)
    }

    /// Nothing listens on the port: a connection error that names the address, not a crash or a hang.
    @Test func anUnreachablePortIsAClearConnectionError() async throws {
        let port = try PostgresServer.freePort()
        var settings = try ConnectionSettings(url: "postgres://sensor1@127.0.0.1:\(port)/fleet")
        settings.password = "x"
        do {
            let store = try await BucketStore.connect(settings)
            await store.close()
            Issue.record("connected to a port where nothing listens")
        } catch {
            guard case .unreachable(let endpoint, let detail) = error else {
                Issue.record("expected .unreachable, got \(error)")
                return
            }
            #expect(endpoint == "127.0.0.1:\(port)")
            #expect(detail.lowercased().contains("refused"), "\(detail)")
            #expect(error.description.hasPrefix("cannot reach the database at 127.0.0.1:\(port)"))
        }
    }
}
