import Foundation
import Testing
@testable import Synth

@Suite struct PcapngWriterTests {
    @Test func sectionHeaderBlockBytes() {
        #expect(Pcapng.sectionHeader() == [
            0x0A, 0x0D, 0x0D, 0x0A,  // block type
            28, 0, 0, 0,  // total length
            0x4D, 0x3C, 0x2B, 0x1A,  // byte-order magic
            1, 0, 0, 0,  // version 1.0
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // section length -1
            28, 0, 0, 0,
        ])
        // A 5-byte option value is padded to 8; then opt_endofopt.
        let withApp = Pcapng.sectionHeader(userApplication: "synth")
        #expect(withApp.count == 28 + 4 + 8 + 4)
        #expect(Array(withApp[24..<40]) == [4, 0, 5, 0] + Array("synth".utf8) + [0, 0, 0] + [0, 0, 0, 0])
        #expect(le32(withApp, 4) == 44 && le32(withApp, 40) == 44)
    }

    @Test func interfaceDescriptionBlockBytes() {
        let microseconds = Pcapng.interfaceDescription(.init(linkType: LinkTypeNumber.ethernet, snaplen: 65535, resolution: .microseconds))
        #expect(microseconds == [
            1, 0, 0, 0, 20, 0, 0, 0,
            1, 0, 0, 0,  // link type, reserved
            0xFF, 0xFF, 0, 0,  // snaplen
            20, 0, 0, 0,
        ])
        let nanoseconds = Pcapng.interfaceDescription(.init(linkType: LinkTypeNumber.linuxSLL2, snaplen: 262_144, resolution: .nanoseconds, name: "eth1"))
        #expect(nanoseconds == [
            1, 0, 0, 0, 40, 0, 0, 0,
            0x14, 0x01, 0, 0,  // 276
            0x00, 0x00, 0x04, 0x00,  // 262144
            2, 0, 4, 0, 0x65, 0x74, 0x68, 0x31,  // if_name "eth1"
            9, 0, 1, 0, 9, 0, 0, 0,  // if_tsresol 9, padded
            0, 0, 0, 0,  // opt_endofopt
            40, 0, 0, 0,
        ])
    }

    @Test(arguments: 0...5)
    func enhancedPacketBlockIsPaddedTo32Bits(_ length: Int) {
        let packet = (0..<length).map { UInt8(0xA0 + $0) }
        let block = Pcapng.enhancedPacket(interfaceID: 1, timestamp: 0x0000_0001_0000_0002, packet: packet, originalLength: 1514)
        let padded = (length + 3) / 4 * 4
        #expect(block.count == 32 + padded)
        #expect(block.count == Pcapng.enhancedPacketLength(capturedLength: length))
        #expect(le32(block, 0) == 6)
        #expect(le32(block, 4) == UInt32(block.count))
        #expect(le32(block, 8) == 1)  // interface
        #expect(le32(block, 12) == 1 && le32(block, 16) == 2)  // timestamp high, low
        #expect(le32(block, 20) == UInt32(length) && le32(block, 24) == 1514)
        #expect(Array(block[28..<(28 + length)]) == packet)
        #expect(block[(28 + length)..<(28 + padded)].allSatisfy { $0 == 0 })
        #expect(le32(block, block.count - 4) == UInt32(block.count))
    }

    @Test func fileWithTwoInterfacesMatchesTheBlockBuilders() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = directory.path("two.pcapng")
        let first = Pcapng.Interface(linkType: LinkTypeNumber.ethernet, snaplen: 262_144, resolution: .nanoseconds, name: "eth0")
        let second = Pcapng.Interface(linkType: LinkTypeNumber.ethernet, snaplen: 1500, resolution: .microseconds)
        let writer = try PcapngFileWriter(path: path, interfaces: [first], bufferSize: 4096)
        try writer.write(packet: [1, 2, 3], timestampNs: 1_700_000_000_123_456_789)
        #expect(try writer.addInterface(second) == 1)
        try writer.write(packet: [4, 5, 6, 7, 8], timestampNs: 1_700_000_000_123_456_789, originalLength: 64, interfaceID: 1)
        #expect(throws: CaptureFileError.self) { try writer.write(packet: [0], timestampNs: 0, interfaceID: 2) }
        try writer.close()

        let expected = Pcapng.sectionHeader()
            + Pcapng.interfaceDescription(first)
            + Pcapng.enhancedPacket(interfaceID: 0, timestamp: 1_700_000_000_123_456_789, packet: [1, 2, 3])
            + Pcapng.interfaceDescription(second)
            + Pcapng.enhancedPacket(interfaceID: 1, timestamp: 1_700_000_000_123_456, packet: [4, 5, 6, 7, 8], originalLength: 64)
        let bytes = try readFile(path)
        #expect(bytes == expected)

        // Walk the blocks: every block is 32-bit aligned and carries its length twice.
        var offset = 0
        var types: [UInt32] = []
        while offset < bytes.count {
            let length = Int(le32(bytes, offset + 4))
            #expect(length % 4 == 0 && length >= 12)
            #expect(le32(bytes, offset + length - 4) == UInt32(length))
            types.append(le32(bytes, offset))
            offset += length
        }
        #expect(offset == bytes.count)
        #expect(types == [0x0A0D_0D0A, 1, 6, 1, 6])
    }

    @Test(.enabled(if: tcpdumpPath != nil, "tcpdump not installed"))
    func tcpdumpReadsMultiInterfaceFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = directory.path("generated.pcapng")
        let writer = try PcapngFileWriter(path: path, interfaces: [.init(name: "darknet0"), .init(resolution: .microseconds, name: "darknet1")],
                                          userApplication: "darknet-sensor tests")
        var config = DarknetTrafficConfig()
        config.packetCount = 600
        var traffic = DarknetTraffic(config: config)
        var index: UInt32 = 0
        while let packet = traffic.next() {
            try writer.write(packet: packet.bytes, timestampNs: packet.timestampNs, interfaceID: index % 2)
            index += 1
        }
        try writer.close()
        let result = try runTcpdump(["-r", path, "-nn", "-tt"])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.lines.count == 600)
        // Both interfaces' timestamps decode to 2024-01-01 despite their different resolutions.
        #expect(result.lines.allSatisfy { $0.hasPrefix("1704067200.") })
    }
}
