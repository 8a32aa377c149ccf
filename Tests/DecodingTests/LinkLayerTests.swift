import Testing
import Decoding
import Synth

@Suite struct LinkTypeTests {
    @Test(arguments: [(Int32(1), LinkType.ethernet), (113, .linuxSLL), (276, .linuxSLL2), (12, .rawIP), (14, .rawIP),
                      (101, .rawIP), (228, .ipv4), (229, .ipv6), (0, .null), (108, .loop), (239, .nflog)])
    func knownDLTs(_ dlt: Int32, _ expected: LinkType) {
        #expect(LinkType(dlt: dlt) == expected)
    }

    @Test(arguments: [Int32(-1), 6, 9, 50, 105, 127, 147, 192, 1000])
    func unknownDLTs(_ dlt: Int32) {
        #expect(LinkType(dlt: dlt) == nil)
    }

    @Test func canonicalValuesRoundTrip() {
        for type in LinkType.allCases {
            #expect(LinkType(dlt: type.dlt) == type)
            #expect(!type.name.isEmpty)
        }
    }
}

@Suite struct LinkLayerTests {
    func expectSYN(_ record: PacketRecord, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(record.status == .ok, sourceLocation: sourceLocation)
        #expect(record.ipVersion == 4, sourceLocation: sourceLocation)
        #expect(record.source == IPAddress(ipv4: Fixture.scanner), sourceLocation: sourceLocation)
        #expect(record.destination == IPAddress(ipv4: Fixture.darknet), sourceLocation: sourceLocation)
        #expect(record.destinationPort == 23, sourceLocation: sourceLocation)
        #expect(record.flags.contains(.hasTCP), sourceLocation: sourceLocation)
    }

    @Test func ethernetIPv4() {
        let frame = PacketBuilder.ethernetIPv4(Fixture.ipv4SYN())
        let record = decode(frame, .ethernet, wireLength: 60, timestampNs: 42)
        expectSYN(record)
        #expect(record.wireLength == 60)
        #expect(record.capturedLength == UInt32(frame.count))
        #expect(record.timestampNs == 42)
        #expect(!record.flags.contains(.vlanTagged))
    }

    @Test func ethernetIPv6() {
        let record = decode(PacketBuilder.ethernetIPv6(Fixture.ipv6SYN()))
        #expect(record.status == .ok)
        #expect(record.ipVersion == 6)
        #expect(record.source == Fixture.scanner6)
        #expect(record.destinationPort == 22)
    }

    @Test func ethernetNonIP() {
        let arp = PacketBuilder.ethernet(etherType: 0x0806, payload: [UInt8](repeating: 0, count: 28))
        #expect(decode(arp).status == .nonIP)
        let lengthField = PacketBuilder.ethernet(etherType: 0x0040, payload: [UInt8](repeating: 0, count: 64))
        #expect(decode(lengthField).status == .nonIP)
    }

    @Test func ethertypeAndVersionDisagree() {
        let frame = PacketBuilder.ethernet(etherType: 0x0800, payload: Fixture.ipv6SYN())
        #expect(decode(frame).status == .badIPVersion)
        let frame6 = PacketBuilder.ethernet(etherType: 0x86DD, payload: Fixture.ipv4SYN())
        #expect(decode(frame6).status == .badIPVersion)
    }

    @Test func singleVLAN() {
        let record = decode(PacketBuilder.ethernetIPv4(Fixture.ipv4SYN(), vlanTags: [(0x8100, 0x6000 | 100)]))
        expectSYN(record)
        #expect(record.flags.contains(.vlanTagged))
        #expect(record.vlanID == 100)
    }

    @Test func qinqRecordsOuterVLAN() {
        let record = decode(PacketBuilder.ethernetIPv6(Fixture.ipv6SYN(), vlanTags: [(0x88A8, 300), (0x8100, 200)]))
        #expect(record.status == .ok)
        #expect(record.ipVersion == 6)
        #expect(record.vlanID == 300)
        #expect(record.flags.contains(.vlanTagged))
    }

    @Test func legacyQinQTPID() {
        let record = decode(PacketBuilder.ethernetIPv4(Fixture.ipv4SYN(), vlanTags: [(0x9100, 4095), (0x8100, 1)]))
        expectSYN(record)
        #expect(record.vlanID == 4095)
    }

    @Test func fourTagsDecodeFiveAreNonIP() {
        let four: [(tpid: UInt16, tci: UInt16)] = [(0x88A8, 10), (0x8100, 11), (0x8100, 12), (0x8100, 13)]
        let record = decode(PacketBuilder.ethernetIPv4(Fixture.ipv4SYN(), vlanTags: four))
        expectSYN(record)
        #expect(record.vlanID == 10)
        let five = four + [(tpid: 0x8100, tci: 14)]
        #expect(decode(PacketBuilder.ethernetIPv4(Fixture.ipv4SYN(), vlanTags: five)).status == .nonIP)
    }

