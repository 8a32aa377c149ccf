import Foundation
import Testing
import Decoding
@testable import Synth

@Suite struct PcapWriterTests {
    @Test func nanosecondFileHasExactHeaders() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = directory.path("ns.pcap")
        let writer = try PcapFileWriter(path: path, linkType: LinkTypeNumber.ethernet, snaplen: 65535, precision: .nanoseconds)
        try writer.write(packet: [0xAA, 0xBB, 0xCC], timestampNs: 1_700_000_000_123_456_789)
        try writer.write(packet: [0x01], timestampNs: 1_700_000_001_000_000_001, originalLength: 60)
        try writer.close()
        #expect(writer.packetCount == 2)

        let bytes = try readFile(path)
        #expect(bytes.count == 24 + 16 + 3 + 16 + 1)
        #expect(Array(bytes[0..<24]) == [
            0x4D, 0x3C, 0xB2, 0xA1,  // magic 0xa1b23c4d, little-endian
            0x02, 0x00, 0x04, 0x00,  // version 2.4
            0, 0, 0, 0, 0, 0, 0, 0,  // thiszone, sigfigs
            0xFF, 0xFF, 0x00, 0x00,  // snaplen 65535
            0x01, 0x00, 0x00, 0x00,  // LINKTYPE_ETHERNET
        ])
        // 1700000000 = 0x6553F100; 123456789 = 0x075BCD15
        #expect(Array(bytes[24..<43]) == [
            0x00, 0xF1, 0x53, 0x65, 0x15, 0xCD, 0x5B, 0x07,
            0x03, 0, 0, 0, 0x03, 0, 0, 0,
            0xAA, 0xBB, 0xCC,
        ])
        #expect(le32(bytes, 43) == 1_700_000_001)
        #expect(le32(bytes, 47) == 1)
        #expect(le32(bytes, 51) == 1)  // caplen
        #expect(le32(bytes, 55) == 60)  // len
        #expect(bytes[59] == 0x01)
    }

    @Test func microsecondFileTruncatesTimestamps() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = directory.path("us.pcap")
        let writer = try PcapFileWriter(path: path, linkType: LinkTypeNumber.linuxSLL, snaplen: 262_144, precision: .microseconds)
        try writer.write(packet: [1, 2], timestampNs: 5_999_999_999)
        try writer.close()
        let bytes = try readFile(path)
        #expect(Array(bytes[0..<8]) == [0xD4, 0xC3, 0xB2, 0xA1, 0x02, 0x00, 0x04, 0x00])
        #expect(le32(bytes, 16) == 262_144)
        #expect(le32(bytes, 20) == 113)
        #expect(le32(bytes, 24) == 5)
        #expect(le32(bytes, 28) == 999_999)
    }

    @Test func bufferBoundariesDoNotLoseOrReorderBytes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = directory.path("small-buffer.pcap")
        // A tiny buffer forces flushes mid-stream and direct writes of big packets.
        let writer = try PcapFileWriter(path: path, bufferSize: 4096)
        var expected: [[UInt8]] = []
        for index in 0..<500 {
            let packet = (0..<(index * 37 % 9000)).map { UInt8(truncatingIfNeeded: $0 &+ index) }
            expected.append(packet)
            try writer.write(packet: packet, timestampNs: Int64(index) * 1000)
        }
        try writer.close()
        let bytes = try readFile(path)
        var offset = 24
        for (index, packet) in expected.enumerated() {
            let caplen = Int(le32(bytes, offset + 8))
            #expect(caplen == packet.count)
            #expect(le32(bytes, offset + 4) == UInt32(index * 1000))
            #expect(Array(bytes[(offset + 16)..<(offset + 16 + caplen)]) == packet)
            offset += 16 + caplen
        }
        #expect(offset == bytes.count)
    }

    @Test func errorsNameThePath() throws {
        let path = "/nonexistent-dir-\(UInt32.random(in: 0...UInt32.max))/x.pcap"
        #expect {
            _ = try PcapFileWriter(path: path)
        } throws: { error in
            "\(error)".contains(path) && (error as? CaptureFileError)?.operation == "open"
        }

        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let good = directory.path("closed.pcap")
        let writer = try PcapFileWriter(path: good)
        try writer.close()
        try writer.close()  // idempotent
        #expect(throws: CaptureFileError.self) { try writer.write(packet: [0], timestampNs: 0) }
        let fresh = try PcapFileWriter(path: directory.path("bad-length.pcap"))
        #expect(throws: CaptureFileError.self) { try fresh.write(packet: [0, 1], timestampNs: 0, originalLength: 1) }
        #expect(throws: CaptureFileError.self) { try fresh.write(packet: [0], timestampNs: -1) }
    }

    @Test(.enabled(if: tcpdumpPath != nil, "tcpdump not installed"))
    func tcpdumpReadsGeneratedCapture() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = directory.path("generated.pcap")
        var config = DarknetTrafficConfig()
        config.packetCount = 1000
        config.seed = 42
        var traffic = DarknetTraffic(config: config)
        let writer = try PcapFileWriter(path: path)
        #expect(try traffic.write(to: writer) == 1000)
        try writer.close()

        let result = try runTcpdump(["-r", path, "-nn", "-tt"])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.lines.count == 1000)
        // -tt prints seconds.microseconds since the epoch; the generator starts at 2024-01-01T00:00:00Z.
        #expect(result.lines.first?.hasPrefix("1704067200.") == true)
        #expect(result.error.contains("link-type EN10MB"))
    }
}
