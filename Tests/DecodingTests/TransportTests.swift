import Testing
import Decoding
import Synth

@Suite struct TCPTests {
    @Test func fieldsAndFlags() {
        let packet = PacketBuilder.ipv4TCP(source: Fixture.scanner, destination: Fixture.darknet, sourcePort: 61000, destinationPort: 445,
                                           flags: TCPFlag.syn | TCPFlag.ece | TCPFlag.cwr, sequence: 0x0102_0304, window: 29200,
                                           payload: [1, 2, 3, 4, 5])
        let record = decode(PacketBuilder.ethernetIPv4(packet))
        #expect(record.status == .ok)
        #expect(record.flags.contains([.hasPorts, .hasTCP]))
        #expect(record.sourcePort == 61000)
        #expect(record.destinationPort == 445)
        #expect(record.tcpFlags == TCPFlag.syn | TCPFlag.ece | TCPFlag.cwr)
        #expect(record.tcpSequence == 0x0102_0304)
        #expect(record.tcpWindow == 29200)
        #expect(record.payloadLength == 5)
        #expect(record.probe == .none)
    }

    @Test(arguments: [TCPFlag.syn | TCPFlag.ack, TCPFlag.rst, TCPFlag.fin | TCPFlag.psh | TCPFlag.urg, 0])
    func flagCombinations(_ flags: UInt8) {
        let packet = PacketBuilder.ipv4TCP(source: 1, destination: 2, sourcePort: 3, destinationPort: 4, flags: flags)
        #expect(decode(packet, .rawIP).tcpFlags == flags)
    }

    @Test func optionsCountAsHeader() {
        let segment = PacketBuilder.tcp(sourcePort: 1, destinationPort: 2, flags: TCPFlag.syn, options: [2, 4, 5, 0xB4, 1, 1, 4, 2], payload: [9, 9])
        let packet = PacketBuilder.ipv4(source: 1, destination: 2, protocolNumber: 6, payload: segment)
        let record = decode(packet, .rawIP)
        #expect(record.status == .ok)
        #expect(record.payloadLength == 2)
    }

    @Test func badDataOffset() {
        var packet = Fixture.ipv4SYN()
        packet[20 + 12] = 0x40  // 16 bytes
        #expect(decode(packet, .rawIP).status == .badL4Header)
        packet[20 + 12] = 0xF0  // 60 bytes, the packet has 20
        #expect(decode(packet, .rawIP).status == .badL4Header)
    }

    @Test func ipPayloadTooShortForTCP() {
        var packet = Fixture.ipv4SYN()
        packet[3] = 20 + 12  // total length leaves 12 bytes of TCP
        #expect(decode(packet, .rawIP).status == .badL4Header)
    }

    @Test func truncatedHeader() {
        #expect(decode(Array(Fixture.ipv4SYN().prefix(39)), .rawIP).status == .truncatedL4)
    }
}

@Suite struct UDPTests {
    @Test func fields() {
        let record = decode(PacketBuilder.ethernetIPv4(Fixture.ipv4UDP(port: 5060, payload: Array("OPTIONS".utf8))))
        #expect(record.status == .ok)
        #expect(record.flags.contains(.hasPorts))
        #expect(!record.flags.contains(.hasTCP))
        #expect(record.sourcePort == 40000)
        #expect(record.destinationPort == 5060)
        #expect(record.payloadLength == 7)
        #expect(record.probe == .none)
    }

    @Test func lengthBelowEight() {
        var packet = Fixture.ipv4UDP(port: 53)
        packet[20 + 5] = 7
        #expect(decode(packet, .rawIP).status == .badL4Header)
    }

    @Test func lengthBeyondIPPayload() {
        var packet = Fixture.ipv4UDP(port: 53, payload: [1, 2, 3])
        packet[20 + 5] = 12
        #expect(decode(packet, .rawIP).status == .badL4Header)
    }

    @Test func lengthShorterThanIPPayload() {
        var packet = Fixture.ipv4UDP(port: 7, payload: [1, 2, 3, 4])
        packet[20 + 5] = 10
        let record = decode(packet, .rawIP)
        #expect(record.status == .ok)
        #expect(record.payloadLength == 2)
    }

