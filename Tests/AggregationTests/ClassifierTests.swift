import Testing
import Decoding
import Synth
@testable import Aggregation

@Suite struct ClassifierTests {
    // MARK: TCP

    @Test func tcpSYNIsScan() throws {
        let r = tcpPacket(flags: TCPFlag.syn)
        try #require(r.status == .ok)
        #expect(Classifier.classify(r) == .scan)
    }

    @Test(arguments: [
        (TCPFlag.syn | TCPFlag.ack, "SYN-ACK"),
        (TCPFlag.rst, "RST"),
        (TCPFlag.rst | TCPFlag.ack, "RST-ACK"),
        (TCPFlag.syn | TCPFlag.rst, "SYN-RST"),
    ])
    func tcpRepliesAreBackscatter(flags: UInt8, name: String) throws {
        let r = tcpPacket(from: Net.victim, sourcePort: 80, port: 40000, flags: flags)
        try #require(r.status == .ok)
        #expect(Classifier.classify(r) == .backscatter, "\(name)")
    }

    @Test(arguments: [TCPFlag.ack, TCPFlag.ack | TCPFlag.psh, TCPFlag.fin | TCPFlag.ack, TCPFlag.fin, UInt8(0)])
    func otherTCPIsOther(flags: UInt8) throws {
        let r = tcpPacket(flags: flags)
        try #require(r.status == .ok)
        #expect(Classifier.classify(r) == .other)
    }

    // MARK: ICMP

    @Test(arguments: [UInt8(0), 3, 4, 5, 11, 12, 14, 16, 18])
    func icmpRepliesAndErrorsAreBackscatter(type: UInt8) throws {
        let r = icmpPacket(from: Net.victim, type: type)
        try #require(r.status == .ok)
        try #require(r.flags.contains(.hasICMP))
        #expect(Classifier.classify(r) == .backscatter)
    }

    @Test func icmpEchoRequestIsScan() throws {
        let r = icmpPacket(type: 8)
        try #require(r.status == .ok)
        #expect(Classifier.classify(r) == .scan)
    }

    /// Requests other than echo (timestamp 13, info 15, mask 17), router
    /// solicitation/advertisement and unassigned types are neither.
    @Test(arguments: [UInt8(1), 2, 6, 9, 10, 13, 15, 17, 19, 30, 31, 32, 40, 200, 255])
    func otherICMPIsOther(type: UInt8) throws {
        let r = icmpPacket(type: type)
        try #require(r.status == .ok)
        #expect(Classifier.classify(r) == .other)
    }

    @Test func icmpv6EchoRequestIsScan() throws {
        let r = icmpv6Packet(type: 128)
        try #require(r.status == .ok)
        try #require(r.ipProtocol == IPProtocolNumber.icmpv6)
        #expect(Classifier.classify(r) == .scan)
    }

    @Test(arguments: [UInt8(1), 2, 3, 4, 129])
    func icmpv6ErrorsAndEchoReplyAreBackscatter(type: UInt8) throws {
        let r = icmpv6Packet(type: type)
        try #require(r.status == .ok)
        #expect(Classifier.classify(r) == .backscatter)
    }

    /// ICMPv6 type numbers that are backscatter in ICMPv4 (0, 5, 11...) are not in ICMPv6.
    @Test(arguments: [UInt8(0), 5, 11, 133, 134, 135, 136, 143])
    func otherICMPv6IsOther(type: UInt8) throws {
        let r = icmpv6Packet(type: type)
        try #require(r.status == .ok)
        #expect(Classifier.classify(r) == .other)
    }

    // MARK: UDP

    @Test func udpFromPort53IsBackscatter() throws {
        // A DNS response (QR = 1) from port 53 to a high darknet port.
        let response = PacketBuilder.dnsQuery(name: "example.com", isResponse: true)
        let r = udpPacket(from: Net.victim, sourcePort: 53, port: 33333, payload: response)
        try #require(r.status == .ok)
        #expect(r.probe == .none)
        #expect(Classifier.classify(r) == .backscatter)
    }

    /// Source port 53 wins over a service or misconfiguration destination.
    @Test(arguments: [UInt16(80), 138, 17500, 40000])
    func udpFromPort53PrecedesDestination(port: UInt16) throws {
        let r = udpPacket(from: Net.victim, sourcePort: 53, port: port, payload: [1, 2, 3])
        try #require(r.status == .ok)
        #expect(Classifier.classify(r) == .backscatter)
    }

    @Test(arguments: [UInt16(1), 69, 500, 1023, 1434, 1900, 3389, 5060, 11211, 47808])
    func udpToServicePortIsScan(port: UInt16) throws {
        // Empty or unrecognised payload: not a probe.
        let r = udpPacket(port: port, payload: [0xEE, 0xEE])
        try #require(r.status == .ok)
        try #require(r.probe == .none)
        #expect(Classifier.classify(r) == .scan)
    }

