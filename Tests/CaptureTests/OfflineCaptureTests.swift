import Aggregation
import Capture
import Decoding
import Foundation
import Pipeline
import Synth
import Testing

/// A temporary directory removed when the value goes away.
final class TemporaryDirectory {
    let url: URL
    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("darknet-tests-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Reads files through the real pipeline (libpcap → decoder → ring → consumer).
func analyze(_ paths: [String], ringCapacity: Int = 1 << 16) throws -> (PacketCounters, Pipeline.Run) {
    let source = try PacketSource.openFiles(paths)
    var counters = PacketCounters()
    var pipeline = Pipeline()
    pipeline.ringCapacity = ringCapacity
    let run = pipeline.run(source: source, consumer: &counters)
    return (counters, run)
}

/// Records in arrival order, for order checks.
struct RecordLog: RecordConsumer {
    var timestamps: [Int64] = []
    var destinationPorts: [UInt16] = []
    mutating func consume(_ records: Span<PacketRecord>) {
        for i in records.indices {
            timestamps.append(records[i].timestampNs)
            destinationPorts.append(records[i].destinationPort)
        }
    }
}

@Suite struct OfflineCaptureTests {
    let base: Int64 = 1_412_640_000_000_000_000  // 2014-10-07T00:00:00Z

    func syn(port: UInt16) -> [UInt8] {
        PacketBuilder.ethernetIPv4(PacketBuilder.ipv4TCP(source: 0xC633_6401, destination: 0xC612_0001, sourcePort: 40000,
                                                         destinationPort: port, flags: TCPFlag.syn))
    }

    @Test func pcapWithNanosecondTimestampsRoundTrips() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("a.pcap")
        let writer = try PcapFileWriter(path: path, precision: .nanoseconds)
        for i in 0..<1000 {
            try writer.write(packet: syn(port: UInt16(i % 100)), timestampNs: base + Int64(i) * 1_000_000 + 123)
        }
        try writer.close()
        let source = try PacketSource.openFiles([path])
        var log = RecordLog()
        let run = Pipeline().run(source: source, consumer: &log)
        #expect(log.timestamps.count == 1000)
        #expect(log.timestamps.first == base + 123)
        #expect(log.timestamps.last == base + 999 * 1_000_000 + 123)
        #expect(run.ring == .init(captured: 1000, consumed: 1000, ringDropped: 0, inFlight: 0))
        #expect(run.sources.first?.linkType == "EN10MB")
        #expect(run.sources.first?.error == nil)
    }

    @Test func microsecondPcapIsScaledToNanoseconds() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("micro.pcap")
        let writer = try PcapFileWriter(path: path, precision: .microseconds)
        try writer.write(packet: syn(port: 1), timestampNs: base + 5_000)
        try writer.close()
        let source = try PacketSource.openFiles([path])
        var log = RecordLog()
        _ = Pipeline().run(source: source, consumer: &log)
        #expect(log.timestamps == [base + 5_000])
    }