    @Test func truncatedHeader() {
        #expect(decode(Array(Fixture.ipv4UDP(port: 53).prefix(27)), .rawIP).status == .truncatedL4)
        #expect(decode(Array(Fixture.ipv6UDP(port: 53).prefix(47)), .rawIP).status == .truncatedL4)
    }

    @Test func ipv6UDP() {
        let record = decode(Fixture.ipv6UDP(port: 1900, payload: PacketBuilder.ssdpMSearch()), .ipv6)
        #expect(record.status == .ok)
        #expect(record.destinationPort == 1900)
        #expect(record.probe == .ssdpMSearch)
    }
}

@Suite struct ICMPTests {
    @Test func echoRequest() {
        let packet = PacketBuilder.ipv4ICMP(source: Fixture.scanner, destination: Fixture.darknet, type: 8, rest: [0x12, 0x34, 0, 1],
                                            payload: [UInt8](repeating: 0x61, count: 56))
        let record = decode(PacketBuilder.ethernetIPv4(packet))
        #expect(record.status == .ok)
        #expect(record.ipProtocol == IPProtocolNumber.icmp)
        #expect(record.flags.contains(.hasICMP))
        #expect(!record.flags.contains(.hasPorts))
        #expect(!record.flags.contains(.hasInner))
        #expect(record.icmpType == 8 && record.icmpCode == 0)
        #expect(record.payloadLength == 56)
    }

    @Test func icmpv6Echo() {
        let record = decode(Fixture.ipv6(nextHeader: 58, payload: PacketBuilder.icmp(type: 128, payload: [1, 2, 3, 4])), .rawIP)
        #expect(record.status == .ok)
        #expect(record.icmpType == 128)
        #expect(record.flags.contains(.hasICMP))
        #expect(!record.flags.contains(.hasInner))
    }

    @Test func truncatedHeader() {
        let packet = PacketBuilder.ipv4ICMP(source: 1, destination: 2, type: 8)
        #expect(decode(Array(packet.prefix(27)), .rawIP).status == .truncatedL4)
        var short = packet
        short[3] = 24  // total length leaves 4 bytes of ICMP
        #expect(decode(short, .rawIP).status == .badL4Header)
    }

    // Backscatter: the darknet address was spoofed; a router answers with an error quoting the packet.
    @Test func unreachableQuotingTCP() {
        let quoted = PacketBuilder.ipv4TCP(source: Fixture.darknet, destination: Fixture.scanner, sourcePort: 80, destinationPort: 51000, flags: TCPFlag.syn | TCPFlag.ack)
        let packet = PacketBuilder.ipv4ICMP(source: 0x0A00_0001, destination: Fixture.darknet, type: 3, code: 13, payload: Array(quoted.prefix(28)))
        let record = decode(PacketBuilder.ethernetIPv4(packet))
        #expect(record.status == .ok)
        #expect(record.icmpType == 3 && record.icmpCode == 13)
        #expect(record.flags.contains([.hasICMP, .hasInner, .innerHasPorts]))
        #expect(record.innerProtocol == IPProtocolNumber.tcp)
        #expect(record.innerSourcePort == 80)
        #expect(record.innerDestinationPort == 51000)
        #expect(!record.flags.contains(.hasPorts))
    }

    @Test(arguments: [UInt8(3), 4, 5, 11, 12])
    func errorsQuotingUDP(_ type: UInt8) {
        let quoted = PacketBuilder.ipv4UDP(source: Fixture.darknet, destination: Fixture.scanner, sourcePort: 53, destinationPort: 33434, payload: [1, 2, 3, 4])
        let packet = PacketBuilder.ipv4ICMP(source: 0x0A00_0001, destination: Fixture.darknet, type: type, payload: quoted)
        let record = decode(packet, .rawIP)
        #expect(record.status == .ok)
        #expect(record.flags.contains([.hasInner, .innerHasPorts]))
        #expect(record.innerProtocol == IPProtocolNumber.udp)
        #expect(record.innerSourcePort == 53 && record.innerDestinationPort == 33434)
    }