    @Test(arguments: [UInt16(1024), 1025, 4444, 33434, 40000, 65535])
    func udpToOtherPortIsOther(port: UInt16) throws {
        let r = udpPacket(port: port, payload: [0xEE])
        try #require(r.status == .ok)
        #expect(Classifier.classify(r) == .other)
    }

    /// 138 and 137 are below 1024: misconfiguration must win over "service port".
    @Test(arguments: [UInt16(17500), 138, 137, 67, 68, 5353, 5355, 1947])
    func udpMisconfigurationPorts(port: UInt16) throws {
        let r = udpPacket(sourcePort: port, port: port, payload: [0xEE, 0xEE, 0xEE])
        try #require(r.status == .ok)
        #expect(Classifier.classify(r) == .misconfiguration)
    }

    // MARK: reflection reconnaissance

    static let probes: [(port: UInt16, payload: [UInt8], kind: ProbeKind)] = [
        (53, PacketBuilder.dnsQuery(name: "example.com", type: 255), .dnsQuery),
        (123, PacketBuilder.ntpMode7(requestCode: 42), .ntpMonlist),
        (123, PacketBuilder.ntpMode7(requestCode: 20), .ntpMonlist),
        (1900, PacketBuilder.ssdpMSearch(), .ssdpMSearch),
        (11211, PacketBuilder.memcachedRequest(), .memcached),
        (389, PacketBuilder.cldapSearchRequest(), .cldap),
        (19, [0x0A], .chargen),
        (161, PacketBuilder.snmpRequest(), .snmp),
    ]

    @Test(arguments: 0..<probes.count)
    func probesAreReflectionRecon(index: Int) throws {
        let probe = ClassifierTests.probes[index]
        let r = udpPacket(port: probe.port, payload: probe.payload)
        try #require(r.status == .ok)
        #expect(r.probe == probe.kind)
        #expect(Classifier.classify(r) == .reflectionRecon)
    }

    /// The same ports without a recognised probe are ordinary UDP scans.
    @Test func servicePortWithoutProbeIsScan() throws {
        let r = udpPacket(port: 123, payload: PacketBuilder.ntpClient())
        try #require(r.status == .ok)
        #expect(r.probe == .none)
        #expect(Classifier.classify(r) == .scan)
    }

    // MARK: records without the relevant header

    @Test func recordsWithoutL4HeaderAreOther() {
        var r = PacketRecord()
        r.status = .ok
        r.ipVersion = 4
        r.ipProtocol = IPProtocolNumber.tcp
        r.tcpFlags = TCPFlag.syn  // stale flags without .hasTCP must not count
        #expect(Classifier.classify(r) == .other)
        r.ipProtocol = IPProtocolNumber.udp
        r.sourcePort = 53
        #expect(Classifier.classify(r) == .other)
        r.ipProtocol = IPProtocolNumber.icmp
        r.icmpType = 8
        #expect(Classifier.classify(r) == .other)
        r.ipProtocol = 47  // GRE
        #expect(Classifier.classify(r) == .other)
    }

    @Test func classNames() {
        #expect(TrafficClass.allCases.map(\.name) == ["scan", "backscatter", "reflection-recon", "misconfiguration", "other"])
        #expect(TrafficClass.count == 5)
    }
}

@Suite struct FingerprintTests {
    @Test func zmap() throws {
        let r = tcpPacket(to: Net.darknet(7), port: 443, sequence: 0x0102_0304, id: 54321)
        try #require(r.status == .ok)
        #expect(Classifier.fingerprint(r) == .zmap)
    }

    @Test func masscan() throws {
        let destination = Net.darknet(77)
        let port: UInt16 = 8080
        let sequence: UInt32 = 0xA1B2_C3D4
        let id = UInt16(truncatingIfNeeded: destination) ^ port ^ UInt16(truncatingIfNeeded: sequence)
        let r = tcpPacket(to: destination, port: port, sequence: sequence, id: id)
        try #require(r.status == .ok)
        #expect(Classifier.fingerprint(r) == .masscan)
        // One bit off in the ID: no longer Masscan.
        let off = tcpPacket(to: destination, port: port, sequence: sequence, id: id ^ 1)
        #expect(Classifier.fingerprint(off) == .none)
    }

    /// The high 16 bits of the sequence number take no part in Masscan's ID.
    @Test func masscanUsesLow16BitsOfSequence() throws {
        let destination = Net.darknet(300)
        let port: UInt16 = 22
        let id = UInt16(truncatingIfNeeded: destination) ^ port ^ 0x5555
        let a = tcpPacket(to: destination, port: port, sequence: 0x0000_5555, id: id)
        let b = tcpPacket(to: destination, port: port, sequence: 0xFFFF_5555, id: id)
        #expect(Classifier.fingerprint(a) == .masscan)
        #expect(Classifier.fingerprint(b) == .masscan)
    }

