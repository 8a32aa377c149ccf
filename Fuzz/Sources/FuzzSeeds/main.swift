// Writes the seed corpora of every fuzz target, built from the project's own
// packet builders (Synth): nothing is copied from captures or other corpora.
//
//     FuzzSeeds OUTDIR [TARGET...]
//
// writes OUTDIR/TARGET/NAME.bin for each TARGET (default: all known targets).
// Output is deterministic, so regenerating seeds never changes a corpus
// needlessly. Adding a target: add a case to `generators` below.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Aggregation
import Alerts
import Decoding
import Feed
import Foundation
import FuzzServiceSupport
import FuzzSupport
import Synth

typealias Seed = (name: String, bytes: [UInt8])

/// Seed generators by target name (the names scripts/fuzz.sh uses).
let generators: [(target: String, seeds: () -> [Seed])] = [
    ("decoder", DecoderSeeds.all),
    ("feed-norse", FeedSeeds.norse),
    ("feed-csv", FeedSeeds.csv),
    ("config", ConfigSeeds.all),
    ("stats-request", StatsRequestSeeds.all),
    ("snapshot", SnapshotSeeds.all),
]

enum DecoderSeeds {
    static let scanner: UInt32 = 0xC633_6401  // 198.51.100.1
    static let darknet: UInt32 = 0xCB00_7102  // 203.0.113.2
    static let scanner6 = IPAddress("2001:db8::1")!
    static let darknet6 = IPAddress("2001:db8:ffff::2")!

