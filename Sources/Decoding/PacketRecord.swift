/// An IP address in 128 bits. IPv4 addresses are stored IPv4-mapped
/// (`::ffff:a.b.c.d`), so one fixed-size type carries both families.
public struct IPAddress: Hashable, Sendable, BitwiseCopyable, Comparable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    /// The prefix sources are aggregated by (`aggregation.source_prefixes`):
    /// /24 for IPv4, /48 for IPv6.
    @inlinable
    public var sourcePrefix: IPAddress {
        isIPv4 ? IPAddress(ipv4: ipv4 & 0xFFFF_FF00) : IPAddress(high: high & 0xFFFF_FFFF_FFFF_0000, low: 0)
    }

    @inlinable
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// IPv4 from its 32-bit value in host order (`0x0A000001` is 10.0.0.1).
    @inlinable
    public init(ipv4: UInt32) {
        self.high = 0
        self.low = 0x0000_FFFF_0000_0000 | UInt64(ipv4)
    }

    @inlinable public static var zero: IPAddress { IPAddress(high: 0, low: 0) }

    @inlinable public var isIPv4: Bool { high == 0 && (low >> 32) == 0xFFFF }

    /// The IPv4 value in host order; meaningful only when `isIPv4`.
    @inlinable public var ipv4: UInt32 { UInt32(truncatingIfNeeded: low) }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        a.high != b.high ? a.high < b.high : a.low < b.low
    }

    /// Parses dotted IPv4 or RFC 4291 IPv6 text (with `::` and an embedded IPv4 tail).
    public init?(_ text: some StringProtocol) {
        if let v4 = IPAddress.parseIPv4(text) {
            self.init(ipv4: v4)
            return
        }
        guard let v6 = IPAddress.parseIPv6(text) else { return nil }
        self = v6
    }

    static func parseIPv4(_ text: some StringProtocol) -> UInt32? {
        var value: UInt32 = 0
        var octets = 0
        var current: UInt32 = 0
        var digits = 0
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                current = current * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                if digits > 3 || current > 255 { return nil }
            case UInt8(ascii: "."):
                guard digits > 0, octets < 3 else { return nil }
                value = value << 8 | current
                octets += 1
                current = 0
                digits = 0
            default:
                return nil
            }
        }
        guard digits > 0, octets == 3 else { return nil }
        return value << 8 | current
    }

    static func parseIPv6(_ text: some StringProtocol) -> IPAddress? {
        let string = String(text)
        guard string.utf8.count >= 2, string.utf8.count <= 45 else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawGap = false
        let parts = string.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3 || (parts.count >= 2 && string.contains("::")) else { return nil }
        var index = 0
        var groupsNeeded = 8
        while index < parts.count {
            let part = parts[index]
            if part.isEmpty {
                // "::" appears as one or two empty parts; leading/trailing "::" as two.
                if sawGap {
                    // Allow the second empty of a leading/trailing "::" only.
                    if index == 1 || index == parts.count - 1 { index += 1; continue }
                    return nil
                }
                if index == 0 {
                    guard parts.count > 1, parts[1].isEmpty else { return nil }
                }
                if index == parts.count - 1 {
                    guard index > 0, parts[index - 1].isEmpty || sawGap else { return nil }
                }
                sawGap = true
                index += 1
                continue
            }
            if index == parts.count - 1, part.contains(".") {
                guard let v4 = parseIPv4(part) else { return nil }
                let groups = [UInt16(v4 >> 16), UInt16(v4 & 0xFFFF)]
                if sawGap { tail += groups } else { head += groups }
                index += 1
                continue
            }
            guard part.utf8.count <= 4, let group = UInt16(part, radix: 16) else { return nil }
            if sawGap { tail.append(group) } else { head.append(group) }
            index += 1
        }
        let total = head.count + tail.count
        if sawGap {
            guard total < groupsNeeded else { return nil }
        } else {
            guard total == groupsNeeded else { return nil }
        }
        groupsNeeded = 8 - total
        let groups = head + Array(repeating: 0, count: sawGap ? groupsNeeded : 0) + tail
        var high: UInt64 = 0
        var low: UInt64 = 0
        for i in 0..<4 { high = high << 16 | UInt64(groups[i]) }
        for i in 4..<8 { low = low << 16 | UInt64(groups[i]) }
        return IPAddress(high: high, low: low)
    }

    public var description: String {
        if isIPv4 {
            let v = ipv4
            return "\(v >> 24).\((v >> 16) & 0xFF).\((v >> 8) & 0xFF).\(v & 0xFF)"
        }
        var groups: [UInt16] = []
        for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16(truncatingIfNeeded: high >> UInt64(shift))) }
        for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16(truncatingIfNeeded: low >> UInt64(shift))) }
        // RFC 5952: compress the longest run (length >= 2) of zero groups, first one on ties.
        var bestStart = -1, bestLength = 0, runStart = -1
        for i in 0...8 {
            if i < 8 && groups[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                if i - runStart > bestLength { bestStart = runStart; bestLength = i - runStart }
                runStart = -1
            }
        }
        if bestLength < 2 { bestStart = -1 }
        var out = ""
        var i = 0
        while i < 8 {
            if i == bestStart {
                out += "::"
                i += bestLength
                continue
            }
            if !out.isEmpty && !out.hasSuffix(":") { out += ":" }
            out += String(groups[i], radix: 16)
            i += 1
        }
        return out
    }
}

