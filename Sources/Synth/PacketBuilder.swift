import Decoding

/// Builds packets byte by byte: the fixtures of the tests, the demo capture
/// and the benchmark generator all come from here. Each function returns the
/// bytes of one layer wrapped around its payload, with lengths and IPv4 / L4
/// checksums filled in as a real stack would.
public enum PacketBuilder {
    // MARK: link layers

    public static let defaultSourceMAC: [UInt8] = [0x02, 0x00, 0x5E, 0x10, 0x00, 0x01]
    public static let defaultDestinationMAC: [UInt8] = [0x02, 0x00, 0x5E, 0x10, 0x00, 0x02]

    /// Ethernet II frame. `vlanTags` are outermost first; each is
    /// (TPID, TCI), e.g. (0x88A8, 100) then (0x8100, 200) for QinQ.
    public static func ethernet(
        destination: [UInt8] = defaultDestinationMAC,
        source: [UInt8] = defaultSourceMAC,
        vlanTags: [(tpid: UInt16, tci: UInt16)] = [],
        etherType: UInt16,
        payload: [UInt8]
    ) -> [UInt8] {
        var bytes = destination + source
        for tag in vlanTags {
            bytes.appendBE16(tag.tpid)
            bytes.appendBE16(tag.tci)
        }
        bytes.appendBE16(etherType)
        return bytes + payload
    }

    /// Linux cooked capture v1 (DLT_LINUX_SLL, 16-byte header).
    public static func linuxSLL(packetType: UInt16 = 0, protocolType: UInt16, payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendBE16(packetType)
        bytes.appendBE16(1)  // ARPHRD_ETHER
        bytes.appendBE16(6)
        bytes += defaultSourceMAC + [0, 0]
        bytes.appendBE16(protocolType)
        return bytes + payload
    }

    /// Linux cooked capture v2 (DLT_LINUX_SLL2, 20-byte header).
    public static func linuxSLL2(protocolType: UInt16, interfaceIndex: UInt32 = 2, payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendBE16(protocolType)
        bytes.appendBE16(0)  // reserved
        bytes.appendBE32(interfaceIndex)
        bytes.appendBE16(1)  // ARPHRD_ETHER
        bytes.append(0)  // packet type: to us
        bytes.append(6)
        bytes += defaultSourceMAC + [0, 0]
        return bytes + payload
    }

    /// BSD loopback (DLT_NULL): 4-byte address family in the capturing host's
    /// byte order (written little-endian here, as on x86), then the IP packet.
    public static func bsdNull(family: UInt32, littleEndian: Bool = true, payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        if littleEndian { bytes.appendLE32(family) } else { bytes.appendBE32(family) }
        return bytes + payload
    }

    // MARK: IP

