import Testing
import Decoding
import Synth

@Suite struct ProbeInspectorTests {
    func probe(_ port: UInt16, _ payload: [UInt8]) -> PacketRecord {
        decode(PacketBuilder.ethernetIPv4(Fixture.ipv4UDP(port: port, payload: payload)))
    }

    @Test func dnsQuery() {
        let record = probe(53, PacketBuilder.dnsQuery(name: "example.com", type: 1))
        #expect(record.status == .ok)
        #expect(record.probe == .dnsQuery)
        #expect(!record.flags.contains(.dnsAny))
        #expect(!record.flags.contains(.dnsLargeEDNS))
    }

    @Test func dnsAny() {
        let record = probe(53, PacketBuilder.dnsQuery(name: "isc.org", type: 255))
        #expect(record.probe == .dnsQuery)
        #expect(record.flags.contains(.dnsAny))
    }

    @Test func dnsAnyWithLargeEDNS() {
        let record = probe(53, PacketBuilder.dnsQuery(name: "isc.org", type: 255, ednsPayloadSize: 4096))
        #expect(record.flags.contains([.dnsAny, .dnsLargeEDNS]))
    }

    @Test func dnsSmallEDNSIsNotLarge() {
        let record = probe(53, PacketBuilder.dnsQuery(name: "example.net", type: 16, ednsPayloadSize: 1232))
        #expect(record.probe == .dnsQuery)
        #expect(!record.flags.contains(.dnsLargeEDNS))
        #expect(probe(53, PacketBuilder.dnsQuery(name: "example.net", ednsPayloadSize: 4095)).flags.isDisjoint(with: .dnsLargeEDNS))
    }

    @Test func dnsRootQuery() {
        let record = probe(53, PacketBuilder.dnsQuery(name: "", type: 255, ednsPayloadSize: 65535))
        #expect(record.flags.contains([.dnsAny, .dnsLargeEDNS]))
    }

    @Test func dnsIPv6() {
        let record = decode(Fixture.ipv6UDP(port: 53, payload: PacketBuilder.dnsQuery(name: "a.example", type: 255)), .rawIP)
        #expect(record.probe == .dnsQuery)
        #expect(record.flags.contains(.dnsAny))
    }

    @Test func dnsResponseIsNotAProbe() {
        let record = probe(53, PacketBuilder.dnsQuery(name: "example.com", type: 255, isResponse: true))
        #expect(record.probe == .none)
        #expect(!record.flags.contains(.dnsAny))
    }

    @Test func dnsWithoutQuestionsOrTooShort() {
        var noQuestion = PacketBuilder.dnsQuery(name: "example.com")
        noQuestion[5] = 0
        #expect(probe(53, noQuestion).probe == .none)
        #expect(probe(53, Array(PacketBuilder.dnsQuery(name: "x").prefix(11))).probe == .none)
    }

    @Test func dnsQueryToOtherPortIsNotAProbe() {
        #expect(probe(5353, PacketBuilder.dnsQuery(name: "example.com", type: 255)).probe == .none)
    }

    @Test func dnsCompressionPointerStopsTheWalk() {
        // Header, then a pointer where the QNAME should be, then what would be QTYPE ANY.
        var payload = Array(PacketBuilder.dnsQuery(name: "", type: 255).prefix(12))
        payload += [0xC0, 0x0C, 0x00, 0xFF, 0x00, 0x01]
        let record = probe(53, payload)
        #expect(record.probe == .dnsQuery)
        #expect(!record.flags.contains(.dnsAny))
    }

    @Test func dnsOverlongNameStops() {
        // 130 one-byte labels: over the 128-label / 255-byte bound.
        let name = Array(repeating: "a", count: 130).joined(separator: ".")
        let record = probe(53, PacketBuilder.dnsQuery(name: name, type: 255))
        #expect(record.probe == .dnsQuery)
        #expect(!record.flags.contains(.dnsAny))
        // 127 labels (254 bytes with the root) is the longest legal name.
        let longest = Array(repeating: "a", count: 127).joined(separator: ".")
        #expect(probe(53, PacketBuilder.dnsQuery(name: longest, type: 255)).flags.contains(.dnsAny))
    }

    @Test func dnsTruncatedQuestion() {
        let full = PacketBuilder.dnsQuery(name: "example.com", type: 255, ednsPayloadSize: 8192)
        for cut in 12..<full.count {
            let record = probe(53, Array(full.prefix(cut)))
            #expect(record.probe == .dnsQuery)
            #expect(record.flags.contains(.dnsAny) == (cut >= 12 + 13 + 4))
            #expect(!record.flags.contains(.dnsLargeEDNS) || cut >= 12 + 13 + 4 + 5)
        }
    }

    @Test func ntpMonlist() {
        #expect(probe(123, PacketBuilder.ntpMode7(requestCode: 42)).probe == .ntpMonlist)
        #expect(probe(123, PacketBuilder.ntpMode7(requestCode: 20)).probe == .ntpMonlist)
        #expect(probe(123, [0x17, 0x00, 0x03, 0x2A]).probe == .ntpMonlist)
    }