    @Test func quoteWithOnlyTheIPHeader() {
        let quoted = PacketBuilder.ipv4UDP(source: 1, destination: 2, sourcePort: 3, destinationPort: 4)
        let packet = PacketBuilder.ipv4ICMP(source: 5, destination: 6, type: 11, payload: Array(quoted.prefix(22)))
        let record = decode(packet, .rawIP)
        #expect(record.status == .ok)
        #expect(record.flags.contains(.hasInner))
        #expect(!record.flags.contains(.innerHasPorts))
        #expect(record.innerProtocol == 17)
    }

    @Test func garbledOrShortQuote() {
        let short = PacketBuilder.ipv4ICMP(source: 5, destination: 6, type: 3, payload: [0x45, 0, 0, 20])
        let shortRecord = decode(short, .rawIP)
        #expect(shortRecord.status == .ok)
        #expect(shortRecord.flags.contains(.hasICMP))
        #expect(!shortRecord.flags.contains(.hasInner))
        let garbled = PacketBuilder.ipv4ICMP(source: 5, destination: 6, type: 3, payload: [UInt8](repeating: 0xFF, count: 28))
        #expect(!decode(garbled, .rawIP).flags.contains(.hasInner))
        // An echo reply carrying an IP-looking payload is not an error message.
        let echo = PacketBuilder.ipv4ICMP(source: 5, destination: 6, type: 0, payload: Fixture.ipv4SYN())
        #expect(!decode(echo, .rawIP).flags.contains(.hasInner))
    }

    @Test func quotedNonFirstFragmentHasNoPorts() {
        let quoted = PacketBuilder.ipv4(source: 1, destination: 2, protocolNumber: 17, fragmentField: 100, payload: [0, 53, 0, 53, 0, 8, 0, 0])
        let packet = PacketBuilder.ipv4ICMP(source: 5, destination: 6, type: 11, code: 1, payload: quoted)
        let record = decode(packet, .rawIP)
        #expect(record.flags.contains(.hasInner))
        #expect(!record.flags.contains(.innerHasPorts))
    }

    @Test func icmpv6UnreachableQuotingUDP() {
        let quoted = PacketBuilder.ipv6(source: Fixture.darknet6, destination: Fixture.scanner6, nextHeader: 17,
                                        payload: PacketBuilder.udp(sourcePort: 123, destinationPort: 41000, payload: [1, 2]))
        let packet = Fixture.ipv6(nextHeader: 58, payload: PacketBuilder.icmp(type: 1, code: 4, payload: quoted))
        let record = decode(PacketBuilder.ethernetIPv6(packet))
        #expect(record.status == .ok)
        #expect(record.icmpType == 1 && record.icmpCode == 4)
        #expect(record.flags.contains([.hasICMP, .hasInner, .innerHasPorts]))
        #expect(record.innerProtocol == 17)
        #expect(record.innerSourcePort == 123 && record.innerDestinationPort == 41000)
    }

    @Test func icmpv6PacketTooBigQuotingTCPBehindExtension() {
        let quoted = PacketBuilder.ipv6(source: Fixture.darknet6, destination: Fixture.scanner6, nextHeader: 60,
                                        payload: PacketBuilder.ipv6Extension(nextHeader: 6, payload: PacketBuilder.tcp(sourcePort: 443, destinationPort: 50000, flags: TCPFlag.ack)))
        let packet = Fixture.ipv6(nextHeader: 58, payload: PacketBuilder.icmp(type: 2, rest: [0, 0, 5, 0], payload: quoted))
        let record = decode(packet, .rawIP)
        #expect(record.flags.contains([.hasInner, .innerHasPorts]))
        #expect(record.innerProtocol == 6)
        #expect(record.innerSourcePort == 443)
    }

    @Test func icmpv6QuoteCutInsideIPv6Header() {
        let quoted = Fixture.ipv6UDP(port: 53)
        let packet = Fixture.ipv6(nextHeader: 58, payload: PacketBuilder.icmp(type: 3, payload: Array(quoted.prefix(30))))
        let record = decode(packet, .rawIP)
        #expect(record.status == .ok)
        #expect(!record.flags.contains(.hasInner))
    }
}
