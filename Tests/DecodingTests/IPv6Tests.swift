import Testing
import Decoding
import Synth

@Suite struct IPv6Tests {
    let udp = PacketBuilder.udp(sourcePort: 40000, destinationPort: 123, payload: PacketBuilder.ntpMode7(requestCode: 42))

    func expectUDP(_ record: PacketRecord, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(record.status == .ok, sourceLocation: sourceLocation)
        #expect(record.ipVersion == 6, sourceLocation: sourceLocation)
        #expect(record.ipProtocol == IPProtocolNumber.udp, sourceLocation: sourceLocation)
        #expect(record.destinationPort == 123, sourceLocation: sourceLocation)
        #expect(record.probe == .ntpMonlist, sourceLocation: sourceLocation)
    }

    @Test func headerFields() {
        let record = decode(Fixture.ipv6SYN(), .rawIP)
        #expect(record.status == .ok)
        #expect(record.ttl == 57)
        #expect(record.source == Fixture.scanner6)
        #expect(record.destination == Fixture.darknet6)
        #expect(record.ipProtocol == IPProtocolNumber.tcp)
        #expect(record.tcpSequence == 7)
        #expect(record.ipID == 0)
    }

    @Test(arguments: [UInt8(0), 43, 60])
    func genericExtensionHeader(_ header: UInt8) {
        let packet = Fixture.ipv6(nextHeader: header, payload: PacketBuilder.ipv6Extension(nextHeader: 17, lengthUnits: 1, payload: udp))
        expectUDP(decode(packet, .rawIP))
    }

    @Test func authenticationHeader() {
        let packet = Fixture.ipv6(nextHeader: 51, payload: PacketBuilder.ipv6AuthenticationHeader(nextHeader: 17, payload: udp))
        expectUDP(decode(packet, .rawIP))
    }

    @Test func chainOfEachExtension() {
        // hop-by-hop -> destination options -> routing -> fragment -> AH -> destination options -> UDP
        let chain = PacketBuilder.ipv6Extension(nextHeader: 60, payload:
            PacketBuilder.ipv6Extension(nextHeader: 43, payload:
                PacketBuilder.ipv6Extension(nextHeader: 44, lengthUnits: 2, payload:
                    PacketBuilder.ipv6Fragment(nextHeader: 51, offset: 0, moreFragments: true, identification: 0xCAFE_F00D, payload:
                        PacketBuilder.ipv6AuthenticationHeader(nextHeader: 60, payload:
                            PacketBuilder.ipv6Extension(nextHeader: 17, payload: udp))))))
        let record = decode(Fixture.ipv6(nextHeader: 0, payload: chain), .rawIP)
        expectUDP(record)
        #expect(record.flags.contains(.fragment))
        #expect(record.ipID == 0xCAFE_F00D)
    }

    @Test func firstFragment() {
        let packet = Fixture.ipv6(nextHeader: 44, payload: PacketBuilder.ipv6Fragment(nextHeader: 17, offset: 0, moreFragments: true, identification: 5, payload: udp))
        let record = decode(packet, .rawIP)
        expectUDP(record)
        #expect(record.flags.contains(.fragment))
        #expect(!record.flags.contains(.nonFirstFragment))
        #expect(record.ipID == 5)
    }

    @Test func nonFirstFragment() {
        let packet = Fixture.ipv6(nextHeader: 44, payload: PacketBuilder.ipv6Fragment(nextHeader: 17, offset: 181, moreFragments: false, identification: 0x8000_0001, payload: udp))
        let record = decode(packet, .rawIP)
        #expect(record.status == .ok)
        #expect(record.flags.contains([.fragment, .nonFirstFragment]))
        #expect(!record.flags.contains(.hasPorts))
        #expect(record.ipProtocol == 17)
        #expect(record.ipID == 0x8000_0001)
        #expect(record.probe == .none)
        #expect(record.payloadLength == UInt16(udp.count))
    }

    @Test func noNextHeader() {
        let packet = Fixture.ipv6(nextHeader: 60, payload: PacketBuilder.ipv6Extension(nextHeader: 59, payload: [1, 2, 3, 4]))
        let record = decode(packet, .rawIP)
        #expect(record.status == .ok)
        #expect(record.ipProtocol == 59)
        #expect(!record.flags.contains(.hasPorts))
    }

    func chain(_ count: Int) -> [UInt8] {
        var payload = udp
        var next: UInt8 = 17
        for _ in 0..<count {
            payload = PacketBuilder.ipv6Extension(nextHeader: next, payload: payload)
            next = 60
        }
        return Fixture.ipv6(nextHeader: count == 0 ? 17 : 60, payload: payload)
    }

    @Test func eightExtensionsDecodeNineAreTooMany() {
        expectUDP(decode(chain(8), .rawIP))
        #expect(decode(chain(9), .rawIP).status == .tooManyIPv6Extensions)
        #expect(decode(chain(40), .rawIP).status == .tooManyIPv6Extensions)
    }

    @Test func truncatedExtension() {
        let packet = Fixture.ipv6(nextHeader: 0, payload: PacketBuilder.ipv6Extension(nextHeader: 17, lengthUnits: 3, payload: udp))
        #expect(decode(Array(packet.prefix(41)), .rawIP).status == .truncatedIPv6Extension)
        #expect(decode(Array(packet.prefix(40 + 31)), .rawIP).status == .truncatedIPv6Extension)
        #expect(decode(Array(packet.prefix(40 + 32)), .rawIP).status == .truncatedL4)
    }

    @Test func extensionBeyondPayloadLength() {
        // Payload length says 8, the hop-by-hop header says 16.
        var packet = Fixture.ipv6(nextHeader: 0, payload: PacketBuilder.ipv6Extension(nextHeader: 17, lengthUnits: 1, payload: udp))
        packet[4] = 0
        packet[5] = 8
        #expect(decode(packet, .rawIP).status == .truncatedIPv6Extension)
    }

    @Test func fixedHeaderTruncated() {
        #expect(decode(Array(Fixture.ipv6SYN().prefix(39)), .rawIP).status == .truncatedIP)
        #expect(decode(Array(Fixture.ipv6SYN().prefix(39)), .ipv6).status == .truncatedIP)
    }

    @Test func paddingAfterIPv6IsNotPayload() {
        let frame = PacketBuilder.ethernetIPv6(Fixture.ipv6UDP(port: 19)) + [0, 0, 0, 0]
        let record = decode(frame)
        #expect(record.status == .ok)
        #expect(record.payloadLength == 0)
        #expect(record.probe == .chargen)
    }
}
