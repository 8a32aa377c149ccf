import Decoding

/// Exact packet counters: every record read is counted once, either as
/// decoded or under its decode-error reason, so
/// `total == decoded + Σ decodeErrors` always holds.
public struct PacketCounters: Sendable, Equatable {
    public internal(set) var total: UInt64 = 0
    public internal(set) var decoded: UInt64 = 0
    /// Wire bytes of all records (pcap `len`).
    public internal(set) var bytes: UInt64 = 0
    public internal(set) var ipv4: UInt64 = 0
    public internal(set) var ipv6: UInt64 = 0
    public internal(set) var tcp: UInt64 = 0
    public internal(set) var udp: UInt64 = 0
    public internal(set) var icmp: UInt64 = 0
    public internal(set) var icmpv6: UInt64 = 0
    public internal(set) var otherIP: UInt64 = 0
    /// IP fragments (first and later); `nonFirstFragments` carry no ports.
    public internal(set) var fragments: UInt64 = 0
    public internal(set) var nonFirstFragments: UInt64 = 0
    /// Indexed by `DecodeStatus.rawValue`; slot 0 (`ok`) stays 0.
    public internal(set) var decodeErrors: [UInt64]
    /// First and last packet time seen (ns since the epoch); nil before any.
    public internal(set) var firstTimestampNs: Int64?
    public internal(set) var lastTimestampNs: Int64?

    public init() {
        decodeErrors = Array(repeating: 0, count: Int(DecodeStatus.allCases.map(\.rawValue).max()!) + 1)
    }

    public mutating func add(_ record: borrowing PacketRecord) {
        total &+= 1
        bytes &+= UInt64(record.wireLength)
        let time = record.timestampNs
        if firstTimestampNs == nil || time < firstTimestampNs! { firstTimestampNs = time }
        if lastTimestampNs == nil || time > lastTimestampNs! { lastTimestampNs = time }
        guard record.status == .ok else {
            decodeErrors[Int(record.status.rawValue)] &+= 1
            return
        }
        decoded &+= 1
        if record.ipVersion == 4 { ipv4 &+= 1 } else { ipv6 &+= 1 }
        if record.flags.contains(.fragment) {
            fragments &+= 1
            if record.flags.contains(.nonFirstFragment) { nonFirstFragments &+= 1 }
        }
        switch record.ipProtocol {
        case IPProtocolNumber.tcp: tcp &+= 1
        case IPProtocolNumber.udp: udp &+= 1
        case IPProtocolNumber.icmp: icmp &+= 1
        case IPProtocolNumber.icmpv6: icmpv6 &+= 1
        default: otherIP &+= 1
        }
    }

    /// Adds another interval's counters (per-interval state merged at the boundary).
    public mutating func merge(_ other: PacketCounters) {
        total &+= other.total
        decoded &+= other.decoded
        bytes &+= other.bytes
        ipv4 &+= other.ipv4
        ipv6 &+= other.ipv6
        tcp &+= other.tcp
        udp &+= other.udp
        icmp &+= other.icmp
        icmpv6 &+= other.icmpv6
        otherIP &+= other.otherIP
        fragments &+= other.fragments
        nonFirstFragments &+= other.nonFirstFragments
        for i in decodeErrors.indices { decodeErrors[i] &+= other.decodeErrors[i] }
        if let t = other.firstTimestampNs, firstTimestampNs.map({ t < $0 }) ?? true { firstTimestampNs = t }
        if let t = other.lastTimestampNs, lastTimestampNs.map({ t > $0 }) ?? true { lastTimestampNs = t }
    }

    /// Count for one reason.
    public func errors(_ reason: DecodeStatus) -> UInt64 { decodeErrors[Int(reason.rawValue)] }

    /// Σ decode errors.
    public var totalErrors: UInt64 { decodeErrors.reduce(0, &+) }
}
