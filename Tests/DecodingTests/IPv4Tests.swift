import Testing
import Decoding
import Synth

@Suite struct IPv4Tests {
    @Test func headerFields() {
        let record = decode(Fixture.ipv4SYN(), .rawIP)
        #expect(record.status == .ok)
        #expect(record.ipVersion == 4)
        #expect(record.ttl == 241)
        #expect(record.ipID == 0x1234)
        #expect(record.ipProtocol == IPProtocolNumber.tcp)
        #expect(record.source.description == "198.51.100.1")
        #expect(record.destination.description == "203.0.113.2")
        #expect(record.flags.isDisjoint(with: [.fragment, .nonFirstFragment]))
    }

    @Test func optionsAreSkipped() {
        // Record Route (7), length 11, pointer 4, two addresses... padded to 12.
        let options: [UInt8] = [7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0]
        let segment = PacketBuilder.udp(sourcePort: 5353, destinationPort: 161, payload: PacketBuilder.snmpRequest())
        let packet = PacketBuilder.ipv4(source: Fixture.scanner, destination: Fixture.darknet, protocolNumber: 17, options: options, payload: segment)
        #expect(packet[0] == 0x48)
        let record = decode(PacketBuilder.ethernetIPv4(packet))
        #expect(record.status == .ok)
        #expect(record.sourcePort == 5353)
        #expect(record.destinationPort == 161)
        #expect(record.probe == .snmp)
    }

    @Test func firstFragmentDecodesL4() {
        let segment = PacketBuilder.udp(sourcePort: 1, destinationPort: 53, payload: PacketBuilder.dnsQuery(name: "example.com", type: 255))
        let packet = PacketBuilder.ipv4(source: Fixture.scanner, destination: Fixture.darknet, protocolNumber: 17,
                                        identification: 777, fragmentField: 0x2000, payload: segment)
        let record = decode(packet, .rawIP)
        #expect(record.status == .ok)
        #expect(record.flags.contains(.fragment))
        #expect(!record.flags.contains(.nonFirstFragment))
        #expect(record.flags.contains(.hasPorts))
        #expect(record.destinationPort == 53)
        #expect(record.ipID == 777)
        #expect(record.probe == .dnsQuery)
    }

    /// A first fragment carries the UDP header of the whole datagram: its
    /// length field is longer than this fragment, and that is not an error.
    @Test func firstFragmentUDPLengthCoversWholeDatagram() {
        let datagram = PacketBuilder.udp(sourcePort: 1, destinationPort: 4444, payload: [UInt8](repeating: 7, count: 2000))
        let first = PacketBuilder.ipv4(source: Fixture.scanner, destination: Fixture.darknet, protocolNumber: 17,
                                       identification: 9, fragmentField: 0x2000, payload: Array(datagram[0..<1480]))
        let record = decode(first, .rawIP)
        #expect(record.status == .ok)
        #expect(record.destinationPort == 4444)
        #expect(record.payloadLength == 2000)
        // The same bytes unfragmented are inconsistent.
        let whole = PacketBuilder.ipv4(source: Fixture.scanner, destination: Fixture.darknet, protocolNumber: 17,
                                       identification: 9, fragmentField: 0, payload: Array(datagram[0..<1480]))
        #expect(decode(whole, .rawIP).status == .badL4Header)
    }

    @Test(arguments: [UInt16(0x2000 | 185), 185])
    func nonFirstFragmentHasNoPorts(_ fragmentField: UInt16) {
        // Bytes that would look like a UDP header to port 53 must not be read as one.
        let data: [UInt8] = [0x9C, 0x40, 0x00, 0x35, 0x00, 0x10, 0x00, 0x00] + [UInt8](repeating: 0x41, count: 32)
        let packet = PacketBuilder.ipv4(source: Fixture.scanner, destination: Fixture.darknet, protocolNumber: 17,
                                        identification: 99, fragmentField: fragmentField, payload: data)
        let record = decode(packet, .rawIP)
        #expect(record.status == .ok)
        #expect(record.flags.contains([.fragment, .nonFirstFragment]))
        #expect(!record.flags.contains(.hasPorts))
        #expect(record.sourcePort == 0 && record.destinationPort == 0)
        #expect(record.probe == .none)
        #expect(record.ipProtocol == 17)
        #expect(record.payloadLength == 40)
    }

