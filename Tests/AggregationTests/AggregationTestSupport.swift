import Decoding
import Synth
@testable import Aggregation

/// Addresses and times shared by the aggregation tests.
enum Net {
    static let scanner: UInt32 = 0xC633_6401  // 198.51.100.1
    static let scanner2: UInt32 = 0xC633_6402  // 198.51.100.2
    static let victim: UInt32 = 0xC000_0201  // 192.0.2.1
    /// 203.0.113.0/24 and beyond: darknet address i.
    static func darknet(_ i: Int) -> UInt32 { 0xCB00_7100 &+ UInt32(truncatingIfNeeded: i) }
    static let scanner6 = IPAddress("2001:db8::1")!
    static let darknet6 = IPAddress("2001:db8:ffff::2")!
}

let nsPerSecond: Int64 = 1_000_000_000
/// A time on a 60 s (not a daily) boundary: 1,699,999,980 s = 28,333,333 × 60.
let t0: Int64 = 1_699_999_980 * nsPerSecond

func seconds(_ s: Double) -> Int64 { Int64((s * 1e9).rounded()) }

/// Decodes a bare IP packet (LinkType.ipv4 / .ipv6) at `timestampNs`.
func decodeIP(_ bytes: [UInt8], _ linkType: LinkType = .ipv4, timestampNs: Int64 = t0, wireLength: UInt32? = nil) -> PacketRecord {
    var record = PacketRecord()
    let decoder = PacketDecoder(linkType: linkType)
    decoder.decode(bytes.span, wireLength: wireLength ?? UInt32(bytes.count), timestampNs: timestampNs, into: &record)
    return record
}

/// A decoded IPv4 TCP packet.
func tcpPacket(from source: UInt32 = Net.scanner, to destination: UInt32 = Net.darknet(2), sourcePort: UInt16 = 40000,
               port: UInt16 = 23, flags: UInt8 = TCPFlag.syn, sequence: UInt32 = 0x1234_5678, id: UInt16 = 0x1111,
               at time: Int64 = t0, wireLength: UInt32? = nil) -> PacketRecord {
    decodeIP(PacketBuilder.ipv4TCP(source: source, destination: destination, sourcePort: sourcePort, destinationPort: port,
                                   flags: flags, sequence: sequence, identification: id),
             timestampNs: time, wireLength: wireLength)
}

/// A decoded IPv4 UDP packet.
func udpPacket(from source: UInt32 = Net.scanner, to destination: UInt32 = Net.darknet(2), sourcePort: UInt16 = 40000,
               port: UInt16, payload: [UInt8] = [], at time: Int64 = t0) -> PacketRecord {
    decodeIP(PacketBuilder.ipv4UDP(source: source, destination: destination, sourcePort: sourcePort, destinationPort: port,
                                   payload: payload),
             timestampNs: time)
}

/// A decoded IPv4 ICMP packet (errors quote a SYN the victim received).
func icmpPacket(from source: UInt32 = Net.scanner, to destination: UInt32 = Net.darknet(2), type: UInt8, code: UInt8 = 0,
                at time: Int64 = t0) -> PacketRecord {
    let quoted = PacketBuilder.ipv4TCP(source: destination, destination: source, sourcePort: 80, destinationPort: 1234, flags: TCPFlag.syn)
    let isError = [3, 4, 5, 11, 12].contains(Int(type))
    return decodeIP(PacketBuilder.ipv4ICMP(source: source, destination: destination, type: type, code: code,
                                           payload: isError ? Array(quoted.prefix(28)) : []),
                    timestampNs: time)
}

/// A decoded ICMPv6 packet from scanner6 to darknet6.
func icmpv6Packet(type: UInt8, at time: Int64 = t0) -> PacketRecord {
    decodeIP(PacketBuilder.ipv6(source: Net.scanner6, destination: Net.darknet6, nextHeader: IPProtocolNumber.icmpv6,
                                payload: PacketBuilder.icmp(type: type)),
             .ipv6, timestampNs: time)
}

/// A TCP SYN record built field by field (no decoding), for large streams.
func synRecord(source: IPAddress, destination: UInt32, port: UInt16, time: Int64) -> PacketRecord {
    var r = PacketRecord()
    r.status = .ok
    r.ipVersion = 4
    r.ipProtocol = IPProtocolNumber.tcp
    r.flags = [.hasPorts, .hasTCP]
    r.tcpFlags = TCPFlag.syn
    r.source = source
    r.destination = IPAddress(ipv4: destination)
    r.sourcePort = 40000
    r.destinationPort = port
    r.timestampNs = time
    r.wireLength = 40
    r.capturedLength = 40
    return r
}

extension Aggregator {
    mutating func add(_ records: [PacketRecord]) {
        for r in records { add(r) }
    }
}

func config(_ body: (inout AggregationConfig) -> Void) -> AggregationConfig {
    var c = AggregationConfig()
    body(&c)
    return c
}
