import Foundation
import Testing
@testable import Aggregation
@testable import Daemon
import Sketches

@Suite struct HashKeyFileTests {
    func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hashkey-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func madeOnceThenReused() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try HashKeyFile.loadOrCreate(directory: dir)
        guard case .created(let key) = first else { Issue.record("expected a new key, got \(first)"); return }
        #expect(key != AggregationConfig().hashSeed)
        let path = dir + "/hash.key"
        let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == key.description + "\n")
        #expect(try HashKeyFile.loadOrCreate(directory: dir) == .loaded(key))
        // No temporary file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["hash.key"])
    }

    @Test func twoDirectoriesGetDifferentKeys() throws {
        let a = try temporaryDirectory(), b = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: a); try? FileManager.default.removeItem(atPath: b) }
        #expect(try HashKeyFile.loadOrCreate(directory: a).key != HashKeyFile.loadOrCreate(directory: b).key)
    }

    @Test func aDamagedKeyFileIsRefusedNotReplaced() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "not a key\n".write(toFile: dir + "/hash.key", atomically: true, encoding: .utf8)
        #expect(throws: SnapshotError.self) { try HashKeyFile.loadOrCreate(directory: dir) }
        #expect(try String(contentsOfFile: dir + "/hash.key", encoding: .utf8) == "not a key\n")
    }

    @Test func keyIDsTellKeysApart() {
        let a = SeededHash(seed0: 1, seed1: 2), b = SeededHash(seed0: 1, seed1: 3)
        #expect(a.keyID != b.keyID)
        #expect(a.keyID == SeededHash(seed0: 1, seed1: 2).keyID)
    }
}