    static func all() -> [Seed] {
        var seeds: [Seed] = []
        func add(_ name: String, _ linkType: LinkType, snapped: Bool = false, _ packet: [UInt8]) {
            seeds.append((name, DecoderInput.encode(linkType, snapped: snapped, packet: packet)))
        }
        typealias B = PacketBuilder

        // L3/L4 packets, without a link layer.
        let syn = B.ipv4TCP(source: scanner, destination: darknet, sourcePort: 40000, destinationPort: 23,
                            flags: TCPFlag.syn, sequence: 0xDEAD_BEEF, ttl: 241, identification: 54321)
        let syn6 = B.ipv6TCP(source: scanner6, destination: darknet6, sourcePort: 40000, destinationPort: 22,
                             flags: TCPFlag.syn, options: [2, 4, 5, 0xB4, 1, 3, 3, 7])
        let synAck = B.ipv4TCP(source: darknet, destination: scanner, sourcePort: 80, destinationPort: 51000,
                               flags: TCPFlag.syn | TCPFlag.ack)
        func udp4(_ port: UInt16, _ payload: [UInt8]) -> [UInt8] {
            B.ipv4UDP(source: scanner, destination: darknet, sourcePort: 40000, destinationPort: port, payload: payload)
        }
        func udp6(_ port: UInt16, _ payload: [UInt8]) -> [UInt8] {
            B.ipv6UDP(source: scanner6, destination: darknet6, sourcePort: 40000, destinationPort: port, payload: payload)
        }
        let dnsAny = B.dnsQuery(name: "example.com", type: 255, ednsPayloadSize: 4096)
        let dnsA = B.dnsQuery(name: "a.b.example.org", type: 1)

        // Every link type around IPv4 and IPv6.
        add("eth-ipv4-tcp-syn", .ethernet, B.ethernetIPv4(syn))
        add("eth-ipv6-tcp-syn", .ethernet, B.ethernetIPv6(syn6))
        add("eth-arp", .ethernet, B.ethernet(etherType: 0x0806, payload: [0, 1, 8, 0, 6, 4, 0, 1] + [UInt8](repeating: 0, count: 20)))
        add("eth-padded-ipv4-udp", .ethernet, B.ethernetIPv4(udp4(9, [])) + [UInt8](repeating: 0, count: 18))
        add("sll-ipv4-udp-dns", .linuxSLL, B.linuxSLL(protocolType: 0x0800, payload: udp4(53, dnsA)))
        add("sll-ipv6-tcp", .linuxSLL, B.linuxSLL(protocolType: 0x86DD, payload: syn6))
        add("sll2-ipv6-udp-dns", .linuxSLL2, B.linuxSLL2(protocolType: 0x86DD, payload: udp6(53, dnsAny)))
        add("sll2-ipv4-tcp", .linuxSLL2, B.linuxSLL2(protocolType: 0x0800, payload: syn))
        add("raw-ipv4-tcp", .rawIP, syn)
        add("raw-ipv6-tcp", .rawIP, syn6)
        add("ipv4-only", .ipv4, synAck)
        add("ipv6-only", .ipv6, syn6)
        add("null-le-ipv4", .null, B.bsdNull(family: 2, payload: syn))
        add("null-be-ipv6-freebsd", .null, B.bsdNull(family: 28, littleEndian: false, payload: syn6))
        add("null-le-ipv6-macos", .null, B.bsdNull(family: 30, payload: syn6))
        add("loop-ipv4", .loop, B.bsdNull(family: 2, littleEndian: false, payload: syn))
        add("loop-ipv6-openbsd", .loop, B.bsdNull(family: 24, littleEndian: false, payload: syn6))
        add("nflog-ipv4", .nflog, B.nflog(family: 2, payload: syn))
        add("nflog-ipv6-noprefix", .nflog, B.nflog(family: 10, prefix: nil, payload: udp6(123, B.ntpMode7(requestCode: 42))))
        add("nflog-snapped", .nflog, snapped: true, Array(B.nflog(family: 2, payload: syn).prefix(24)))

        // VLAN, QinQ, MPLS, PPPoE.
        add("eth-vlan-ipv4", .ethernet, B.ethernetIPv4(syn, vlanTags: [(0x8100, 100)]))
        add("eth-qinq-ipv6", .ethernet, B.ethernetIPv6(udp6(53, dnsAny), vlanTags: [(0x88A8, 10), (0x8100, 20)]))
        add("eth-legacy-qinq-ipv4", .ethernet, B.ethernetIPv4(syn, vlanTags: [(0x9100, 7), (0x8100, 8)]))
        add("eth-4-tags", .ethernet, B.ethernetIPv4(syn, vlanTags: [(0x88A8, 1), (0x8100, 2), (0x8100, 3), (0x8100, 4)]))
        add("eth-mpls-ipv4", .ethernet, B.ethernet(etherType: 0x8847, payload: B.mpls(labels: [16, 17], payload: udp4(1900, B.ssdpMSearch()))))
        add("eth-mpls-ipv6", .ethernet, B.ethernet(etherType: 0x8847, payload: B.mpls(labels: [3], payload: syn6)))
        add("eth-vlan-mpls-ipv4", .ethernet, B.ethernet(vlanTags: [(0x8100, 5)], etherType: 0x8847, payload: B.mpls(labels: [1, 2, 3], payload: syn)))
        add("eth-pppoe-ipv4", .ethernet, B.ethernet(etherType: 0x8864, payload: B.pppoeSession(pppProtocol: 0x0021, payload: syn)))
        add("eth-pppoe-ipv6", .ethernet, B.ethernet(etherType: 0x8864, payload: B.pppoeSession(pppProtocol: 0x0057, payload: syn6)))

        // IPv4 options and fragments.
        add("raw-ipv4-options-udp", .rawIP, B.ipv4(source: scanner, destination: darknet, protocolNumber: 17, options: [0x94, 4, 0, 0],
                                                      payload: B.udp(sourcePort: 1, destinationPort: 19, payload: [0x41])))
        add("raw-ipv4-first-fragment", .rawIP, B.ipv4(source: scanner, destination: darknet, protocolNumber: 17, identification: 7, fragmentField: 0x2000,
                                                         payload: B.udp(sourcePort: 5353, destinationPort: 53, payload: dnsAny)))
        add("raw-ipv4-nonfirst-fragment", .rawIP, B.ipv4(source: scanner, destination: darknet, protocolNumber: 6, identification: 7, fragmentField: 185,
                                                            payload: [UInt8](repeating: 0x41, count: 32)))
        add("raw-ipv4-gre", .rawIP, B.ipv4(source: scanner, destination: darknet, protocolNumber: 47, payload: [0, 0, 0x08, 0x00] + syn))

        // IPv6 extension headers and fragments.
        let dest = B.ipv6Extension(nextHeader: 17, lengthUnits: 1, payload: B.udp(sourcePort: 1, destinationPort: 123, payload: B.ntpMode7(requestCode: 20)))
        let ah = B.ipv6AuthenticationHeader(nextHeader: 60, payload: dest)
        let routing = B.ipv6Extension(nextHeader: 51, payload: ah)
        add("ipv6-hbh-routing-ah-dest-udp", .ipv6, B.ipv6(source: scanner6, destination: darknet6, nextHeader: 0, payload: B.ipv6Extension(nextHeader: 43, payload: routing)))
        add("ipv6-first-fragment-tcp", .ipv6, B.ipv6(source: scanner6, destination: darknet6, nextHeader: 44, payload:
            B.ipv6Fragment(nextHeader: 6, offset: 0, moreFragments: true, identification: 0xABCD,
                           payload: B.tcp(sourcePort: 1, destinationPort: 22, flags: TCPFlag.syn, payload: [1, 2, 3]))))
        add("ipv6-nonfirst-fragment", .ipv6, B.ipv6(source: scanner6, destination: darknet6, nextHeader: 44, payload:
            B.ipv6Fragment(nextHeader: 17, offset: 10, moreFragments: false, identification: 2, payload: [UInt8](repeating: 7, count: 30))))
        add("ipv6-no-next-header", .ipv6, B.ipv6(source: scanner6, destination: darknet6, nextHeader: 59, payload: []))
        var jumbo = B.ipv6(source: scanner6, destination: darknet6, nextHeader: 0, payload: B.ipv6Extension(nextHeader: 17, payload: B.udp(sourcePort: 1, destinationPort: 2)))
        jumbo[4] = 0
        jumbo[5] = 0
        add("ipv6-jumbogram-hbh", .ipv6, jumbo)

        // ICMP, and ICMP errors quoting the packet that caused them.
        let quotedUDP = udp4(33434, [UInt8](repeating: 0, count: 12))
        add("icmp-echo", .rawIP, B.ipv4ICMP(source: scanner, destination: darknet, type: 8, rest: [0x12, 0x34, 0, 1], payload: Array("abcdefgh".utf8)))
        add("icmp-unreachable-tcp", .rawIP, B.ipv4ICMP(source: 0x0A00_0001, destination: darknet, type: 3, code: 1, payload: synAck))
        add("icmp-time-exceeded-udp", .rawIP, B.ipv4ICMP(source: 0x0A00_0001, destination: darknet, type: 11, payload: Array(quotedUDP.prefix(28))))
        add("icmp-redirect-fragment", .rawIP, B.ipv4ICMP(source: 0x0A00_0001, destination: darknet, type: 5, payload:
            B.ipv4(source: darknet, destination: scanner, protocolNumber: 17, fragmentField: 100, payload: [1, 2, 3, 4, 5, 6, 7, 8])))
        add("icmpv6-unreachable-udp", .ipv6, B.ipv6(source: scanner6, destination: darknet6, nextHeader: 58, payload: B.icmp(type: 1, code: 4, payload: udp6(9, []))))
        add("icmpv6-packet-too-big-ext", .ipv6, B.ipv6(source: scanner6, destination: darknet6, nextHeader: 58, payload: B.icmp(type: 2, rest: [0, 0, 5, 0xDC], payload:
            B.ipv6(source: darknet6, destination: scanner6, nextHeader: 60, payload: B.ipv6Extension(nextHeader: 6, payload: B.tcp(sourcePort: 443, destinationPort: 50000, flags: TCPFlag.ack))))))
        add("icmpv6-echo", .ipv6, B.ipv6(source: scanner6, destination: darknet6, nextHeader: 58, payload: B.icmp(type: 128, rest: [0, 1, 0, 1])))

        // UDP reflection probes.
        add("dns-any-edns", .rawIP, udp4(53, dnsAny))
        add("dns-a", .rawIP, udp4(53, dnsA))
        add("dns-response", .rawIP, udp4(53, B.dnsQuery(name: "example.net", isResponse: true)))
        add("dns-ipv6-edns-small", .ipv6, udp6(53, B.dnsQuery(name: "x.example", type: 16, ednsPayloadSize: 512)))
        add("ntp-monlist", .rawIP, udp4(123, B.ntpMode7(requestCode: 42)))
        add("ntp-getlist", .rawIP, udp4(123, B.ntpMode7(requestCode: 20)))
        add("ntp-mode7-other", .rawIP, udp4(123, B.ntpMode7(requestCode: 1)))
        add("ntp-client", .rawIP, udp4(123, B.ntpClient()))
        add("ssdp-msearch", .rawIP, udp4(1900, B.ssdpMSearch()))
        add("ssdp-msearch-rootdevice", .ipv6, udp6(1900, B.ssdpMSearch(searchTarget: "upnp:rootdevice")))
        add("memcached-stats", .rawIP, udp4(11211, B.memcachedRequest()))
        add("memcached-get", .rawIP, udp4(11211, B.memcachedRequest("get key\r\n", requestID: 9)))
        add("cldap-rootdse", .rawIP, udp4(389, B.cldapSearchRequest()))
        add("cldap-longform-user", .rawIP, udp4(389, B.cldapSearchRequest(longForm: true, rfc1798User: true)))
        add("snmp-get", .rawIP, udp4(161, B.snmpRequest()))
        add("snmp-getbulk", .rawIP, udp4(161, B.snmpRequest(pduTag: 0xA5)))
        add("chargen", .rawIP, udp4(19, [0x0A]))

        // One frame of each kind the synthetic darknet traffic generator emits.
        var config = DarknetTrafficConfig()
        config.packetCount = 20_000
        config.sourceCount = 200
        var seen = Set<UInt8>()
        var traffic = DarknetTraffic(config: config)
        while let packet = traffic.nextPacket() {
            guard seen.insert(packet.kind.rawValue).inserted else { continue }
            add("traffic-\(packet.kind)", .ethernet, packet.bytes)
        }
        return seeds
    }
}

