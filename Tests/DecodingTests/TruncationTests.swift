import Testing
import Decoding
import Synth

/// Cuts representative packets at every length and checks the reason given
/// for each cut: never a trap, a named error while a header is incomplete,
/// `ok` once only payload is missing.
@Suite struct TruncationTests {
    struct Case: CustomStringConvertible, Sendable {
        let description: String
        let linkType: LinkType
        let bytes: [UInt8]
        /// Cut lengths below each bound (and at or above the previous one) give the status.
        let boundaries: [(below: Int, status: DecodeStatus)]
    }

    static let cases: [Case] = {
        let syn = Fixture.ipv4SYN(payload: Array("0123456789".utf8))
        let dns = Fixture.ipv6UDP(port: 53, payload: PacketBuilder.dnsQuery(name: "example.com", type: 255, ednsPayloadSize: 4096))
        let quoted = PacketBuilder.ipv4TCP(source: Fixture.darknet, destination: Fixture.scanner, sourcePort: 80, destinationPort: 51000, flags: 0x12)
        let icmpError = PacketBuilder.ipv4ICMP(source: 0x0A00_0001, destination: Fixture.darknet, type: 3, code: 1, payload: quoted)
        let v6Frag = Fixture.ipv6(nextHeader: 0, payload: PacketBuilder.ipv6Extension(nextHeader: 44, payload:
            PacketBuilder.ipv6Fragment(nextHeader: 6, offset: 0, moreFragments: true, identification: 1, payload:
                PacketBuilder.tcp(sourcePort: 1, destinationPort: 22, flags: TCPFlag.syn, payload: [1, 2, 3]))))
        let options = PacketBuilder.ipv4(source: 1, destination: 2, protocolNumber: 17, options: [0x94, 4, 0, 0],
                                         payload: PacketBuilder.udp(sourcePort: 1, destinationPort: 19, payload: [0x41]))
        let icmp6Error = Fixture.ipv6(nextHeader: 58, payload: PacketBuilder.icmp(type: 1, payload: Fixture.ipv6UDP(port: 9)))
        let ah = Fixture.ipv6(nextHeader: 51, payload: PacketBuilder.ipv6AuthenticationHeader(nextHeader: 60, payload:
            PacketBuilder.ipv6Extension(nextHeader: 17, payload: PacketBuilder.udp(sourcePort: 1, destinationPort: 123, payload: PacketBuilder.ntpMode7(requestCode: 42)))))
        let v6NonFirst = Fixture.ipv6(nextHeader: 44, payload: PacketBuilder.ipv6Fragment(nextHeader: 17, offset: 10, moreFragments: false, identification: 2, payload: [UInt8](repeating: 7, count: 30)))
        let v4NonFirst = PacketBuilder.ipv4(source: 1, destination: 2, protocolNumber: 6, fragmentField: 20, payload: [UInt8](repeating: 7, count: 30))
        return [
            Case(description: "Ethernet IPv4 TCP", linkType: .ethernet, bytes: PacketBuilder.ethernetIPv4(syn),
                 boundaries: [(14, .truncatedLink), (34, .truncatedIP), (54, .truncatedL4)]),
            Case(description: "QinQ IPv6 UDP DNS", linkType: .ethernet, bytes: PacketBuilder.ethernetIPv6(dns, vlanTags: [(0x88A8, 1), (0x8100, 2)]),
                 boundaries: [(22, .truncatedLink), (62, .truncatedIP), (70, .truncatedL4)]),
            Case(description: "MPLS IPv4 UDP", linkType: .ethernet,
                 bytes: PacketBuilder.ethernet(etherType: 0x8847, payload: PacketBuilder.mpls(labels: [3, 4], payload: Fixture.ipv4UDP(port: 1900, payload: PacketBuilder.ssdpMSearch()))),
                 boundaries: [(22, .truncatedLink), (42, .truncatedIP), (50, .truncatedL4)]),
            Case(description: "PPPoE IPv4 TCP", linkType: .ethernet,
                 bytes: PacketBuilder.ethernet(etherType: 0x8864, payload: PacketBuilder.pppoeSession(pppProtocol: 0x21, payload: syn)),
                 boundaries: [(22, .truncatedLink), (42, .truncatedIP), (62, .truncatedL4)]),
            Case(description: "SLL ICMP error", linkType: .linuxSLL, bytes: PacketBuilder.linuxSLL(protocolType: 0x0800, payload: icmpError),
                 boundaries: [(16, .truncatedLink), (36, .truncatedIP), (44, .truncatedL4)]),
            Case(description: "SLL2 IPv6 hop-by-hop + fragment TCP", linkType: .linuxSLL2, bytes: PacketBuilder.linuxSLL2(protocolType: 0x86DD, payload: v6Frag),
                 boundaries: [(20, .truncatedLink), (60, .truncatedIP), (76, .truncatedIPv6Extension), (96, .truncatedL4)]),
            Case(description: "NULL IPv4 options UDP", linkType: .null, bytes: PacketBuilder.bsdNull(family: 2, payload: options),
                 boundaries: [(4, .truncatedLink), (28, .truncatedIP), (36, .truncatedL4)]),
            Case(description: "LOOP ICMPv6 error", linkType: .loop, bytes: PacketBuilder.bsdNull(family: 30, littleEndian: false, payload: icmp6Error),
                 boundaries: [(4, .truncatedLink), (44, .truncatedIP), (52, .truncatedL4)]),
            Case(description: "NFLOG IPv4 TCP", linkType: .nflog, bytes: PacketBuilder.nflog(family: 2, payload: syn),
                 boundaries: [(28, .truncatedLink), (48, .truncatedIP), (68, .truncatedL4)]),
            Case(description: "raw IPv4 NTP", linkType: .rawIP, bytes: Fixture.ipv4UDP(port: 123, payload: PacketBuilder.ntpMode7(requestCode: 42)),
                 boundaries: [(20, .truncatedIP), (28, .truncatedL4)]),
            Case(description: "IPV6 AH + destination options UDP", linkType: .ipv6, bytes: ah,
                 boundaries: [(40, .truncatedIP), (72, .truncatedIPv6Extension), (80, .truncatedL4)]),
            Case(description: "IPv6 non-first fragment", linkType: .rawIP, bytes: v6NonFirst,
                 boundaries: [(40, .truncatedIP), (48, .truncatedIPv6Extension)]),
            Case(description: "Ethernet IPv4 non-first fragment", linkType: .ethernet, bytes: PacketBuilder.ethernetIPv4(v4NonFirst),
                 boundaries: [(14, .truncatedLink), (34, .truncatedIP)]),
        ]
    }()

    @Test(arguments: cases)
    func everyCut(_ testCase: Case) {
        let full = testCase.bytes
        let headerEnd = testCase.boundaries.last!.below
        #expect(headerEnd <= full.count)
        for cut in 0...full.count {
            let prefix = Array(full.prefix(cut))
            let record = decode(prefix, testCase.linkType, wireLength: UInt32(full.count))
            #expect(record.capturedLength == UInt32(cut))
            #expect(record.wireLength == UInt32(full.count))
            let expected = testCase.boundaries.first(where: { cut < $0.below })?.status ?? .ok
            #expect(record.status == expected, "cut at \(cut) of \(full.count)")
            if cut < headerEnd {
                #expect(record.status != .ok)
                #expect(!record.status.name.isEmpty)
            }
        }
    }

    @Test func fullPacketsDecode() {
        for testCase in Self.cases {
            #expect(decode(testCase.bytes, testCase.linkType).status == .ok, "\(testCase.description)")
        }
    }
}