    /// IPv4 header (20 bytes plus `options`, padded to 4) around `payload`.
    /// `fragmentField` is the 16-bit flags+offset field (0x2000 = MF).
    public static func ipv4(
        source: UInt32,
        destination: UInt32,
        protocolNumber: UInt8,
        ttl: UInt8 = 64,
        identification: UInt16 = 0,
        fragmentField: UInt16 = 0x4000,
        options: [UInt8] = [],
        payload: [UInt8]
    ) -> [UInt8] {
        var opts = options
        while opts.count % 4 != 0 { opts.append(0) }
        let headerLength = 20 + opts.count
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerLength + payload.count)
        bytes.append(UInt8(0x40 | (headerLength / 4)))
        bytes.append(0)
        bytes.appendBE16(UInt16(truncatingIfNeeded: headerLength + payload.count))
        bytes.appendBE16(identification)
        bytes.appendBE16(fragmentField)
        bytes.append(ttl)
        bytes.append(protocolNumber)
        bytes.appendBE16(0)
        bytes.appendBE32(source)
        bytes.appendBE32(destination)
        bytes += opts
        let checksum = internetChecksum(bytes[0..<headerLength])
        bytes[10] = UInt8(checksum >> 8)
        bytes[11] = UInt8(checksum & 0xFF)
        return bytes + payload
    }

    /// IPv6 fixed header around `payload`; `nextHeader` names the first header of `payload`.
    public static func ipv6(
        source: IPAddress,
        destination: IPAddress,
        nextHeader: UInt8,
        hopLimit: UInt8 = 64,
        payload: [UInt8]
    ) -> [UInt8] {
        var bytes: [UInt8] = [0x60, 0, 0, 0]
        bytes.appendBE16(UInt16(truncatingIfNeeded: payload.count))
        bytes.append(nextHeader)
        bytes.append(hopLimit)
        bytes.appendBE64(source.high)
        bytes.appendBE64(source.low)
        bytes.appendBE64(destination.high)
        bytes.appendBE64(destination.low)
        return bytes + payload
    }

    /// A generic IPv6 extension header (hop-by-hop 0, routing 43, destination
    /// options 60): next header, length in 8-octet units beyond the first 8, padding.
    public static func ipv6Extension(nextHeader: UInt8, lengthUnits: UInt8 = 0, payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [nextHeader, lengthUnits]
        bytes += [UInt8](repeating: 0, count: 6 + Int(lengthUnits) * 8)
        if bytes.count >= 4 { bytes[2] = 1; bytes[3] = UInt8(bytes.count - 4) }  // PadN over the rest
        return bytes + payload
    }

    /// IPv6 fragment header (44). `offset` in 8-octet units.
    public static func ipv6Fragment(nextHeader: UInt8, offset: UInt16, moreFragments: Bool, identification: UInt32, payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [nextHeader, 0]
        bytes.appendBE16(offset << 3 | (moreFragments ? 1 : 0))
        bytes.appendBE32(identification)
        return bytes + payload
    }

    // MARK: L4

    public static func tcp(
        sourcePort: UInt16,
        destinationPort: UInt16,
        sequence: UInt32 = 0,
        acknowledgment: UInt32 = 0,
        flags: UInt8,
        window: UInt16 = 65535,
        options: [UInt8] = [],
        payload: [UInt8] = []
    ) -> [UInt8] {
        var opts = options
        while opts.count % 4 != 0 { opts.append(0) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(20 + opts.count + payload.count)
        bytes.appendBE16(sourcePort)
        bytes.appendBE16(destinationPort)
        bytes.appendBE32(sequence)
        bytes.appendBE32(acknowledgment)
        bytes.append(UInt8(((20 + opts.count) / 4) << 4))
        bytes.append(flags)
        bytes.appendBE16(window)
        bytes.appendBE16(0)  // checksum: see withTransportChecksum
        bytes.appendBE16(0)  // urgent pointer
        return bytes + opts + payload
    }

    public static func udp(sourcePort: UInt16, destinationPort: UInt16, payload: [UInt8] = []) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + payload.count)
        bytes.appendBE16(sourcePort)
        bytes.appendBE16(destinationPort)
        bytes.appendBE16(UInt16(truncatingIfNeeded: 8 + payload.count))
        bytes.appendBE16(0)
        return bytes + payload
    }

    /// ICMP or ICMPv6 message: type, code, checksum (filled for ICMPv4 only),
    /// 4 bytes of `rest` (identifier/sequence, unused, MTU...), then `payload`.
    public static func icmp(type: UInt8, code: UInt8 = 0, rest: [UInt8] = [0, 0, 0, 0], payload: [UInt8] = []) -> [UInt8] {
        var bytes: [UInt8] = [type, code, 0, 0] + rest.prefix(4)
        while bytes.count < 8 { bytes.append(0) }
        bytes += payload
        let checksum = internetChecksum(bytes[...])
        bytes[2] = UInt8(checksum >> 8)
        bytes[3] = UInt8(checksum & 0xFF)
        return bytes
    }

    // MARK: convenience

    /// IPv4 TCP packet (no link layer) with a valid TCP checksum.
    public static func ipv4TCP(
        source: UInt32, destination: UInt32, sourcePort: UInt16, destinationPort: UInt16,
        flags: UInt8, sequence: UInt32 = 0, acknowledgment: UInt32 = 0, window: UInt16 = 1024,
        ttl: UInt8 = 64, identification: UInt16 = 0, payload: [UInt8] = []
    ) -> [UInt8] {
        var segment = tcp(sourcePort: sourcePort, destinationPort: destinationPort, sequence: sequence,
                          acknowledgment: acknowledgment, flags: flags, window: window, payload: payload)
        setIPv4TransportChecksum(&segment, at: 16, source: source, destination: destination, protocolNumber: IPProtocolNumber.tcp)
        return ipv4(source: source, destination: destination, protocolNumber: IPProtocolNumber.tcp,
                    ttl: ttl, identification: identification, payload: segment)
    }

    /// IPv4 UDP packet (no link layer) with a valid UDP checksum.
    public static func ipv4UDP(
        source: UInt32, destination: UInt32, sourcePort: UInt16, destinationPort: UInt16,
        ttl: UInt8 = 64, identification: UInt16 = 0, payload: [UInt8] = []
    ) -> [UInt8] {
        var datagram = udp(sourcePort: sourcePort, destinationPort: destinationPort, payload: payload)
        setIPv4TransportChecksum(&datagram, at: 6, source: source, destination: destination, protocolNumber: IPProtocolNumber.udp)
        return ipv4(source: source, destination: destination, protocolNumber: IPProtocolNumber.udp,
                    ttl: ttl, identification: identification, payload: datagram)
    }

    /// IPv4 ICMP packet (no link layer).
    public static func ipv4ICMP(
        source: UInt32, destination: UInt32, type: UInt8, code: UInt8 = 0,
        rest: [UInt8] = [0, 0, 0, 0], ttl: UInt8 = 64, identification: UInt16 = 0, payload: [UInt8] = []
    ) -> [UInt8] {
        ipv4(source: source, destination: destination, protocolNumber: IPProtocolNumber.icmp, ttl: ttl,
             identification: identification, payload: icmp(type: type, code: code, rest: rest, payload: payload))
    }

    /// IPv6 TCP packet (no link layer) with a valid TCP checksum.
    public static func ipv6TCP(
        source: IPAddress, destination: IPAddress, sourcePort: UInt16, destinationPort: UInt16,
        flags: UInt8, sequence: UInt32 = 0, acknowledgment: UInt32 = 0, window: UInt16 = 1024,
        hopLimit: UInt8 = 64, options: [UInt8] = [], payload: [UInt8] = []
    ) -> [UInt8] {
        var segment = tcp(sourcePort: sourcePort, destinationPort: destinationPort, sequence: sequence,
                          acknowledgment: acknowledgment, flags: flags, window: window, options: options, payload: payload)
        setIPv6TransportChecksum(&segment, at: 16, source: source, destination: destination, nextHeader: IPProtocolNumber.tcp)
        return ipv6(source: source, destination: destination, nextHeader: IPProtocolNumber.tcp, hopLimit: hopLimit, payload: segment)
    }

    /// IPv6 UDP packet (no link layer) with a valid UDP checksum.
    public static func ipv6UDP(
        source: IPAddress, destination: IPAddress, sourcePort: UInt16, destinationPort: UInt16,
        hopLimit: UInt8 = 64, payload: [UInt8] = []
    ) -> [UInt8] {
        var datagram = udp(sourcePort: sourcePort, destinationPort: destinationPort, payload: payload)
        setIPv6TransportChecksum(&datagram, at: 6, source: source, destination: destination, nextHeader: IPProtocolNumber.udp)
        return ipv6(source: source, destination: destination, nextHeader: IPProtocolNumber.udp, hopLimit: hopLimit, payload: datagram)
    }

    /// Ethernet II around an IPv4 packet.
    public static func ethernetIPv4(_ packet: [UInt8], vlanTags: [(tpid: UInt16, tci: UInt16)] = []) -> [UInt8] {
        ethernet(vlanTags: vlanTags, etherType: 0x0800, payload: packet)
    }

    /// Ethernet II around an IPv6 packet.
    public static func ethernetIPv6(_ packet: [UInt8], vlanTags: [(tpid: UInt16, tci: UInt16)] = []) -> [UInt8] {
        ethernet(vlanTags: vlanTags, etherType: 0x86DD, payload: packet)
    }

    // MARK: checksums

    /// RFC 1071 one's-complement sum over `bytes`, folded and inverted.
    public static func internetChecksum(_ bytes: ArraySlice<UInt8>, initial: UInt32 = 0) -> UInt16 {
        var sum = initial
        var index = bytes.startIndex
        while index + 1 < bytes.endIndex {
            sum &+= UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.endIndex { sum &+= UInt32(bytes[index]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) &+ (sum >> 16) }
        return ~UInt16(sum)
    }

    static func setIPv4TransportChecksum(_ segment: inout [UInt8], at offset: Int, source: UInt32, destination: UInt32, protocolNumber: UInt8) {
        var pseudo: UInt32 = 0
        pseudo &+= source >> 16
        pseudo &+= source & 0xFFFF
        pseudo &+= destination >> 16
        pseudo &+= destination & 0xFFFF
        pseudo &+= UInt32(protocolNumber)
        pseudo &+= UInt32(segment.count)
        var checksum = internetChecksum(segment[...], initial: pseudo)
        if checksum == 0 && protocolNumber == IPProtocolNumber.udp { checksum = 0xFFFF }
        segment[offset] = UInt8(checksum >> 8)
        segment[offset + 1] = UInt8(checksum & 0xFF)
    }

    /// Fills the TCP/UDP/ICMPv6 checksum of `segment` at `offset` using the
    /// RFC 8200 pseudo-header (addresses, 32-bit length, next header).
    static func setIPv6TransportChecksum(_ segment: inout [UInt8], at offset: Int, source: IPAddress, destination: IPAddress, nextHeader: UInt8) {
        var pseudo: UInt32 = 0
        for word in [source.high, source.low, destination.high, destination.low] {
            for shift in stride(from: 48, through: 0, by: -16) { pseudo &+= UInt32((word >> UInt64(shift)) & 0xFFFF) }
        }
        pseudo &+= UInt32(segment.count >> 16) &+ UInt32(segment.count & 0xFFFF)
        pseudo &+= UInt32(nextHeader)
        var checksum = internetChecksum(segment[...], initial: pseudo)
        if checksum == 0 && nextHeader == IPProtocolNumber.udp { checksum = 0xFFFF }
        segment[offset] = UInt8(checksum >> 8)
        segment[offset + 1] = UInt8(checksum & 0xFF)
    }
}

extension Array where Element == UInt8 {
    @inlinable mutating func appendBE16(_ value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(value & 0xFF))
    }

    @inlinable mutating func appendBE32(_ value: UInt32) {
        appendBE16(UInt16(value >> 16))
        appendBE16(UInt16(value & 0xFFFF))
    }

    @inlinable mutating func appendBE64(_ value: UInt64) {
        appendBE32(UInt32(value >> 32))
        appendBE32(UInt32(value & 0xFFFF_FFFF))
    }

    @inlinable mutating func appendLE16(_ value: UInt16) {
        append(UInt8(value & 0xFF))
        append(UInt8(value >> 8))
    }

    @inlinable mutating func appendLE32(_ value: UInt32) {
        appendLE16(UInt16(value & 0xFFFF))
        appendLE16(UInt16(value >> 16))
    }
}
