import Testing
import Decoding
@testable import Synth

@Suite struct ProtocolBuildersTests {
    @Test func mplsSetsBottomOfStackOnLastLabel() {
        let bytes = PacketBuilder.mpls(labels: [16, 0xFFFFF], ttl: 5, payload: [0x45])
        #expect(bytes == [0x00, 0x01, 0x00, 0x05, 0xFF, 0xFF, 0xF1, 0x05, 0x45])
    }

    @Test func nflogTLVIsPaddedLittleEndian() {
        #expect(PacketBuilder.nflogTLV(type: 9, value: [1, 2, 3, 4, 5]) == [9, 0, 9, 0, 1, 2, 3, 4, 5, 0, 0, 0])
        let record = PacketBuilder.nflog(family: 2, prefix: nil, payload: [0x45])
        #expect(record == [2, 0, 0, 0, 8, 0, 1, 0, 0x08, 0x00, 1, 0, 5, 0, 9, 0, 0x45, 0, 0, 0])
    }

    @Test func dnsQueryLayout() {
        let query = PacketBuilder.dnsQuery(id: 0xABCD, name: "a.bc", type: 255, ednsPayloadSize: 4096)
        #expect(Array(query.prefix(12)) == [0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1])
        #expect(Array(query[12..<23]) == [1, 0x61, 2, 0x62, 0x63, 0, 0, 255, 0, 1, 0])
        #expect(Array(query[23..<27]) == [0, 41, 0x10, 0x00])
    }

    @Test func berLengthForms() {
        #expect(PacketBuilder.ber(0x04, [1, 2]) == [0x04, 2, 1, 2])
        #expect(PacketBuilder.ber(0x04, [9], longForm: true) == [0x04, 0x84, 0, 0, 0, 1, 9])
        #expect(Array(PacketBuilder.ber(0x30, [UInt8](repeating: 0, count: 200)).prefix(3)) == [0x30, 0x81, 200])
        #expect(Array(PacketBuilder.ber(0x30, [UInt8](repeating: 0, count: 300)).prefix(4)) == [0x30, 0x82, 0x01, 0x2C])
    }

    @Test func authenticationHeaderLength() {
        let ah = PacketBuilder.ipv6AuthenticationHeader(nextHeader: 17, payload: [])
        #expect(ah.count == 24)
        #expect(ah[1] == 4)  // (24 / 4) - 2
    }

    @Test func pppoeLengthCoversPPPProtocol() {
        let bytes = PacketBuilder.pppoeSession(sessionID: 0x1234, pppProtocol: 0x0021, payload: [1, 2, 3])
        #expect(bytes == [0x11, 0x00, 0x12, 0x34, 0x00, 0x05, 0x00, 0x21, 1, 2, 3])
    }
}
