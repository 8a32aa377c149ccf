/// Recognises UDP reflection/amplification probes by destination port and
/// the first bytes of the payload. Each recogniser is a few bounds-checked
/// reads; none allocates or follows unbounded structures.
///
/// The decoder calls `inspect` for every UDP datagram with a decoded header,
/// passing the captured payload (cut at the UDP length, so link padding is
/// not seen), which may be empty.
public enum ProbeInspector {
    /// Sets `record.probe` (and `.dnsAny` / `.dnsLargeEDNS`) for a probe to
    /// `destinationPort` carrying `payload`. Leaves the record alone otherwise.
    public static func inspect(_ payload: Span<UInt8>, destinationPort: UInt16, into record: inout PacketRecord) {
        switch destinationPort {
        case 53: dns(payload, into: &record)
        case 123: record.probe = ntp(payload)
        case 1900: if ssdp(payload) { record.probe = .ssdpMSearch }
        case 11211: if memcached(payload) { record.probe = .memcached }
        case 389: if cldap(payload) { record.probe = .cldap }
        case 19: record.probe = .chargen  // RFC 864: any datagram, even empty, asks for a reply.
        case 161: if snmp(payload) { record.probe = .snmp }
        default: break
        }
    }

    /// DNS (RFC 1035 4.1): a 12-byte header with QR = 0 and QDCOUNT ≥ 1 is a
    /// query. The first question's QNAME is walked (at most 255 bytes and 128
    /// labels; a compression pointer or reserved label type stops the walk,
    /// as questions do not use them); QTYPE 255 (ANY) sets `.dnsAny`. When
    /// ARCOUNT ≥ 1 and the next record is an EDNS0 OPT RR (RFC 6891: root
    /// name, TYPE 41), its CLASS is the requester's UDP payload size; above
    /// 4095 sets `.dnsLargeEDNS`.
    static func dns(_ p: Span<UInt8>, into record: inout PacketRecord) {
        guard p.has(0, 12), p.u8(2) & 0x80 == 0, p.be16(4) >= 1 else { return }
        record.probe = .dnsQuery
        var offset = 12
        var nameLength = 1  // the root label
        var labels = 0
        while true {
            guard p.has(offset, 1) else { return }
            let length = Int(p.u8(offset))
            offset &+= 1
            if length == 0 { break }
            guard length & 0xC0 == 0 else { return }
            labels &+= 1
            nameLength &+= length &+ 1
            guard labels <= 128, nameLength <= 255 else { return }
            offset &+= length
        }
        guard p.has(offset, 4) else { return }
        if p.be16(offset) == 255 { record.flags.insert(.dnsAny) }
        offset &+= 4
        guard p.be16(10) >= 1, p.has(offset, 5), p.u8(offset) == 0, p.be16(offset &+ 1) == 41 else { return }
        if p.be16(offset &+ 3) > 4095 { record.flags.insert(.dnsLargeEDNS) }
    }

    /// NTP mode 7 (private/implementation-specific, ntpd's ntpdc protocol):
    /// first byte & 7 == 7. The request code is the fourth byte; 42
    /// (MON_GETLIST_1) and 20 (MON_GETLIST) are the monlist amplification
    /// requests (CVE-2013-5211). Other modes are not probes.
    static func ntp(_ p: Span<UInt8>) -> ProbeKind {
        guard p.has(0, 1), p.u8(0) & 0x07 == 7 else { return .none }
        guard p.has(3, 1) else { return .ntpMode7 }
        let code = p.u8(3)
        return code == 42 || code == 20 ? .ntpMonlist : .ntpMode7
    }

    /// SSDP (UPnP Device Architecture 1.1, 1.3.2): an HTTPU request starting
    /// with the method `M-SEARCH` (case-sensitive, as HTTP methods are).
    static func ssdp(_ p: Span<UInt8>) -> Bool {
        p.matches("M-SEARCH", at: 0)
    }

