/// IPv4 and IPv6 headers, IPv6 extension headers and fragments.
enum NetworkLayer {
    /// Most IPv6 extension headers walked (hop-by-hop, routing, fragment,
    /// destination options, AH). A ninth is `.tooManyIPv6Extensions`.
    static let maxIPv6Extensions = 8

    /// Decodes the IP packet that starts at `bytes[0]`. `expecting` is the
    /// version the link layer announced (4 or 6), or 0 when the link layer
    /// leaves it to the version nibble (raw IP).
    @inline(__always)
    static func decode(_ bytes: Span<UInt8>, expecting: UInt8, into record: inout PacketRecord) -> DecodeStatus {
        guard bytes.has(0, 1) else { return .truncatedIP }
        let version = bytes.u8(0) >> 4
        if expecting != 0 && version != expecting { return .badIPVersion }
        switch version {
        case 4: return ipv4(bytes, into: &record)
        case 6: return ipv6(bytes, into: &record)
        default: return .badIPVersion
        }
    }

    /// IPv4 (RFC 791).
    ///
    /// Order of checks: fewer than 20 bytes captured → truncated-ip; IHL < 5 →
    /// bad-ip-header-length; total length < 20 → bad-ip-total-length; IHL*4 >
    /// total length → bad-ip-header-length; header (with options) not all
    /// captured → truncated-ip.
    static func ipv4(_ bytes: Span<UInt8>, into record: inout PacketRecord) -> DecodeStatus {
        guard bytes.has(0, 20) else { return .truncatedIP }
        let headerLength = Int(bytes.u8(0) & 0x0F) &* 4
        let totalLength = Int(bytes.be16(2))
        guard headerLength >= 20 else { return .badIPHeaderLength }
        guard totalLength >= 20 else { return .badIPTotalLength }
        guard headerLength <= totalLength else { return .badIPHeaderLength }
        guard bytes.has(0, headerLength) else { return .truncatedIP }

        record.ipVersion = 4
        record.ipID = UInt32(bytes.be16(4))
        record.ttl = bytes.u8(8)
        let proto = bytes.u8(9)
        record.ipProtocol = proto
        record.source = IPAddress(ipv4: bytes.be32(12))
        record.destination = IPAddress(ipv4: bytes.be32(16))

        let declaredPayload = totalLength &- headerLength
        let fragmentField = bytes.be16(6)
        let moreFragments = fragmentField & 0x2000 != 0
        let fragmentOffset = fragmentField & 0x1FFF
        if moreFragments || fragmentOffset != 0 {
            record.flags.insert(.fragment)
            if fragmentOffset != 0 {
                record.flags.insert(.nonFirstFragment)
                record.payloadLength = UInt16(truncatingIfNeeded: declaredPayload)
                return .ok
            }
        }
        // The IP packet ends at its total length or at the capture, whichever
        // comes first: trailing link-layer padding is not payload.
        let end = min(bytes.count, totalLength)
        return TransportLayer.decode(proto, bytes.extracting(headerLength..<end),
                                     declaredLength: declaredPayload, into: &record)
    }

    /// IPv6 (RFC 8200) with its extension headers.
    static func ipv6(_ bytes: Span<UInt8>, into record: inout PacketRecord) -> DecodeStatus {
        guard bytes.has(0, 40) else { return .truncatedIP }
        record.ipVersion = 6
        let payloadLength = Int(bytes.be16(4))
        let nextHeader = bytes.u8(6)
        record.ttl = bytes.u8(7)
        record.source = IPAddress(high: bytes.be64(8), low: bytes.be64(16))
        record.destination = IPAddress(high: bytes.be64(24), low: bytes.be64(32))
        record.ipProtocol = nextHeader

        // Payload length 0 with a hop-by-hop header may be a jumbogram
        // (RFC 2675): then the capture bounds the packet.
        let declaredEnd = (payloadLength == 0 && nextHeader == 0) ? bytes.count : 40 &+ payloadLength
        let packet = bytes.extracting(0..<min(bytes.count, declaredEnd))

        let chain = walkExtensions(packet, nextHeader: nextHeader, offset: 40)
        record.ipProtocol = chain.nextHeader
        if chain.isFragment {
            record.flags.insert(.fragment)
            record.ipID = chain.identification
        }
        guard chain.status == .ok else { return chain.status }
        let declaredPayload = declaredEnd &- chain.offset
        if chain.isNonFirstFragment {
            record.flags.insert(.nonFirstFragment)
            record.payloadLength = UInt16(truncatingIfNeeded: declaredPayload)
            return .ok
        }
        if chain.nextHeader == 59 { return .ok }  // No Next Header: nothing follows.
        return TransportLayer.decode(chain.nextHeader, packet.extracting(chain.offset..<packet.count),
                                     declaredLength: declaredPayload, into: &record)
    }

    /// Where an IPv6 extension header chain ends.
    struct IPv6Chain {
        var status: DecodeStatus = .ok
        /// The header that follows the last extension header walked.
        var nextHeader: UInt8
        /// Offset of that header.
        var offset: Int
        var isFragment = false
        var isNonFirstFragment = false
        var identification: UInt32 = 0
    }

    /// Walks hop-by-hop (0), routing (43), fragment (44), AH (51) and
    /// destination options (60) headers within `packet`, at most
    /// `maxIPv6Extensions`. Stops at a non-first fragment (what follows is
    /// not a header).
    @inline(__always)
    static func walkExtensions(_ packet: Span<UInt8>, nextHeader first: UInt8, offset start: Int) -> IPv6Chain {
        var chain = IPv6Chain(nextHeader: first, offset: start)
        var walked = 0
        while true {
            let header = chain.nextHeader
            guard header == 0 || header == 43 || header == 44 || header == 51 || header == 60 else { return chain }
            guard walked < maxIPv6Extensions else { chain.status = .tooManyIPv6Extensions; return chain }
            walked &+= 1
            let headerLength: Int
            if header == 44 {
                headerLength = 8
            } else {
                guard packet.has(chain.offset, 2) else { chain.status = .truncatedIPv6Extension; return chain }
                let units = Int(packet.u8(chain.offset &+ 1))
                // AH (RFC 4302) counts 4-octet units minus 2; the others
                // (RFC 8200) 8-octet units not counting the first 8.
                headerLength = header == 51 ? (units &+ 2) &* 4 : (units &+ 1) &* 8
            }
            guard packet.has(chain.offset, headerLength) else { chain.status = .truncatedIPv6Extension; return chain }
            chain.nextHeader = packet.u8(chain.offset)
            if header == 44 {
                chain.isFragment = true
                chain.identification = packet.be32(chain.offset &+ 4)
                let fragmentOffset = packet.be16(chain.offset &+ 2) >> 3
                chain.offset &+= 8
                if fragmentOffset != 0 {
                    chain.isNonFirstFragment = true
                    return chain
                }
            } else {
                chain.offset &+= headerLength
            }
        }
    }
}