// MARK: writing

func makeDirectory(_ path: String) {
    var prefix = path.hasPrefix("/") ? "" : "."
    for part in path.split(separator: "/") {
        prefix += "/" + part
        if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
            fatalError("FuzzSeeds: cannot create \(prefix): errno \(errno)")
        }
    }
}

/// A line on standard error (the C `stderr` global is not concurrency-safe in Swift 6).
func warn(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
}

func write(_ bytes: [UInt8], to path: String) {
    guard let file = fopen(path, "wb") else { fatalError("FuzzSeeds: cannot open \(path): errno \(errno)") }
    let written = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, file) }
    guard written == bytes.count, fclose(file) == 0 else { fatalError("FuzzSeeds: cannot write \(path)") }
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    warn("usage: FuzzSeeds OUTDIR [TARGET...]\ntargets: \(generators.map(\.target).joined(separator: " "))")
    exit(2)
}
let outDirectory = arguments[1]
let wanted = arguments.count > 2 ? Set(arguments[2...]) : Set(generators.map(\.target))
for unknown in wanted.subtracting(generators.map(\.target)).sorted() {
    // Targets whose seeds live elsewhere (or that start from an empty corpus) are not an error.
    warn("FuzzSeeds: no seed generator for '\(unknown)'")
}
for (target, seeds) in generators where wanted.contains(target) {
    let directory = outDirectory + "/" + target
    makeDirectory(directory)
    let list = seeds()
    var names = Set<String>()
    for seed in list {
        precondition(names.insert(seed.name).inserted, "duplicate seed name \(seed.name)")
        write(seed.bytes, to: directory + "/" + seed.name + ".bin")
    }
    print("FuzzSeeds: \(list.count) seeds in \(directory)")
}