/// Why a captured packet did not decode into an IP record, or why it is not
/// darknet traffic (the last two cases, set by `DarknetPrefixes`). `ok`
/// means it decoded and is aggregated. Raw values are stable (they are stored
/// in records); names are the documented counter names of `docs/json-schema.md`.
public enum DecodeStatus: UInt8, Sendable, BitwiseCopyable, CaseIterable {
    case ok = 0
    /// Captured bytes end inside the link-layer header (Ethernet, VLAN tag, SLL, NULL...).
    case truncatedLink = 1
    /// The link layer carries something other than IPv4/IPv6 (ARP, LLDP, ...).
    case nonIP = 2
    /// Captured bytes end inside the IPv4/IPv6 fixed header.
    case truncatedIP = 3
    /// The IP version nibble disagrees with the link layer's protocol field.
    case badIPVersion = 4
    /// IPv4 IHL below 5, or beyond the captured or total length.
    case badIPHeaderLength = 5
    /// IPv4 total length smaller than its header.
    case badIPTotalLength = 6
    /// Captured bytes end inside an IPv6 extension header.
    case truncatedIPv6Extension = 7
    /// More IPv6 extension headers than the decoder walks (bound: 8).
    case tooManyIPv6Extensions = 8
    /// Captured bytes end inside the TCP/UDP/ICMP header.
    case truncatedL4 = 9
    /// L4 header is inconsistent (TCP data offset < 5, UDP length < 8, ...).
    case badL4Header = 10
    /// The record's link type is not one this decoder knows.
    case unsupportedLinkType = 11
    /// Decoded, but the destination is outside the configured darknet prefixes.
    case destinationOutsideDarknet = 12
    /// Decoded, but the source lies inside the darknet prefixes (the darknet's own traffic).
    case sourceInsideDarknet = 13

    public var name: String {
        switch self {
        case .ok: "ok"
        case .truncatedLink: "truncated-link"
        case .nonIP: "non-ip"
        case .truncatedIP: "truncated-ip"
        case .badIPVersion: "bad-ip-version"
        case .badIPHeaderLength: "bad-ip-header-length"
        case .badIPTotalLength: "bad-ip-total-length"
        case .truncatedIPv6Extension: "truncated-ipv6-extension"
        case .tooManyIPv6Extensions: "too-many-ipv6-extensions"
        case .truncatedL4: "truncated-l4"
        case .badL4Header: "bad-l4-header"
        case .unsupportedLinkType: "unsupported-link-type"
        case .destinationOutsideDarknet: "dst-outside-darknet"
        case .sourceInsideDarknet: "src-inside-darknet"
        }
    }

    /// The error reasons, i.e. every case except `ok`.
    public static var errorCases: [DecodeStatus] { allCases.filter { $0 != .ok } }
}

/// Application-layer probe recognised from the captured payload (reflection
/// reconnaissance). Decided while the bytes are still borrowed.
public enum ProbeKind: UInt8, Sendable, BitwiseCopyable, CaseIterable {
    case none = 0
    /// DNS query (QR = 0) to UDP/53.
    case dnsQuery = 1
    /// NTP mode 7 MON_GETLIST / MON_GETLIST_1 request to UDP/123.
    case ntpMonlist = 2
    /// Any other NTP mode 7 request to UDP/123.
    case ntpMode7 = 3
    /// SSDP `M-SEARCH` to UDP/1900.
    case ssdpMSearch = 4
    /// memcached UDP request (frame header + command) to UDP/11211.
    case memcached = 5
    /// CLDAP (LDAP over UDP) searchRequest to UDP/389.
    case cldap = 6
    /// chargen request to UDP/19.
    case chargen = 7
    /// SNMP get/getnext/getbulk request to UDP/161.
    case snmp = 8

    public var name: String {
        switch self {
        case .none: "none"
        case .dnsQuery: "dns-query"
        case .ntpMonlist: "ntp-monlist"
        case .ntpMode7: "ntp-mode7"
        case .ssdpMSearch: "ssdp-msearch"
        case .memcached: "memcached"
        case .cldap: "cldap"
        case .chargen: "chargen"
        case .snmp: "snmp"
        }
    }
}

