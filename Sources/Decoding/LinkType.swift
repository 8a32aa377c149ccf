/// The link-layer header types (pcap DLT / LINKTYPE values) the decoder reads.
/// See https://www.tcpdump.org/linktypes.html.
public enum LinkType: Sendable, Hashable, CaseIterable {
    /// DLT_EN10MB (1): Ethernet II, with 802.1Q / 802.1ad / 0x9100 VLAN tags, MPLS and PPPoE.
    case ethernet
    /// DLT_LINUX_SLL (113): Linux cooked capture v1, 16-byte header, protocol at offset 14.
    case linuxSLL
    /// DLT_LINUX_SLL2 (276): Linux cooked capture v2, 20-byte header, protocol at offset 0.
    case linuxSLL2
    /// Raw IP, version from the first nibble: DLT_RAW (12 on Linux, 14 on OpenBSD) and LINKTYPE_RAW (101).
    case rawIP
    /// LINKTYPE_IPV4 (228): raw IPv4 only.
    case ipv4
    /// LINKTYPE_IPV6 (229): raw IPv6 only.
    case ipv6
    /// DLT_NULL (0): BSD loopback, 4-byte address family in the capturing host's byte order.
    case null
    /// DLT_LOOP (108): as DLT_NULL, family in network byte order.
    case loop
    /// DLT_NFLOG (239): Linux netfilter NFLOG, 4-byte header then TLVs; TLV 9 holds the packet.
    case nflog

    /// The link type of a pcap DLT / LINKTYPE value, or nil if the decoder does not read it.
    public init?(dlt: Int32) {
        switch dlt {
        case 1: self = .ethernet
        case 113: self = .linuxSLL
        case 276: self = .linuxSLL2
        case 12, 14, 101: self = .rawIP
        case 228: self = .ipv4
        case 229: self = .ipv6
        case 0: self = .null
        case 108: self = .loop
        case 239: self = .nflog
        default: return nil
        }
    }

    /// The canonical LINKTYPE value (raw IP reports LINKTYPE_RAW, 101).
    public var dlt: Int32 {
        switch self {
        case .ethernet: 1
        case .linuxSLL: 113
        case .linuxSLL2: 276
        case .rawIP: 101
        case .ipv4: 228
        case .ipv6: 229
        case .null: 0
        case .loop: 108
        case .nflog: 239
        }
    }

    /// The libpcap name of the link type (`pcap_datalink_val_to_name` spelling).
    public var name: String {
        switch self {
        case .ethernet: "EN10MB"
        case .linuxSLL: "LINUX_SLL"
        case .linuxSLL2: "LINUX_SLL2"
        case .rawIP: "RAW"
        case .ipv4: "IPV4"
        case .ipv6: "IPV6"
        case .null: "NULL"
        case .loop: "LOOP"
        case .nflog: "NFLOG"
        }
    }
}
