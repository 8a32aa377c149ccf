/// Link-layer headers: find where the IP packet starts and which version the
/// link layer announces, then hand over to `NetworkLayer`.
enum LinkLayer {
    /// Most VLAN tags walked in an Ethernet header. A fifth tag makes the
    /// frame `.nonIP`: it is not cut short, it is simply not a frame the
    /// sensor reads further.
    static let maxVLANTags = 4
    /// Most MPLS labels popped. A stack without bottom-of-stack within this
    /// bound is `.nonIP`.
    static let maxMPLSLabels = 8

    static let etherTypeIPv4: UInt16 = 0x0800
    static let etherTypeIPv6: UInt16 = 0x86DD
    static let etherTypeMPLS: UInt16 = 0x8847
    static let etherTypePPPoESession: UInt16 = 0x8864

    @inline(__always)
    static func decode(_ bytes: Span<UInt8>, linkType: LinkType, into record: inout PacketRecord) -> DecodeStatus {
        switch linkType {
        case .ethernet:
            return ethernet(bytes, into: &record)
        case .linuxSLL:
            // packet type(2) ARPHRD(2) address length(2) address(8) protocol(2)
            guard bytes.has(0, 16) else { return .truncatedLink }
            return etherType(bytes.be16(14), bytes.extracting(droppingFirst: 16), into: &record)
        case .linuxSLL2:
            // protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) address length(1) address(8)
            guard bytes.has(0, 20) else { return .truncatedLink }
            return etherType(bytes.be16(0), bytes.extracting(droppingFirst: 20), into: &record)
        case .rawIP:
            return NetworkLayer.decode(bytes, expecting: 0, into: &record)
        case .ipv4:
            return NetworkLayer.decode(bytes, expecting: 4, into: &record)
        case .ipv6:
            return NetworkLayer.decode(bytes, expecting: 6, into: &record)
        case .null:
            guard bytes.has(0, 4) else { return .truncatedLink }
            // Host byte order of the capturing machine: try both.
            var version = addressFamilyVersion(bytes.le32(0))
            if version == 0 { version = addressFamilyVersion(bytes.be32(0)) }
            guard version != 0 else { return .nonIP }
            return NetworkLayer.decode(bytes.extracting(droppingFirst: 4), expecting: version, into: &record)
        case .loop:
            guard bytes.has(0, 4) else { return .truncatedLink }
            let version = addressFamilyVersion(bytes.be32(0))
            guard version != 0 else { return .nonIP }
            return NetworkLayer.decode(bytes.extracting(droppingFirst: 4), expecting: version, into: &record)
        case .nflog:
            return nflog(bytes, into: &record)
        }
    }

    /// IP version of a BSD address family: AF_INET is 2 everywhere; AF_INET6
    /// is 10 (Linux), 24 (NetBSD, OpenBSD), 28 (FreeBSD, DragonFly), 30 (macOS).
    /// 0 for anything else.
    @inline(__always)
    static func addressFamilyVersion(_ family: UInt32) -> UInt8 {
        switch family {
        case 2: 4
        case 10, 24, 28, 30: 6
        default: 0
        }
    }

    /// Ethernet II: 6+6 MAC addresses, then up to `maxVLANTags` tags
    /// (TPID 0x8100 802.1Q, 0x88A8 802.1ad, 0x9100 legacy QinQ), then the EtherType.
    @inline(__always)
    static func ethernet(_ bytes: Span<UInt8>, into record: inout PacketRecord) -> DecodeStatus {
        guard bytes.has(0, 14) else { return .truncatedLink }
        var type = bytes.be16(12)
        var offset = 14
        var tags = 0
        while type == 0x8100 || type == 0x88A8 || type == 0x9100 {
            guard tags < maxVLANTags else { return .nonIP }
            guard bytes.has(offset, 4) else { return .truncatedLink }
            if tags == 0 {
                record.vlanID = bytes.be16(offset) & 0x0FFF
                record.flags.insert(.vlanTagged)
            }
            type = bytes.be16(offset &+ 2)
            offset &+= 4
            tags &+= 1
        }
        return etherType(type, bytes.extracting(droppingFirst: offset), into: &record)
    }