/// Bit flags of a record.
public struct RecordFlags: OptionSet, Sendable, BitwiseCopyable {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Part of a fragmented IP datagram (IPv4 MF/offset, or an IPv6 fragment header).
    @inlinable public static var fragment: RecordFlags { RecordFlags(rawValue: 1 << 0) }
    /// A fragment other than the first: it carries no L4 header, so no ports.
    @inlinable public static var nonFirstFragment: RecordFlags { RecordFlags(rawValue: 1 << 1) }
    /// `sourcePort`/`destinationPort` are valid (TCP or UDP header decoded).
    @inlinable public static var hasPorts: RecordFlags { RecordFlags(rawValue: 1 << 2) }
    /// An ICMP/ICMPv6 error quoting an inner IP header: `inner*` fields are valid.
    @inlinable public static var hasInner: RecordFlags { RecordFlags(rawValue: 1 << 3) }
    /// The inner quoted header carried ports (`innerSourcePort`, `innerDestinationPort`).
    @inlinable public static var innerHasPorts: RecordFlags { RecordFlags(rawValue: 1 << 4) }
    /// DNS query of type ANY (255).
    @inlinable public static var dnsAny: RecordFlags { RecordFlags(rawValue: 1 << 5) }
    /// DNS query with an EDNS0 OPT record advertising a UDP buffer > 4095 bytes.
    @inlinable public static var dnsLargeEDNS: RecordFlags { RecordFlags(rawValue: 1 << 6) }
    /// The record came through at least one 802.1Q/802.1ad VLAN tag.
    @inlinable public static var vlanTagged: RecordFlags { RecordFlags(rawValue: 1 << 7) }
    /// ICMP/ICMPv6 header decoded: `icmpType`/`icmpCode` are valid.
    @inlinable public static var hasICMP: RecordFlags { RecordFlags(rawValue: 1 << 8) }
    /// TCP header decoded: `tcpFlags`, `tcpSequence`, `tcpWindow` are valid.
    @inlinable public static var hasTCP: RecordFlags { RecordFlags(rawValue: 1 << 9) }
}

/// IP protocol numbers the sensor names.
public enum IPProtocolNumber {
    public static let icmp: UInt8 = 1
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let icmpv6: UInt8 = 58
}

/// TCP flag bits as in the header's 13th byte.
public enum TCPFlag {
    public static let fin: UInt8 = 0x01
    public static let syn: UInt8 = 0x02
    public static let rst: UInt8 = 0x04
    public static let psh: UInt8 = 0x08
    public static let ack: UInt8 = 0x10
    public static let urg: UInt8 = 0x20
    public static let ece: UInt8 = 0x40
    public static let cwr: UInt8 = 0x80
}

/// One captured packet, decoded. Fixed size, trivially copyable, no heap:
/// it is what crosses the ring. Fields that a packet does not carry are zero,
/// and `flags` says which groups are valid.
public struct PacketRecord: Sendable, BitwiseCopyable {
    /// Capture time, nanoseconds since the Unix epoch (UTC).
    public var timestampNs: Int64 = 0
    public var source: IPAddress = .zero
    public var destination: IPAddress = .zero
    /// Length of the packet on the wire (pcap `len`).
    public var wireLength: UInt32 = 0
    /// Bytes captured (pcap `caplen`).
    public var capturedLength: UInt32 = 0
    /// IPv4 identification (16 bits), or the IPv6 fragment header's identification.
    public var ipID: UInt32 = 0
    public var tcpSequence: UInt32 = 0
    public var sourcePort: UInt16 = 0
    public var destinationPort: UInt16 = 0
    public var tcpWindow: UInt16 = 0
    /// Outermost VLAN ID, when `vlanTagged`.
    public var vlanID: UInt16 = 0
    /// L4 payload length implied by the headers (not what was captured).
    public var payloadLength: UInt16 = 0
    public var innerSourcePort: UInt16 = 0
    public var innerDestinationPort: UInt16 = 0
    public var flags: RecordFlags = []
    /// 4, 6, or 0 when no IP header was decoded.
    public var ipVersion: UInt8 = 0
    /// The L4 protocol number (after IPv6 extension headers).
    public var ipProtocol: UInt8 = 0
    /// IPv4 TTL or IPv6 hop limit.
    public var ttl: UInt8 = 0
    public var tcpFlags: UInt8 = 0
    public var icmpType: UInt8 = 0
    public var icmpCode: UInt8 = 0
    /// Protocol of the IP header quoted inside an ICMP error.
    public var innerProtocol: UInt8 = 0
    public var status: DecodeStatus = .ok
    public var probe: ProbeKind = .none

    public init() {}
}