    @Test func vlanCarryingARP() {
        let frame = PacketBuilder.ethernet(vlanTags: [(0x8100, 5)], etherType: 0x0806, payload: [UInt8](repeating: 0, count: 28))
        let record = decode(frame)
        #expect(record.status == .nonIP)
        #expect(record.vlanID == 5)
    }

    @Test func mplsSingleAndStackedLabels() {
        let one = PacketBuilder.ethernet(etherType: 0x8847, payload: PacketBuilder.mpls(labels: [100], payload: Fixture.ipv4SYN()))
        expectSYN(decode(one))
        let three = PacketBuilder.ethernet(etherType: 0x8847, payload: PacketBuilder.mpls(labels: [16, 17, 18], payload: Fixture.ipv6SYN()))
        let record = decode(three)
        #expect(record.status == .ok)
        #expect(record.ipVersion == 6)
        let eight = PacketBuilder.ethernet(etherType: 0x8847, payload: PacketBuilder.mpls(labels: Array(1...8), payload: Fixture.ipv4SYN()))
        expectSYN(decode(eight))
    }

    @Test func mplsWithoutBottomOrNonIPPayload() {
        let nine = PacketBuilder.ethernet(etherType: 0x8847, payload: PacketBuilder.mpls(labels: Array(1...9), payload: Fixture.ipv4SYN()))
        #expect(decode(nine).status == .nonIP)
        // Pseudowire control word (first nibble 0) then Ethernet.
        let pw = PacketBuilder.ethernet(etherType: 0x8847, payload: PacketBuilder.mpls(labels: [20], payload: [0, 0, 0, 0] + PacketBuilder.ethernetIPv4(Fixture.ipv4SYN())))
        #expect(decode(pw).status == .nonIP)
        let cut = PacketBuilder.ethernet(etherType: 0x8847, payload: [0, 1, 0])
        #expect(decode(cut).status == .truncatedLink)
    }

    @Test func mplsBehindVLAN() {
        let frame = PacketBuilder.ethernet(vlanTags: [(0x8100, 7)], etherType: 0x8847, payload: PacketBuilder.mpls(labels: [1, 2], payload: Fixture.ipv4SYN()))
        let record = decode(frame)
        expectSYN(record)
        #expect(record.vlanID == 7)
    }

    @Test func pppoeSession() {
        let v4 = PacketBuilder.ethernet(etherType: 0x8864, payload: PacketBuilder.pppoeSession(pppProtocol: 0x0021, payload: Fixture.ipv4SYN()))
        expectSYN(decode(v4))
        let v6 = PacketBuilder.ethernet(etherType: 0x8864, payload: PacketBuilder.pppoeSession(pppProtocol: 0x0057, payload: Fixture.ipv6SYN()))
        #expect(decode(v6).ipVersion == 6)
        let lcp = PacketBuilder.ethernet(etherType: 0x8864, payload: PacketBuilder.pppoeSession(pppProtocol: 0xC021, payload: [1, 1, 0, 4]))
        #expect(decode(lcp).status == .nonIP)
    }

    @Test func linuxSLL() {
        expectSYN(decode(PacketBuilder.linuxSLL(protocolType: 0x0800, payload: Fixture.ipv4SYN()), .linuxSLL))
        #expect(decode(PacketBuilder.linuxSLL(protocolType: 0x86DD, payload: Fixture.ipv6SYN()), .linuxSLL).ipVersion == 6)
        #expect(decode(PacketBuilder.linuxSLL(protocolType: 0x0806, payload: [0, 1]), .linuxSLL).status == .nonIP)
        #expect(decode(Array(PacketBuilder.linuxSLL(protocolType: 0x0800, payload: []).prefix(15)), .linuxSLL).status == .truncatedLink)
    }

    @Test func linuxSLL2() {
        expectSYN(decode(PacketBuilder.linuxSLL2(protocolType: 0x0800, payload: Fixture.ipv4SYN()), .linuxSLL2))
        #expect(decode(PacketBuilder.linuxSLL2(protocolType: 0x86DD, payload: Fixture.ipv6SYN()), .linuxSLL2).ipVersion == 6)
        #expect(decode(PacketBuilder.linuxSLL2(protocolType: 0x88CC, payload: [0, 1]), .linuxSLL2).status == .nonIP)
        #expect(decode(Array(PacketBuilder.linuxSLL2(protocolType: 0x0800, payload: []).prefix(19)), .linuxSLL2).status == .truncatedLink)
    }

    @Test func rawIP() {
        expectSYN(decode(Fixture.ipv4SYN(), .rawIP))
        #expect(decode(Fixture.ipv6SYN(), .rawIP).ipVersion == 6)
        var bogus = Fixture.ipv4SYN()
        bogus[0] = 0x55
        #expect(decode(bogus, .rawIP).status == .badIPVersion)
        #expect(decode([], .rawIP).status == .truncatedIP)
    }

