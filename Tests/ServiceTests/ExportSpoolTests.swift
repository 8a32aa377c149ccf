@testable import Aggregation
import Alerts
import Decoding
import Foundation
import Sketches
import Testing
@testable import Daemon

/// The live export's spool on its own, without a database: durable appends
/// read back in order after a reopen, the bound, damaged and half-written
/// files (docs/fleet.md, "Live export").
@Suite struct ExportSpoolTests {
    static func tempDir() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("darknetd-spool-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A bucket with `packets` UDP packets from distinct sources, starting at second `second`.
    static func bucket(second: Int64, packets: Int) -> BucketSummary {
        var counters = PacketCounters()
        var sources = HyperLogLog(precision: 12)
        let hash = SeededHash(seed0: 1, seed1: 2)
        for i in 0..<packets {
            var r = PacketRecord()
            r.status = .ok
            r.ipVersion = 4
            r.ipProtocol = IPProtocolNumber.udp
            r.timestampNs = second * 1_000_000_000
            counters.add(r)
            sources.insert(hash: hash.hash(IPAddress(ipv4: UInt32(0x0A00_0000 + i))))
        }
        var classes = ClassCounts()
        classes.add(.other, UInt64(packets))
        return BucketSummary(startNs: second * 1_000_000_000, lengthNs: 1_000_000_000, counters: counters, classes: classes,
                             sources: sources, ports: [], portCount: 0, countries: [], watchedTopSources: [:], newScans: [], newAttacks: [])
    }

    static func alert(second: Int64) -> Alert {
        Alert(rule: .portSurge, severity: .warning, timeNs: second * 1_000_000_000, key: "udp/53", ipProtocol: IPProtocolNumber.udp,
              port: 53, metric: "scan_packets", observed: 120, baseline: 3, deviation: 9.5, message: "udp/53 surge")
    }

    func entries(_ spool: ExportSpool) -> [SpoolEntry] {
        var out: [SpoolEntry] = []
        while let read = spool.oldest() {
            guard case .entry(let sequence, let entry) = read else { continue }
            out.append(entry)
            spool.remove(sequence)
        }
        return out
    }

    @Test func appendedEntriesComeBackInOrderAfterAReopen() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let written = (0..<5).map { i in
            SpoolEntry(bucket: Self.bucket(second: 100 + Int64(i), packets: 10 + i), alerts: i == 2 ? [Self.alert(second: 102)] : [])
        } + [SpoolEntry(bucket: nil, alerts: [Self.alert(second: 106)])]
        do {
            let spool = try ExportSpool(directory: dir + "/spool", maxBytes: 1 << 30)
            for entry in written { try spool.append(entry) }
            #expect(spool.counters.appended == 6 && spool.counters.backlog == 6)
            #expect(spool.counters.lastAppendSeconds > 0)
        }
        // A new process: the files alone carry the entries, in order.
        let reopened = try ExportSpool(directory: dir + "/spool", maxBytes: 1 << 30)
        #expect(reopened.counters.recovered == 6)
        #expect(reopened.counters.backlogBytes > 6 * 5000, "the registers alone are 5.5 kB a bucket")
        let read = entries(reopened)
        #expect(read == written)
        #expect(reopened.counters.committed == 6 && reopened.counters.backlog == 0 && reopened.counters.backlogBytes == 0)
        // Numbering goes on after the highest number present, so the order holds across restarts.
        let fresh = try ExportSpool(directory: dir + "/next", maxBytes: 1 << 30)
        try fresh.append(written[0])
        try fresh.append(written[1])
        let again = try ExportSpool(directory: dir + "/next", maxBytes: 1 << 30)
        let (next, _) = try again.append(written[2])
        #expect(next == 3)
        #expect(entries(again) == Array(written.prefix(3)))
    }