    /// Dispatch on an EtherType (Ethernet, SLL, SLL2 protocol field).
    @inline(__always)
    static func etherType(_ type: UInt16, _ bytes: Span<UInt8>, into record: inout PacketRecord) -> DecodeStatus {
        switch type {
        case etherTypeIPv4:
            return NetworkLayer.decode(bytes, expecting: 4, into: &record)
        case etherTypeIPv6:
            return NetworkLayer.decode(bytes, expecting: 6, into: &record)
        case etherTypeMPLS:
            return mpls(bytes, into: &record)
        case etherTypePPPoESession:
            return pppoeSession(bytes, into: &record)
        default:
            return .nonIP
        }
    }

    /// MPLS unicast (RFC 3032): 4-byte label stack entries, bit 8 of the third
    /// byte is bottom-of-stack. After the stack, the IP version nibble says
    /// which IP follows; anything else (a pseudowire control word, 0) is non-IP.
    static func mpls(_ bytes: Span<UInt8>, into record: inout PacketRecord) -> DecodeStatus {
        var offset = 0
        var labels = 0
        while true {
            guard labels < maxMPLSLabels else { return .nonIP }
            guard bytes.has(offset, 4) else { return .truncatedLink }
            let bottom = bytes.u8(offset &+ 2) & 0x01 != 0
            offset &+= 4
            labels &+= 1
            if bottom { break }
        }
        guard bytes.has(offset, 1) else { return .truncatedIP }
        switch bytes.u8(offset) >> 4 {
        case 4: return NetworkLayer.decode(bytes.extracting(droppingFirst: offset), expecting: 4, into: &record)
        case 6: return NetworkLayer.decode(bytes.extracting(droppingFirst: offset), expecting: 6, into: &record)
        default: return .nonIP
        }
    }

    /// PPPoE session stage (RFC 2516): ver/type, code, session id, length,
    /// then the 2-byte PPP protocol: 0x0021 IPv4, 0x0057 IPv6.
    static func pppoeSession(_ bytes: Span<UInt8>, into record: inout PacketRecord) -> DecodeStatus {
        guard bytes.has(0, 8) else { return .truncatedLink }
        switch bytes.be16(6) {
        case 0x0021: return NetworkLayer.decode(bytes.extracting(droppingFirst: 8), expecting: 4, into: &record)
        case 0x0057: return NetworkLayer.decode(bytes.extracting(droppingFirst: 8), expecting: 6, into: &record)
        default: return .nonIP
        }
    }

    /// NFLOG (https://www.tcpdump.org/linktypes/LINKTYPE_NFLOG.html): a 4-byte
    /// header (address family, version, resource id), then TLVs of a
    /// little-endian 16-bit length (including the 4-byte TLV header), a
    /// little-endian 16-bit type, the value, padding to 4 bytes. TLV type 9
    /// (NFULA_PAYLOAD) holds the IP packet.
    ///
    /// A TLV length below 4, or a TLV other than the payload running past the
    /// captured bytes, means the TLV chain cannot be walked: `.truncatedLink`.
    /// The payload TLV itself may be cut by the snap length; its captured part
    /// is decoded (IP truncation is then reported by the IP layer). No payload
    /// TLV at all is `.nonIP`, unless the capture was cut short (caplen <
    /// wire length), then it is `.truncatedLink`.
    static func nflog(_ bytes: Span<UInt8>, into record: inout PacketRecord) -> DecodeStatus {
        guard bytes.has(0, 4) else { return .truncatedLink }
        let expected: UInt8 = switch bytes.u8(0) {
        case 2: 4  // AF_INET
        case 10: 6  // AF_INET6
        default: 0
        }
        var offset = 4
        while bytes.has(offset, 4) {
            let length = Int(bytes.le16(offset))
            let type = bytes.le16(offset &+ 2) & 0x3FFF  // drop NLA_F_NESTED / NLA_F_NET_BYTEORDER
            guard length >= 4 else { return .truncatedLink }
            if type == 9 {
                let end = min(offset &+ length, bytes.count)
                return NetworkLayer.decode(bytes.extracting((offset &+ 4)..<end), expecting: expected, into: &record)
            }
            guard bytes.has(offset, length) else { return .truncatedLink }
            offset &+= (length &+ 3) & ~3
        }
        // Bytes left over that cannot hold a TLV header, or a capture cut short
        // (caplen < wire length) before the payload TLV: cut inside the TLV chain.
        if offset < bytes.count || record.capturedLength < record.wireLength { return .truncatedLink }
        return .nonIP
    }
}