    @Test func ipv4AndIPv6LinkTypes() {
        expectSYN(decode(Fixture.ipv4SYN(), .ipv4))
        #expect(decode(Fixture.ipv6SYN(), .ipv6).ipVersion == 6)
        #expect(decode(Fixture.ipv6SYN(), .ipv4).status == .badIPVersion)
        #expect(decode(Fixture.ipv4SYN(), .ipv6).status == .badIPVersion)
    }

    @Test(arguments: [true, false])
    func bsdNullEitherByteOrder(_ littleEndian: Bool) {
        expectSYN(decode(PacketBuilder.bsdNull(family: 2, littleEndian: littleEndian, payload: Fixture.ipv4SYN()), .null))
        for family: UInt32 in [10, 24, 28, 30] {
            let record = decode(PacketBuilder.bsdNull(family: family, littleEndian: littleEndian, payload: Fixture.ipv6SYN()), .null)
            #expect(record.status == .ok)
            #expect(record.ipVersion == 6)
        }
        #expect(decode(PacketBuilder.bsdNull(family: 7, littleEndian: littleEndian, payload: Fixture.ipv4SYN()), .null).status == .nonIP)
        #expect(decode(PacketBuilder.bsdNull(family: 2, littleEndian: littleEndian, payload: Fixture.ipv6SYN()), .null).status == .badIPVersion)
    }

    @Test func loopIsNetworkOrder() {
        expectSYN(decode(PacketBuilder.bsdNull(family: 2, littleEndian: false, payload: Fixture.ipv4SYN()), .loop))
        #expect(decode(PacketBuilder.bsdNull(family: 24, littleEndian: false, payload: Fixture.ipv6SYN()), .loop).ipVersion == 6)
        #expect(decode(PacketBuilder.bsdNull(family: 2, littleEndian: true, payload: Fixture.ipv4SYN()), .loop).status == .nonIP)
        #expect(decode([0, 0, 0], .loop).status == .truncatedLink)
    }

    @Test func nflog() {
        expectSYN(decode(PacketBuilder.nflog(family: 2, payload: Fixture.ipv4SYN()), .nflog))
        let v6 = decode(PacketBuilder.nflog(family: 10, prefix: nil, payload: Fixture.ipv6SYN()), .nflog)
        #expect(v6.status == .ok)
        #expect(v6.ipVersion == 6)
        // Family AF_INET but an IPv6 packet.
        #expect(decode(PacketBuilder.nflog(family: 2, payload: Fixture.ipv6SYN()), .nflog).status == .badIPVersion)
        // AF_UNSPEC: the version nibble decides.
        #expect(decode(PacketBuilder.nflog(family: 0, payload: Fixture.ipv6SYN()), .nflog).ipVersion == 6)
    }

    @Test func nflogPayloadPaddedAndOddLength() {
        // A 41-byte IPv4 packet: the payload TLV is padded by 3 bytes.
        let packet = Fixture.ipv4UDP(port: 19, payload: [0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D])
        let record = decode(PacketBuilder.nflog(family: 2, payload: packet), .nflog)
        #expect(record.status == .ok)
        #expect(record.probe == .chargen)
    }

    @Test func nflogMalformedTLVs() {
        // TLV length below 4.
        var bad = PacketBuilder.nflog(family: 2, payload: Fixture.ipv4SYN())
        bad[4] = 2
        bad[5] = 0
        #expect(decode(bad, .nflog).status == .truncatedLink)
        // TLV length zero (would loop forever without the check).
        bad[4] = 0
        #expect(decode(bad, .nflog).status == .truncatedLink)
        // A non-payload TLV longer than the capture.
        var long = PacketBuilder.nflog(family: 2, payload: Fixture.ipv4SYN())
        long[4] = 0xFF
        long[5] = 0xFF
        #expect(decode(long, .nflog).status == .truncatedLink)
        // No payload TLV at all.
        let noPayload = [2, 0, 0, 0] + PacketBuilder.nflogTLV(type: 10, value: Array("x\0".utf8))
        #expect(decode(noPayload, .nflog).status == .nonIP)
        #expect(decode(noPayload, .nflog, wireLength: 200).status == .truncatedLink)
        #expect(decode([2, 0, 0], .nflog).status == .truncatedLink)
    }

    @Test func nflogPayloadCutBySnapLength() {
        let full = PacketBuilder.nflog(family: 2, payload: Fixture.ipv4SYN(payload: [UInt8](repeating: 0x61, count: 100)))
        let cut = Array(full.prefix(full.count - 50))
        let record = decode(cut, .nflog, wireLength: UInt32(full.count))
        #expect(record.status == .ok)
        #expect(record.payloadLength == 100)
    }
}
