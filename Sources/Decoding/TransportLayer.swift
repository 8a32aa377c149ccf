/// TCP, UDP, ICMP and ICMPv6 headers, and the IP header quoted by ICMP errors.
///
/// Each function gets `segment`, the L4 bytes up to the end of the IP packet
/// (or of the capture, whichever is first), and `declaredLength`, the L4
/// length the IP header announces. When a header does not fit in `segment`,
/// the reason is `.badL4Header` if the IP header itself leaves too little
/// room for it, and `.truncatedL4` if the capture was cut.
enum TransportLayer {
    @inline(__always)
    static func decode(_ proto: UInt8, _ segment: Span<UInt8>, declaredLength: Int, into record: inout PacketRecord) -> DecodeStatus {
        switch proto {
        case IPProtocolNumber.tcp: return tcp(segment, declaredLength: declaredLength, into: &record)
        case IPProtocolNumber.udp: return udp(segment, declaredLength: declaredLength, into: &record)
        case IPProtocolNumber.icmp: return icmp(segment, declaredLength: declaredLength, version: 4, into: &record)
        case IPProtocolNumber.icmpv6: return icmp(segment, declaredLength: declaredLength, version: 6, into: &record)
        default:
            // Other protocols: decoded, no ports; the whole IP payload is payload.
            record.payloadLength = UInt16(truncatingIfNeeded: declaredLength)
            return .ok
        }
    }

    @inline(__always)
    static func short(_ declaredLength: Int, _ needed: Int) -> DecodeStatus {
        declaredLength < needed ? .badL4Header : .truncatedL4
    }

    /// TCP (RFC 9293): 20-byte header; data offset in 32-bit words, 5...15,
    /// within the IP packet. Options need not be captured.
    static func tcp(_ segment: Span<UInt8>, declaredLength: Int, into record: inout PacketRecord) -> DecodeStatus {
        guard segment.has(0, 20) else { return short(declaredLength, 20) }
        let dataOffset = Int(segment.u8(12) >> 4) &* 4
        guard dataOffset >= 20, dataOffset <= declaredLength else { return .badL4Header }
        record.sourcePort = segment.be16(0)
        record.destinationPort = segment.be16(2)
        record.tcpSequence = segment.be32(4)
        record.tcpFlags = segment.u8(13)
        record.tcpWindow = segment.be16(14)
        record.payloadLength = UInt16(truncatingIfNeeded: declaredLength &- dataOffset)
        record.flags.insert([.hasPorts, .hasTCP])
        return .ok
    }

    /// UDP (RFC 768): 8-byte header; length covers header and data, 8 or
    /// more, and no more than the IP payload — except in the first fragment
    /// of a fragmented datagram, whose length field covers every fragment.
    static func udp(_ segment: Span<UInt8>, declaredLength: Int, into record: inout PacketRecord) -> DecodeStatus {
        guard segment.has(0, 8) else { return short(declaredLength, 8) }
        let length = Int(segment.be16(4))
        guard length >= 8, length <= declaredLength || record.flags.contains(.fragment) else { return .badL4Header }
        let destinationPort = segment.be16(2)
        record.sourcePort = segment.be16(0)
        record.destinationPort = destinationPort
        record.payloadLength = UInt16(truncatingIfNeeded: length &- 8)
        record.flags.insert(.hasPorts)
        let end = min(segment.count, length)
        ProbeInspector.inspect(segment.extracting(8..<end), destinationPort: destinationPort, into: &record)
        return .ok
    }

    /// ICMP (RFC 792) / ICMPv6 (RFC 4443). The full 8-byte header is
    /// required (type, code, checksum and the 4-byte type-specific word every
    /// message carries); with fewer bytes the packet is truncated-l4 (or
    /// bad-l4-header when the IP payload is shorter than 8).
    ///
    /// Error messages quote the offending packet after the header: ICMPv4
    /// types 3 (unreachable), 4 (source quench), 5 (redirect), 11 (time
    /// exceeded), 12 (parameter problem); ICMPv6 types 1 (unreachable), 2
    /// (packet too big), 3 (time exceeded), 4 (parameter problem).
    static func icmp(_ segment: Span<UInt8>, declaredLength: Int, version: UInt8, into record: inout PacketRecord) -> DecodeStatus {
        guard segment.has(0, 8) else { return short(declaredLength, 8) }
        let type = segment.u8(0)
        record.icmpType = type
        record.icmpCode = segment.u8(1)
        record.payloadLength = UInt16(truncatingIfNeeded: declaredLength &- 8)
        record.flags.insert(.hasICMP)
        if version == 4 {
            if type == 3 || type == 4 || type == 5 || type == 11 || type == 12 {
                quotedIPv4(segment.extracting(droppingFirst: 8), into: &record)
            }
        } else if type >= 1 && type <= 4 {
            quotedIPv6(segment.extracting(droppingFirst: 8), into: &record)
        }
        return .ok
    }

    /// The IPv4 header quoted in an ICMPv4 error. A quote too short or not
    /// IPv4 leaves `.hasInner` unset; ports need the first 4 L4 bytes and a
    /// quoted first fragment (or an unfragmented packet).
    static func quotedIPv4(_ quote: Span<UInt8>, into record: inout PacketRecord) {
        guard quote.has(0, 20), quote.u8(0) >> 4 == 4 else { return }
        let headerLength = Int(quote.u8(0) & 0x0F) &* 4
        guard headerLength >= 20, quote.has(0, headerLength) else { return }
        let proto = quote.u8(9)
        record.innerProtocol = proto
        record.flags.insert(.hasInner)
        guard quote.be16(6) & 0x1FFF == 0 else { return }
        quotedPorts(quote, at: headerLength, proto: proto, into: &record)
    }

    /// The IPv6 header (and extension headers) quoted in an ICMPv6 error.
    static func quotedIPv6(_ quote: Span<UInt8>, into record: inout PacketRecord) {
        guard quote.has(0, 40), quote.u8(0) >> 4 == 6 else { return }
        let chain = NetworkLayer.walkExtensions(quote, nextHeader: quote.u8(6), offset: 40)
        guard chain.status == .ok else { return }
        record.innerProtocol = chain.nextHeader
        record.flags.insert(.hasInner)
        guard !chain.isNonFirstFragment else { return }
        quotedPorts(quote, at: chain.offset, proto: chain.nextHeader, into: &record)
    }

    @inline(__always)
    static func quotedPorts(_ quote: Span<UInt8>, at offset: Int, proto: UInt8, into record: inout PacketRecord) {
        guard proto == IPProtocolNumber.tcp || proto == IPProtocolNumber.udp, quote.has(offset, 4) else { return }
        record.innerSourcePort = quote.be16(offset)
        record.innerDestinationPort = quote.be16(offset &+ 2)
        record.flags.insert(.innerHasPorts)
    }
}