    @Test func mirai() throws {
        let destination = Net.darknet(9)
        let r = tcpPacket(to: destination, port: 23, sequence: destination, id: 0x7777)
        try #require(r.status == .ok)
        #expect(Classifier.fingerprint(r) == .mirai)
    }

    @Test func noneOtherwise() throws {
        let r = tcpPacket(to: Net.darknet(9), port: 23, sequence: 0x0BAD_F00D, id: 0x1111)
        try #require(r.status == .ok)
        #expect(Classifier.fingerprint(r) == .none)
    }

    /// Fingerprints are properties of SYN probes only.
    @Test func onlySYNProbesAreFingerprinted() throws {
        let destination = Net.darknet(9)
        let synAck = tcpPacket(to: destination, port: 23, flags: TCPFlag.syn | TCPFlag.ack, sequence: destination, id: 54321)
        #expect(Classifier.fingerprint(synAck) == .none)
        let rst = tcpPacket(to: destination, port: 23, flags: TCPFlag.rst, sequence: destination, id: 54321)
        #expect(Classifier.fingerprint(rst) == .none)
        let udp = decodeIP(PacketBuilder.ipv4UDP(source: Net.scanner, destination: destination, sourcePort: 1, destinationPort: 23,
                                                 identification: 54321))
        #expect(Classifier.fingerprint(udp) == .none)
    }

    @Test func names() {
        #expect(ScannerFingerprint.allCases.map(\.name) == ["none", "zmap", "masscan", "mirai"])
    }

    // MARK: per-source majority

    /// One SYN in ten carrying ID 54321 by chance is not ZMap.
    @Test func singleChanceMatchIsNotAFingerprint() throws {
        var a = Aggregator()
        for i in 0..<10 {
            a.add(tcpPacket(to: Net.darknet(i), port: 23, sequence: 0x0BAD_F00D, id: i == 3 ? 54321 : 0x1111, at: t0 + Int64(i) * nsPerSecond))
        }
        let detail = try #require(a.sourceDetails[IPAddress(ipv4: Net.scanner)])
        #expect(detail.synPackets == 10)
        #expect(detail.zmapPackets == 1)
        #expect(detail.fingerprint == .none)
        // The per-packet count still records the match.
        #expect(a.fingerprints[Int(ScannerFingerprint.zmap.rawValue)] == 1)
    }

    @Test func majorityIsAFingerprintHalfIsNot() throws {
        var detail = SourceDetail()
        for _ in 0..<5 { detail.countSYN(.zmap) }
        for _ in 0..<5 { detail.countSYN(.none) }
        #expect(detail.fingerprint == .none)  // 5 of 10: not more than half
        detail.countSYN(.zmap)
        #expect(detail.fingerprint == .zmap)  // 6 of 11
    }

    @Test func majorityPerKind() {
        for kind in [ScannerFingerprint.zmap, .masscan, .mirai] {
            var detail = SourceDetail()
            for _ in 0..<7 { detail.countSYN(kind) }
            for _ in 0..<3 { detail.countSYN(.none) }
            #expect(detail.fingerprint == kind)
        }
        #expect(SourceDetail().fingerprint == .none)
    }

    /// Through the aggregator: a Mirai source and a Masscan source.
    @Test func aggregatorSourceFingerprints() throws {
        var a = Aggregator()
        for i in 0..<20 {
            let d = Net.darknet(i)
            a.add(tcpPacket(from: Net.scanner, to: d, port: 23, sequence: d, id: UInt16(i), at: t0 + Int64(i) * nsPerSecond))
            let seq = UInt32(0x1000 + i)
            let id = UInt16(truncatingIfNeeded: d) ^ 80 ^ UInt16(truncatingIfNeeded: seq)
            a.add(tcpPacket(from: Net.scanner2, to: d, port: 80, sequence: seq, id: id, at: t0 + Int64(i) * nsPerSecond))
        }
        #expect(a.sourceDetails[IPAddress(ipv4: Net.scanner)]?.fingerprint == .mirai)
        #expect(a.sourceDetails[IPAddress(ipv4: Net.scanner2)]?.fingerprint == .masscan)
        #expect(a.fingerprints[Int(ScannerFingerprint.mirai.rawValue)] == 20)
        #expect(a.fingerprints[Int(ScannerFingerprint.masscan.rawValue)] == 20)
        #expect(a.fingerprints[Int(ScannerFingerprint.zmap.rawValue)] == 0)
    }
}