    @Test func ntpOtherMode7() {
        #expect(probe(123, PacketBuilder.ntpMode7(requestCode: 1)).probe == .ntpMode7)
        #expect(probe(123, [0x17, 0x00]).probe == .ntpMode7)
    }

    @Test func ntpClientIsNotAProbe() {
        #expect(probe(123, PacketBuilder.ntpClient()).probe == .none)
        #expect(probe(123, []).probe == .none)
    }

    @Test func ssdp() {
        #expect(probe(1900, PacketBuilder.ssdpMSearch()).probe == .ssdpMSearch)
        #expect(probe(1900, Array("NOTIFY * HTTP/1.1\r\n".utf8)).probe == .none)
        #expect(probe(1900, Array("M-SEARC".utf8)).probe == .none)
        #expect(probe(1901, PacketBuilder.ssdpMSearch()).probe == .none)
    }

    @Test(arguments: ["stats\r\n", "get foo\r\n", "gets a b\r\n", "version\r\n", "set k 0 0 1\r\nx\r\n", "flush_all\r\n", "mg key v\r\n", "stats"])
    func memcached(_ command: String) {
        #expect(probe(11211, PacketBuilder.memcachedRequest(command)).probe == .memcached)
    }

    @Test(arguments: ["", "statistics\r\n", "STATS\r\n", "hello\r\n", "getx\r\n"])
    func notMemcached(_ command: String) {
        #expect(probe(11211, PacketBuilder.memcachedRequest(command)).probe == .none)
    }

    @Test func memcachedWithoutFrameHeader() {
        #expect(probe(11211, Array("stats\r\n".utf8)).probe == .none)
        var reserved = PacketBuilder.memcachedRequest()
        reserved[7] = 1
        #expect(probe(11211, reserved).probe == .none)
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func cldap(_ longForm: Bool, _ rfc1798User: Bool) {
        #expect(probe(389, PacketBuilder.cldapSearchRequest(longForm: longForm, rfc1798User: rfc1798User)).probe == .cldap)
    }

    @Test func notCLDAP() {
        // A bindRequest ([APPLICATION 0]).
        let bind = PacketBuilder.ber(0x30, PacketBuilder.ber(0x02, [1]) + PacketBuilder.ber(0x60, [0x02, 0x01, 0x03]))
        #expect(probe(389, bind).probe == .none)
        #expect(probe(389, Array("hello".utf8)).probe == .none)
        #expect(probe(389, [0x30, 0x84, 0x00]).probe == .none)
        #expect(probe(390, PacketBuilder.cldapSearchRequest()).probe == .none)
    }

    @Test func chargen() {
        #expect(probe(19, []).probe == .chargen)
        #expect(probe(19, [0x0A]).probe == .chargen)
    }

    @Test(arguments: [UInt8(0xA0), 0xA1, 0xA5])
    func snmp(_ pdu: UInt8) {
        #expect(probe(161, PacketBuilder.snmpRequest(pduTag: pdu)).probe == .snmp)
        #expect(probe(161, PacketBuilder.snmpRequest(version: 0, community: String(repeating: "c", count: 200), pduTag: pdu)).probe == .snmp)
    }

    @Test func notSNMP() {
        #expect(probe(161, PacketBuilder.snmpRequest(pduTag: 0xA2)).probe == .none)  // response
        #expect(probe(161, PacketBuilder.snmpRequest(pduTag: 0xA3)).probe == .none)  // set
        #expect(probe(161, [0x30, 0x03, 0x02, 0x01]).probe == .none)
        #expect(probe(162, PacketBuilder.snmpRequest()).probe == .none)
    }

    @Test func probesNeedUDP() {
        let packet = PacketBuilder.ipv4TCP(source: 1, destination: 2, sourcePort: 3, destinationPort: 53, flags: TCPFlag.psh | TCPFlag.ack,
                                           payload: [0, 30] + PacketBuilder.dnsQuery(name: "example.com", type: 255))
        #expect(decode(packet, .rawIP).probe == .none)
    }

    @Test func inspectorTruncationNeverTraps() {
        let payloads: [(UInt16, [UInt8])] = [
            (53, PacketBuilder.dnsQuery(name: "www.example.com", type: 255, ednsPayloadSize: 4096)),
            (123, PacketBuilder.ntpMode7(requestCode: 42)),
            (1900, PacketBuilder.ssdpMSearch()),
            (11211, PacketBuilder.memcachedRequest("flush_all\r\n")),
            (389, PacketBuilder.cldapSearchRequest(longForm: true)),
            (161, PacketBuilder.snmpRequest(pduTag: 0xA5)),
        ]
        for (port, payload) in payloads {
            for cut in 0...payload.count {
                let slice = Array(payload.prefix(cut))
                var record = PacketRecord()
                ProbeInspector.inspect(slice.span, destinationPort: port, into: &record)
                _ = record.probe
            }
        }
    }
}
