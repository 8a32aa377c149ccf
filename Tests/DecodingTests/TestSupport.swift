import Decoding
import Synth

/// Decodes `bytes` as captured on `linkType`; `wireLength` defaults to the captured length.
func decode(_ bytes: [UInt8], _ linkType: LinkType = .ethernet, wireLength: UInt32? = nil, timestampNs: Int64 = 1_700_000_000_000_000_000) -> PacketRecord {
    var record = PacketRecord()
    let decoder = PacketDecoder(linkType: linkType)
    decoder.decode(bytes.span, wireLength: wireLength ?? UInt32(bytes.count), timestampNs: timestampNs, into: &record)
    return record
}

enum Fixture {
    static let scanner: UInt32 = 0xC633_6401  // 198.51.100.1
    static let darknet: UInt32 = 0xCB00_7102  // 203.0.113.2
    static let scanner6 = IPAddress("2001:db8::1")!
    static let darknet6 = IPAddress("2001:db8:ffff::2")!

    /// IPv4 TCP SYN 198.51.100.1:40000 -> 203.0.113.2:23.
    static func ipv4SYN(payload: [UInt8] = []) -> [UInt8] {
        PacketBuilder.ipv4TCP(source: scanner, destination: darknet, sourcePort: 40000, destinationPort: 23,
                              flags: TCPFlag.syn, sequence: 0xDEAD_BEEF, window: 1024, ttl: 241,
                              identification: 0x1234, payload: payload)
    }

    /// IPv4 UDP 198.51.100.1:40000 -> 203.0.113.2:`port`.
    static func ipv4UDP(port: UInt16, payload: [UInt8] = []) -> [UInt8] {
        PacketBuilder.ipv4UDP(source: scanner, destination: darknet, sourcePort: 40000, destinationPort: port, payload: payload)
    }

    /// IPv6 packet from scanner6 to darknet6.
    static func ipv6(nextHeader: UInt8, payload: [UInt8]) -> [UInt8] {
        PacketBuilder.ipv6(source: scanner6, destination: darknet6, nextHeader: nextHeader, hopLimit: 57, payload: payload)
    }

    static func ipv6UDP(port: UInt16, payload: [UInt8] = []) -> [UInt8] {
        ipv6(nextHeader: IPProtocolNumber.udp, payload: PacketBuilder.udp(sourcePort: 40000, destinationPort: port, payload: payload))
    }

    static func ipv6SYN() -> [UInt8] {
        ipv6(nextHeader: IPProtocolNumber.tcp,
             payload: PacketBuilder.tcp(sourcePort: 40000, destinationPort: 22, sequence: 7, flags: TCPFlag.syn, window: 512))
    }
}