    @Test func anEntryReleasedAfterAFailureStaysFirst() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spool = try ExportSpool(directory: dir, maxBytes: 1 << 30)
        try spool.append(SpoolEntry(bucket: Self.bucket(second: 1, packets: 1), alerts: []))
        try spool.append(SpoolEntry(bucket: Self.bucket(second: 2, packets: 2), alerts: []))
        guard case .entry(let first, _) = spool.oldest() else { Issue.record("no entry"); return }
        spool.release(first)
        guard case .entry(let again, let entry) = spool.oldest() else { Issue.record("no entry"); return }
        #expect(again == first && entry.bucket?.startNs == 1_000_000_000)
    }

    @Test func aFullSpoolDropsTheOldestAndCountsThem() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let probe = try ExportSpool(directory: dir + "/probe", maxBytes: 1 << 30)
        try probe.append(SpoolEntry(bucket: Self.bucket(second: 0, packets: 5), alerts: []))
        let entryBytes = probe.counters.backlogBytes
        // Room for three entries of that size.
        let spool = try ExportSpool(directory: dir + "/spool", maxBytes: entryBytes * 3 + entryBytes / 2)
        var dropped = 0
        for i in 0..<10 {
            dropped += try spool.append(SpoolEntry(bucket: Self.bucket(second: Int64(i), packets: 5), alerts: [])).dropped
        }
        let counters = spool.counters
        #expect(counters.backlog == 3 && dropped == 7 && counters.dropped == 7)
        #expect(counters.backlogBytes <= spool.maxBytes)
        #expect(counters.appended == counters.dropped + UInt64(counters.backlog))
        // The newest three are kept, oldest first.
        #expect(entries(spool).map { $0.bucket!.startNs / 1_000_000_000 } == [7, 8, 9])
        // The entry being written to the database is never dropped, and the newest stays even alone over the bound.
        let tiny = try ExportSpool(directory: dir + "/tiny", maxBytes: 1024)
        try tiny.append(SpoolEntry(bucket: Self.bucket(second: 1, packets: 5), alerts: []))
        guard case .entry(let inFlight, _) = tiny.oldest() else { Issue.record("no entry"); return }
        try tiny.append(SpoolEntry(bucket: Self.bucket(second: 2, packets: 5), alerts: []))
        #expect(tiny.sequences == [inFlight, inFlight + 1], "in flight and newest both kept")
        #expect(tiny.counters.dropped == 0)
        tiny.release(inFlight)
        #expect(tiny.sequences == [inFlight + 1], "released: now over the bound, dropped")
        #expect(tiny.counters.dropped == 1)
    }

    @Test func damagedAndHalfWrittenFilesAreSetAsideNotFatal() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/spool"
        do {
            let spool = try ExportSpool(directory: path, maxBytes: 1 << 30)
            for i in 0..<3 { try spool.append(SpoolEntry(bucket: Self.bucket(second: Int64(i), packets: 3), alerts: [])) }
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".entry") }.sorted()
        #expect(names.count == 3)
        // The first entry truncated (a disk that lost its tail), one byte of the second flipped,
        // and a temporary file a crash left in the middle of a write.
        let first = path + "/" + names[0], second = path + "/" + names[1]
        let bytes = try Data(contentsOf: URL(fileURLWithPath: first))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: first))
        var flipped = try Data(contentsOf: URL(fileURLWithPath: second))
        flipped[flipped.count / 2] ^= 0xFF
        try flipped.write(to: URL(fileURLWithPath: second))
        try Data("half an entry".utf8).write(to: URL(fileURLWithPath: path + "/.tmp.4.123.99"))

        let spool = try ExportSpool(directory: path, maxBytes: 1 << 30)
        #expect(spool.counters.incompleteRemoved == 1)
        #expect(spool.counters.recovered == 3)
        var reasons: [String] = []
        var good: [SpoolEntry] = []
        while let read = spool.oldest() {
            switch read {
            case .corrupt(_, let reason): reasons.append(reason)
            case .entry(let sequence, let entry):
                good.append(entry)
                spool.remove(sequence)
            }
        }
        #expect(reasons.count == 2)
        #expect(reasons.first?.contains("truncated") ?? false, "\(reasons)")
        #expect(reasons.last?.contains("checksum") ?? false, "\(reasons)")
        #expect(good.map { $0.bucket!.startNs } == [2_000_000_000])
        #expect(spool.counters.corrupt == 2)
        let aside = try FileManager.default.contentsOfDirectory(atPath: spool.corruptDirectory).sorted()
        #expect(aside == [names[0], names[1]])
        #expect(!FileManager.default.fileExists(atPath: path + "/.tmp.4.123.99"))
        let c = spool.counters
        #expect(c.recovered + c.appended == c.committed + c.dropped + c.corrupt + c.rejected + UInt64(c.backlog))
    }

    @Test func anUnwritableSpoolIsAnErrorNotACrash() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A file where the directory should be.
        FileManager.default.createFile(atPath: dir + "/spool", contents: Data())
        #expect(throws: ExportSpool.Failure.self) { try ExportSpool(directory: dir + "/spool", maxBytes: 1 << 20) }
        // A directory that disappears under a running spool: the append fails, counted.
        let spool = try ExportSpool(directory: dir + "/gone", maxBytes: 1 << 20)
        try FileManager.default.removeItem(atPath: dir + "/gone")
        #expect(throws: ExportSpool.Failure.self) { try spool.append(SpoolEntry(bucket: Self.bucket(second: 1, packets: 1), alerts: [])) }
        #expect(spool.counters.appendFailures == 1 && spool.counters.backlog == 0)
    }
}
