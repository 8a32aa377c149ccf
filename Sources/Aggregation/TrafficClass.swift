import Decoding

/// What a darknet packet is, decided per packet from header fields (and the
/// probe recognised while decoding). One class per packet; the order of the
/// checks in `Classifier.classify` is the precedence. docs/classes.md.
public enum TrafficClass: UInt8, Sendable, BitwiseCopyable, CaseIterable, Codable {
    /// TCP SYN without ACK; UDP to a service port; ICMP/ICMPv6 echo request.
    case scan = 0
    /// Replies to packets someone sent with a spoofed darknet source: TCP
    /// SYN-ACK or RST; ICMP echo reply and errors; UDP from port 53
    /// (CAIDA corsaro3's backscatter definition).
    case backscatter = 1
    /// Probes for reflection amplifiers, recognised from the payload.
    case reflectionRecon = 2
    /// Broadcast/LAN-sync traffic that leaked to the darknet.
    case misconfiguration = 3
    case other = 4

    public var name: String {
        switch self {
        case .scan: "scan"
        case .backscatter: "backscatter"
        case .reflectionRecon: "reflection-recon"
        case .misconfiguration: "misconfiguration"
        case .other: "other"
        }
    }

    public static let count = allCases.count
}

/// Well-known scanner fingerprints, from header fields of TCP SYN probes.
public enum ScannerFingerprint: UInt8, Sendable, BitwiseCopyable, CaseIterable, Codable {
    case none = 0
    /// ZMap sets the IPv4 identification to 54321.
    case zmap = 1
    /// Masscan: IP ID == (low 16 bits of dst IP) ⊕ dst port ⊕ (low 16 bits of TCP seq).
    case masscan = 2
    /// Mirai: TCP sequence number == destination IPv4 address.
    case mirai = 3

    public var name: String {
        switch self {
        case .none: "none"
        case .zmap: "zmap"
        case .masscan: "masscan"
        case .mirai: "mirai"
        }
    }
}

/// Per-packet classification: a few comparisons, no allocation.
public enum Classifier {
    /// ICMPv4 types counted as backscatter: echo reply, unreachable, source
    /// quench, redirect, time exceeded, parameter problem, timestamp reply,
    /// information reply, address mask reply.
    static let icmpBackscatterTypes: UInt32 = (1 << 0) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 11) | (1 << 12) | (1 << 14) | (1 << 16) | (1 << 18)

    /// UDP ports that count as misconfiguration when they reach a darknet:
    /// NetBIOS datagram/name (138, 137), DHCP (67, 68), SSDP NOTIFY-style
    /// broadcasts are caught by 1900 only as probes, mDNS (5353), LLMNR (5355),
    /// Dropbox LAN sync (17500), HASP licence manager broadcasts (1947).
    public static func isMisconfigurationPort(_ port: UInt16) -> Bool {
        switch port {
        case 137, 138, 67, 68, 5353, 5355, 17500, 1947: true
        default: false
        }
    }

    /// UDP destination ports treated as services for the scan class: every
    /// port below 1024 plus the registered services that scanners sweep.
    public static func isUDPServicePort(_ port: UInt16) -> Bool {
        if port < 1024 { return true }
        switch port {
        case 1194, 1434, 1701, 1723, 1812, 1900, 2049, 3283, 3389, 3478, 3702, 4500, 5060, 5351, 5683,
             6881, 8080, 10001, 11211, 17185, 20000, 27015, 30718, 32414, 33848, 37810, 47808, 64738:
            return true
        default:
            return false
        }
    }

    public static func classify(_ r: PacketRecord) -> TrafficClass {
        if r.probe != .none { return .reflectionRecon }
        switch r.ipProtocol {
        case IPProtocolNumber.tcp:
            guard r.flags.contains(.hasTCP) else { return .other }
            let flags = r.tcpFlags
            if flags & TCPFlag.rst != 0 { return .backscatter }
            if flags & (TCPFlag.syn | TCPFlag.ack) == (TCPFlag.syn | TCPFlag.ack) { return .backscatter }
            if flags & (TCPFlag.syn | TCPFlag.ack) == TCPFlag.syn { return .scan }
            return .other
        case IPProtocolNumber.udp:
            guard r.flags.contains(.hasPorts) else { return .other }
            if r.sourcePort == 53 { return .backscatter }
            if isMisconfigurationPort(r.destinationPort) { return .misconfiguration }
            if isUDPServicePort(r.destinationPort) { return .scan }
            return .other
        case IPProtocolNumber.icmp:
            guard r.flags.contains(.hasICMP) else { return .other }
            if r.icmpType == 8 { return .scan }
            if r.icmpType < 32 && icmpBackscatterTypes & (1 << UInt32(r.icmpType)) != 0 { return .backscatter }
            return .other
        case IPProtocolNumber.icmpv6:
            guard r.flags.contains(.hasICMP) else { return .other }
            switch r.icmpType {
            case 128: return .scan  // echo request
            case 1, 2, 3, 4, 129: return .backscatter  // errors and echo reply
            default: return .other
            }
        default:
            return .other
        }
    }

    public static func fingerprint(_ r: PacketRecord) -> ScannerFingerprint {
        guard r.ipProtocol == IPProtocolNumber.tcp, r.flags.contains(.hasTCP),
              r.tcpFlags & (TCPFlag.syn | TCPFlag.ack) == TCPFlag.syn else { return .none }
        if r.destination.isIPv4 && r.tcpSequence == r.destination.ipv4 { return .mirai }
        guard r.ipVersion == 4 else { return .none }
        if r.ipID == 54321 { return .zmap }
        let masscan = UInt32(UInt16(truncatingIfNeeded: r.destination.ipv4) ^ r.destinationPort ^ UInt16(truncatingIfNeeded: r.tcpSequence))
        if r.ipID == masscan { return .masscan }
        return .none
    }
}
