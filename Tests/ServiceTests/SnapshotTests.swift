import Foundation
import Testing
@testable import Daemon

/// A payload with the kinds of fields the aggregator's state has.
struct SampleState: Codable, Equatable {
    var bucket: Int64
    var counters: [UInt64]
    var sources: [String: UInt32]
    var rate: Double
    var note: String?
}

let sample = SampleState(bucket: 1_700_000_040, counters: [1, 2, UInt64.max, 0], sources: ["192.0.2.1": 7, "2001:db8::1": 9],
                         rate: 0.25, note: "first")

/// A fresh state directory removed when the value goes away.
final class StateDirectory {
    let path: String
    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("svc-snapshot-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func store(version: UInt32 = 1) -> SnapshotStore<SampleState> {
        SnapshotStore(directory: path, name: "aggregator.snapshot", payloadVersion: version)
    }
    var files: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

func bytes(of path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
func write(_ bytes: [UInt8], to path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

func isRejected<P>(_ result: SnapshotLoadResult<P>) -> SnapshotRejection? {
    if case .rejected(let reason) = result { return reason }
    return nil
}

@Suite struct SnapshotTests {
    @Test func crc32cCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    @Test func roundTrip() throws {
        let dir = StateDirectory()
        let store = dir.store()
        #expect(store.load() == .missing)
        try store.save(sample)
        #expect(store.load() == .restored(sample))
        var next = sample
        next.counters.append(42)
        next.note = nil
        try store.save(next)
        #expect(store.load() == .restored(next))
        #expect(dir.files == ["aggregator.snapshot"])
        let raw = try bytes(of: store.path)
        #expect(Array(raw.prefix(8)) == Array("DKNSNAP\n".utf8))
        var status = stat()
        #expect(stat(store.path, &status) == 0 && status.st_mode & 0o777 == 0o600)
    }

    @Test func nonFiniteDoublesSurvive() throws {
        let dir = StateDirectory()
        var state = sample
        state.rate = .infinity
        try dir.store().save(state)
        #expect(dir.store().load() == .restored(state))
    }

    @Test func everyTruncationIsRejected() throws {
        let dir = StateDirectory()
        let store = dir.store()
        try store.save(sample)
        let whole = try bytes(of: store.path)
        #expect(whole.count > 100)
        for length in 0..<whole.count {
            let result = store.decode(Array(whole.prefix(length)))
            guard let reason = isRejected(result) else {
                Issue.record("prefix of \(length) bytes was not rejected: \(result)")
                continue
            }
            #expect(reason == .truncated(bytes: length), "length \(length): \(reason)")
        }
        // Through the file system too, for a sample of lengths.
        for length in stride(from: 0, to: whole.count, by: 7) {
            try write(Array(whole.prefix(length)), to: store.path)
            #expect(isRejected(store.load()) != nil, "length \(length)")
        }
    }

    @Test func everyFlippedByteIsRejected() throws {
        let dir = StateDirectory()
        let store = dir.store()
        try store.save(sample)
        let whole = try bytes(of: store.path)
        for index in whole.indices {
            for mask: UInt8 in [0x01, 0x80] {
                var damaged = whole
                damaged[index] ^= mask
                #expect(isRejected(store.decode(damaged)) != nil, "byte \(index) ^ \(mask) accepted")
            }
        }
        // A flipped payload byte is a checksum mismatch, named as such.
        var damaged = whole
        damaged[SnapshotStore<SampleState>.headerSize + 3] ^= 0x10
        try write(damaged, to: store.path)
        guard case .rejected(.checksumMismatch) = store.load() else {
            Issue.record("not a checksum mismatch")
            return
        }
    }

    @Test func trailingBytesAreRejected() throws {
        let dir = StateDirectory()
        let store = dir.store()
        try store.save(sample)
        try write(try bytes(of: store.path) + [0], to: store.path)
        #expect(isRejected(store.load()) == .trailingBytes(bytes: try bytes(of: store.path).count))
    }

    @Test func wrongVersions() throws {
        let dir = StateDirectory()
        try dir.store(version: 1).save(sample)
        #expect(isRejected(dir.store(version: 2).load()) == .wrongPayloadVersion(found: 1, expected: 2))
        // A format this build does not know, with a valid checksum.
        var raw = try bytes(of: dir.store().path)
        raw[11] = 2
        let end = raw.count - 4
        raw.replaceSubrange(end..., with: withUnsafeBytes(of: CRC32C.checksum(raw[0..<end]).bigEndian, Array.init))
        try write(raw, to: dir.store().path)
        #expect(isRejected(dir.store().load()) == .unsupportedFormat(found: 2, supported: 1))
    }

    @Test func garbageIsRejected() throws {
        let dir = StateDirectory()
        let store = dir.store()
        var generator = SystemRandomNumberGenerator()
        for size in [1, 7, 8, 27, 28, 100, 4096] {
            let garbage = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            try write(garbage, to: store.path)
            #expect(isRejected(store.load()) != nil)
        }
        // Garbage after a valid header, framed with a valid checksum: undecodable.
        let framed = SnapshotStore<SampleState>.frame(payload: Data("not a plist".utf8), payloadVersion: 1)
        try write(framed, to: store.path)
        guard case .rejected(.undecodable) = store.load() else {
            Issue.record("garbage payload not reported undecodable")
            return
        }
        // A valid plist of another type: undecodable too.
        let other = SnapshotStore<[String]>(directory: dir.path, name: "aggregator.snapshot", payloadVersion: 1)
        try other.save(["a", "b"])
        guard case .rejected(.undecodable) = store.load() else {
            Issue.record("a snapshot of another type was not rejected")
            return
        }
        // A directory where the file should be.
        try FileManager.default.removeItem(atPath: store.path)
        try FileManager.default.createDirectory(atPath: store.path, withIntermediateDirectories: false)
        #expect(isRejected(store.load()) != nil)
    }

    @Test func oversizedFileIsRejectedUnread() throws {
        let dir = StateDirectory()
        let small = SnapshotStore<SampleState>(directory: dir.path, name: "aggregator.snapshot", payloadVersion: 1, maxBytes: 64)
        try small.save(sample)
        guard case .rejected(.tooLarge) = small.load() else {
            Issue.record("an oversized snapshot was read")
            return
        }
    }

    /// `kill -9` while a save was writing: the temporary file is left half
    /// written next to the last good snapshot.
    @Test func interruptedWriteKeepsThePreviousSnapshot() throws {
        let dir = StateDirectory()
        let store = dir.store()
        try store.save(sample)
        var newer = sample
        newer.bucket += 60
        let full = SnapshotStore<SampleState>.frame(
            payload: try { let e = PropertyListEncoder(); e.outputFormat = .binary; return try e.encode(newer) }(),
            payloadVersion: 1)
        let leftover = dir.path + "/.aggregator.snapshot.tmp.99999.12345"
        try write(Array(full.prefix(full.count / 2)), to: leftover)
        #expect(store.load() == .restored(sample))
        #expect(dir.files.count == 2)
        try store.save(newer)
        #expect(store.load() == .restored(newer))
        #expect(dir.files == ["aggregator.snapshot"])
    }

    @Test func saveIntoMissingDirectoryThrows() {
        let store = SnapshotStore<SampleState>(directory: "/nonexistent/darknetd-test", name: "s", payloadVersion: 1)
        #expect(throws: SnapshotError.self) { try store.save(sample) }
        #expect(store.load() == .missing)
    }
}