    /// memcached UDP (protocol.txt, "UDP protocol"): an 8-byte frame header
    /// (request id, sequence number, datagram count, reserved = 0), then a
    /// text command. The command word must be one of memcached's text or
    /// meta commands, followed by a space, CR, LF or the end of the capture.
    static func memcached(_ p: Span<UInt8>) -> Bool {
        guard p.has(0, 9), p.be16(6) == 0 else { return false }
        var end = 8
        while end < p.count && end < 18 {
            let byte = p.u8(end)
            if byte == 0x20 || byte == 0x0D || byte == 0x0A { break }
            end &+= 1
        }
        switch end &- 8 {
        case 2:
            return p.matches("mg", at: 8) || p.matches("ms", at: 8) || p.matches("md", at: 8)
                || p.matches("ma", at: 8) || p.matches("mn", at: 8) || p.matches("me", at: 8)
        case 3:
            return p.matches("get", at: 8) || p.matches("set", at: 8) || p.matches("add", at: 8)
                || p.matches("cas", at: 8) || p.matches("gat", at: 8)
        case 4:
            return p.matches("gets", at: 8) || p.matches("gats", at: 8) || p.matches("incr", at: 8)
                || p.matches("decr", at: 8)
        case 5:
            return p.matches("stats", at: 8) || p.matches("touch", at: 8)
        case 6:
            return p.matches("append", at: 8) || p.matches("delete", at: 8)
        case 7:
            return p.matches("version", at: 8) || p.matches("replace", at: 8) || p.matches("prepend", at: 8)
        case 9:
            return p.matches("flush_all", at: 8) || p.matches("verbosity", at: 8)
        default:
            return false
        }
    }

    /// CLDAP (RFC 4511 LDAPMessage over UDP, as Active Directory's "LDAP
    /// ping"; also RFC 1798's form with a `user` DN): SEQUENCE (0x30),
    /// messageID INTEGER (0x02), optional OCTET STRING (0x04) user, then a
    /// searchRequest ([APPLICATION 3], 0x63).
    static func cldap(_ p: Span<UInt8>) -> Bool {
        guard p.has(0, 1), p.u8(0) == 0x30, var offset = berSkipHeader(p, at: 0) else { return false }
        guard let afterID = berSkip(p, at: offset, tag: 0x02) else { return false }
        offset = afterID
        if p.has(offset, 1) && p.u8(offset) == 0x04 {
            guard let afterUser = berSkip(p, at: offset, tag: 0x04) else { return false }
            offset = afterUser
        }
        return p.has(offset, 1) && p.u8(offset) == 0x63
    }

    /// SNMP v1/v2c (RFC 1157, RFC 3416): SEQUENCE (0x30), version INTEGER,
    /// community OCTET STRING, then a GetRequest (0xA0), GetNextRequest
    /// (0xA1) or GetBulkRequest (0xA5) PDU. SNMPv3 (encrypted scoped PDUs)
    /// is not recognised.
    static func snmp(_ p: Span<UInt8>) -> Bool {
        guard p.has(0, 1), p.u8(0) == 0x30, let afterSequence = berSkipHeader(p, at: 0) else { return false }
        guard let afterVersion = berSkip(p, at: afterSequence, tag: 0x02),
              let afterCommunity = berSkip(p, at: afterVersion, tag: 0x04),
              p.has(afterCommunity, 1) else { return false }
        let pdu = p.u8(afterCommunity)
        return pdu == 0xA0 || pdu == 0xA1 || pdu == 0xA5
    }

    /// Offset of the contents of the BER element at `offset` (past its tag
    /// and length; short form or long form of up to 4 length bytes), with its
    /// content length, or nil when the header was not captured.
    @inline(__always)
    static func berHeader(_ p: Span<UInt8>, at offset: Int) -> (contents: Int, length: Int)? {
        guard p.has(offset, 2) else { return nil }
        let first = p.u8(offset &+ 1)
        if first < 0x80 { return (offset &+ 2, Int(first)) }
        let count = Int(first & 0x7F)
        guard count >= 1, count <= 4, p.has(offset &+ 2, count) else { return nil }
        var length = 0
        var index = 0
        while index < count {
            length = length << 8 | Int(p.u8(offset &+ 2 &+ index))
            index &+= 1
        }
        return (offset &+ 2 &+ count, length)
    }

    /// Offset just past the header of the constructed element at `offset`.
    @inline(__always)
    static func berSkipHeader(_ p: Span<UInt8>, at offset: Int) -> Int? {
        berHeader(p, at: offset)?.contents
    }

    /// Offset just past the whole element at `offset` if it has `tag`.
    @inline(__always)
    static func berSkip(_ p: Span<UInt8>, at offset: Int, tag: UInt8) -> Int? {
        guard p.has(offset, 1), p.u8(offset) == tag, let header = berHeader(p, at: offset) else { return nil }
        return header.contents &+ header.length
    }
}