    @Test func pcapngWithTwoInterfacesIsRead() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("b.pcapng")
        let writer = try PcapngFileWriter(path: path, interfaces: [
            Pcapng.Interface(linkType: LinkTypeNumber.ethernet, snaplen: 65535, resolution: .nanoseconds),
            Pcapng.Interface(linkType: LinkTypeNumber.ethernet, snaplen: 65535, resolution: .microseconds),
        ])
        for i in 0..<10 {
            try writer.write(packet: syn(port: UInt16(i)), timestampNs: base + Int64(i) * 1000, interfaceID: UInt32(i % 2))
        }
        try writer.close()
        let (counters, run) = try analyze([path])
        #expect(counters.total == 10)
        #expect(counters.decoded == 10)
        #expect(counters.tcp == 10)
        #expect(run.sources.first?.packets == 10)
    }

    @Test func filesAreMergedInTimestampOrder() throws {
        let dir = TemporaryDirectory()
        var paths: [String] = []
        // Three files with interleaved times: file k holds times k, k+3, k+6, ...
        for k in 0..<3 {
            let path = dir.path("part\(k).pcap")
            let writer = try PcapFileWriter(path: path)
            for i in stride(from: k, to: 300, by: 3) {
                try writer.write(packet: syn(port: UInt16(i)), timestampNs: base + Int64(i) * 1_000)
            }
            try writer.close()
            paths.append(path)
        }
        let source = try PacketSource.openFiles(paths.reversed())
        var log = RecordLog()
        let run = Pipeline().run(source: source, consumer: &log)
        #expect(log.timestamps == (0..<300).map { base + Int64($0) * 1_000 })
        #expect(log.destinationPorts == (0..<300).map { UInt16($0) })
        #expect(run.sources.map(\.packets) == [100, 100, 100])
    }

    @Test func smallRingStillLosesNothingOffline() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("c.pcap")
        let writer = try PcapFileWriter(path: path)
        for i in 0..<20_000 { try writer.write(packet: syn(port: UInt16(i % 65535)), timestampNs: base + Int64(i)) }
        try writer.close()
        let (counters, run) = try analyze([path], ringCapacity: 16)
        #expect(counters.total == 20_000)
        #expect(run.ring == .init(captured: 20_000, consumed: 20_000, ringDropped: 0, inFlight: 0))
    }

    @Test func missingFileAndNonCaptureAreTypedErrors() throws {
        let dir = TemporaryDirectory()
        #expect(throws: PcapError.self) { try PacketSource.openFiles([dir.path("absent.pcap")]) }
        do {
            _ = try PacketSource.openFiles([dir.path("absent.pcap")])
        } catch {
            #expect(error.kind == .fileNotFound)
        }
        let text = dir.path("notes.txt")
        try Data("this is not a capture\n".utf8).write(to: URL(fileURLWithPath: text))
        do {
            _ = try PacketSource.openFiles([text])
            Issue.record("a text file opened as a capture")
        } catch {
            #expect(error.kind == .notACapture)
            #expect(error.description.contains("not a pcap or pcapng capture"))
        }
        do {
            _ = try PacketSource.openFiles([dir.url.path])
            Issue.record("a directory opened as a capture")
        } catch {
            #expect(error.kind == .fileNotFound)
        }
    }

    @Test func unsupportedLinkTypeIsNamed() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("usb.pcap")
        let writer = try PcapFileWriter(path: path, linkType: 189)  // LINKTYPE_USB_LINUX
        try writer.write(packet: [1, 2, 3, 4], timestampNs: base)
        try writer.close()
        do {
            _ = try PacketSource.openFiles([path])
            Issue.record("USB capture accepted")
        } catch {
            guard case .unsupportedLinkType(let dlt, let name) = error.kind else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(dlt == 189)
            #expect(name == "USB_LINUX")
            #expect(error.description.contains("unsupported link type USB_LINUX"))
        }
    }

    @Test func truncatedFileKeepsWhatWasReadAndSaysWhy() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("cut.pcap")
        let writer = try PcapFileWriter(path: path)
        for i in 0..<10 { try writer.write(packet: syn(port: UInt16(i)), timestampNs: base + Int64(i)) }
        try writer.close()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes.removeLast(20)  // cut inside the last record
        try bytes.write(to: URL(fileURLWithPath: path))
        let (counters, run) = try analyze([path])
        #expect(counters.total == 9)
        #expect(run.sources.first?.packets == 9)
        let error = try #require(run.sources.first?.error)
        #expect(error.contains("truncated"), "\(error)")
    }

    @Test func kernelCountersWidenAcrossWraparound() {
        var widener = KernelCounterWidener()
        widener.update(received: 4_294_967_000, dropped: 10, interfaceDropped: 0)
        widener.update(received: 200, dropped: 12, interfaceDropped: 1)  // received wrapped
        #expect(widener.totals.received == 4_294_967_000 + 496)
        #expect(widener.totals.dropped == 12)
        #expect(widener.totals.interfaceDropped == 1)
        widener.update(received: 300, dropped: 12, interfaceDropped: 1)
        #expect(widener.totals.received == 4_294_967_596)
    }
}