    @Test func dontFragmentIsNotAFragment() {
        let packet = PacketBuilder.ipv4(source: 1, destination: 2, protocolNumber: 6, fragmentField: 0x4000,
                                        payload: PacketBuilder.tcp(sourcePort: 1, destinationPort: 2, flags: TCPFlag.syn))
        #expect(!decode(packet, .rawIP).flags.contains(.fragment))
    }

    @Test func headerLengthBelowFive() {
        var packet = Fixture.ipv4SYN()
        packet[0] = 0x44
        #expect(decode(packet, .rawIP).status == .badIPHeaderLength)
    }

    @Test func headerLengthBeyondTotalLength() {
        var packet = Fixture.ipv4SYN()
        packet[0] = 0x4F  // 60-byte header
        packet[2] = 0
        packet[3] = 40  // total length 40
        #expect(decode(packet, .rawIP).status == .badIPHeaderLength)
    }

    @Test func headerLengthBeyondCapture() {
        var packet = Array(Fixture.ipv4SYN().prefix(30))
        packet[0] = 0x4F
        packet[2] = 0
        packet[3] = 80
        #expect(decode(packet, .rawIP).status == .truncatedIP)
    }

    @Test func totalLengthBelowHeader() {
        var packet = Fixture.ipv4SYN()
        packet[2] = 0
        packet[3] = 19
        #expect(decode(packet, .rawIP).status == .badIPTotalLength)
        packet[3] = 0
        #expect(decode(packet, .rawIP).status == .badIPTotalLength)
    }

    @Test func ethernetPaddingIsNotPayload() {
        // A 40-byte SYN in a minimum-size (60-byte) frame: 6 bytes of padding.
        let frame = PacketBuilder.ethernetIPv4(Fixture.ipv4SYN()) + [UInt8](repeating: 0xEE, count: 6)
        let record = decode(frame)
        #expect(record.status == .ok)
        #expect(record.payloadLength == 0)
        // An empty UDP datagram to memcached: padding must not look like a command.
        let udp = Fixture.ipv4UDP(port: 11211)
        let padded = PacketBuilder.ethernetIPv4(udp) + PacketBuilder.memcachedRequest("stats\r\n").prefix(18)
        let udpRecord = decode(padded)
        #expect(udpRecord.status == .ok)
        #expect(udpRecord.payloadLength == 0)
        #expect(udpRecord.probe == .none)
    }

    @Test func otherProtocolDecodesWithoutPorts() {
        let gre = PacketBuilder.ipv4(source: Fixture.scanner, destination: Fixture.darknet, protocolNumber: 47, payload: [0, 0, 0x08, 0x00, 1, 2, 3, 4])
        let record = decode(gre, .rawIP)
        #expect(record.status == .ok)
        #expect(record.ipProtocol == 47)
        #expect(!record.flags.contains(.hasPorts))
        #expect(record.payloadLength == 8)
    }

    @Test func recordIsResetBetweenPackets() {
        var record = PacketRecord()
        let decoder = PacketDecoder(linkType: .ethernet)
        let vlan = PacketBuilder.ethernetIPv4(Fixture.ipv4UDP(port: 53, payload: PacketBuilder.dnsQuery(name: "a.b", type: 255)), vlanTags: [(0x8100, 9)])
        decoder.decode(vlan.span, wireLength: UInt32(vlan.count), timestampNs: 1, into: &record)
        #expect(record.probe == .dnsQuery && record.flags.contains(.dnsAny) && record.vlanID == 9)
        let arp = PacketBuilder.ethernet(etherType: 0x0806, payload: [UInt8](repeating: 0, count: 28))
        decoder.decode(arp.span, wireLength: 60, timestampNs: 2, into: &record)
        #expect(record.status == .nonIP)
        #expect(record.probe == .none)
        #expect(record.flags.isEmpty)
        #expect(record.vlanID == 0 && record.sourcePort == 0 && record.source == .zero && record.ipVersion == 0)
        #expect(record.wireLength == 60 && record.capturedLength == 42 && record.timestampNs == 2)
    }
}
