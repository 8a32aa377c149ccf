import Testing
import Decoding
@testable import Synth

@Suite struct PacketBuilderTests {
    @Test func ipv4HeaderChecksumMatchesRFC1071Example() {
        // Header of a well-known example datagram (checksum 0xB861).
        let packet = PacketBuilder.ipv4(source: 0xC0A8_0001, destination: 0xC0A8_00C7, protocolNumber: 17,
                                        ttl: 64, identification: 0, fragmentField: 0x4000,
                                        payload: [UInt8](repeating: 0, count: 0x73 - 20))
        #expect(Array(packet.prefix(12)) == [0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xB8, 0x61])
        // A header including its checksum sums to zero.
        #expect(PacketBuilder.internetChecksum(packet[0..<20]) == 0)
    }

    @Test func udpChecksumVerifies() {
        let packet = PacketBuilder.ipv4UDP(source: 0xC633_6401, destination: 0xCB00_7102, sourcePort: 40000, destinationPort: 53, payload: Array("hello".utf8))
        let udp = packet[20...]
        var pseudo: UInt32 = 0xC633 + 0x6401 + 0xCB00 + 0x7102 + 17 + UInt32(udp.count)
        pseudo = (pseudo & 0xFFFF) + (pseudo >> 16)
        #expect(PacketBuilder.internetChecksum(udp, initial: pseudo) == 0)
    }
}
