import Decoding
import Sketches

/// Per-port figures for every TCP and UDP destination port and every
/// ICMP/ICMPv6 type: flat arrays indexed by (protocol, port), so the
/// per-packet update is an index computation, not a hash lookup.
/// Memory: 131,584 rows × 64 bytes ≈ 8 MiB, allocated once.
public struct PortTable: Sendable {
    public struct Row: Sendable, Equatable {
        public var packets: UInt64 = 0
        public var bytes: UInt64 = 0
        /// Distinct sources (from `DistinctPairs`). Distinct darknet
        /// destinations: from `DistinctPairs` in exact mode, else the row's
        /// `DestinationSketch` estimate (filled in when the row is read).
        public var sources: UInt32 = 0
        public var destinations: UInt32 = 0
        /// Packets per `TrafficClass`.
        public var classes: ClassCounts = ClassCounts()
    }

    static let tcpBase = 0
    static let udpBase = 65_536
    static let icmpBase = 131_072
    static let icmpv6Base = 131_328
    static let rowCount = 131_584

    @usableFromInline var rows: ContiguousArray<Row>
    /// Rows touched since the last `takeTouched`, for per-bucket breakdowns.
    @usableFromInline var touched: ContiguousArray<Int32>
    /// The open bucket's figures of each row.
    @usableFromInline var bucketRows: ContiguousArray<BucketRow>
    /// Sketch mode: each row's distinct destinations (64 bytes a row, 8 MiB;
    /// merged register-wise across shards). Empty in exact mode.
    @usableFromInline var destinationSketches: ContiguousArray<DestinationSketch>

    /// The open bucket's figures of one row, side by side so one cache line
    /// (and one write) serves a packet; padded to 16 bytes so no row
    /// straddles two lines.
    @usableFromInline struct BucketRow: Sendable {
        var packets: UInt32 = 0
        /// Scan-like (scan + reflection-recon) packets and their distinct
        /// sources: what the surge alerts watch.
        var scanPackets: UInt32 = 0
        var scanSources: UInt32 = 0
        var padding: UInt32 = 0
    }

    /// - Parameter destinationSketches: count each port's distinct
    ///   destinations in a `DestinationSketch` (sketch mode) instead of through
    ///   the aggregator's pair table (exact mode).
    public init(destinationSketches: Bool = false) {
        rows = .hugePageBacked(repeating: Row(), count: PortTable.rowCount)
        bucketRows = .hugePageBacked(repeating: BucketRow(), count: PortTable.rowCount)
        self.destinationSketches = destinationSketches
            ? .hugePageBacked(repeating: DestinationSketch(), count: PortTable.rowCount) : []
        touched = []
        touched.reserveCapacity(PortTable.rowCount)
    }

    /// The row of a decoded record, or nil when it has no port or type
    /// (non-first fragments, other protocols).
    @inline(__always)
    public static func rowIndex(_ r: PacketRecord) -> Int? {
        switch r.ipProtocol {
        case IPProtocolNumber.tcp where r.flags.contains(.hasPorts): return tcpBase + Int(r.destinationPort)
        case IPProtocolNumber.udp where r.flags.contains(.hasPorts): return udpBase + Int(r.destinationPort)
        case IPProtocolNumber.icmp where r.flags.contains(.hasICMP): return icmpBase + Int(r.icmpType)
        case IPProtocolNumber.icmpv6 where r.flags.contains(.hasICMP): return icmpv6Base + Int(r.icmpType)
        default: return nil
        }
    }

    /// (protocol number, port or type) of a row.
    public static func key(ofRow row: Int) -> ProtocolPort {
        switch row {
        case ..<udpBase: ProtocolPort(ipProtocol: IPProtocolNumber.tcp, port: UInt16(row))
        case ..<icmpBase: ProtocolPort(ipProtocol: IPProtocolNumber.udp, port: UInt16(row - udpBase))
        case ..<icmpv6Base: ProtocolPort(ipProtocol: IPProtocolNumber.icmp, port: UInt16(row - icmpBase))
        default: ProtocolPort(ipProtocol: IPProtocolNumber.icmpv6, port: UInt16(row - icmpv6Base))
        }
    }

    /// Prefetches what `count(row:...)` will update.
    @inline(__always)
    func prefetch(row: Int) {
        rows.prefetchElement(row)
        bucketRows.prefetch(row)
        if !destinationSketches.isEmpty { destinationSketches.prefetchElement(row) }
    }

    @inline(__always)
    mutating func count(row: Int, bytes: UInt32, trafficClass: TrafficClass) {
        var figures = rows[row]
        figures.packets &+= 1
        figures.bytes &+= UInt64(bytes)
        figures.classes.add(trafficClass)
        rows[row] = figures
        var bucket = bucketRows[row]
        let first = bucket.packets == 0
        bucket.packets &+= 1
        if trafficClass == .scan || trafficClass == .reflectionRecon { bucket.scanPackets &+= 1 }
        bucketRows[row] = bucket
        if first { touched.append(Int32(row)) }
    }

    @inline(__always)
    mutating func addBucketScanSource(row: Int) { bucketRows[row].scanSources &+= 1 }

    @inline(__always)
    mutating func addSource(row: Int) { rows[row].sources &+= 1 }

    @inline(__always)
    mutating func addDestination(row: Int) { rows[row].destinations &+= 1 }

    /// Sketch mode: one destination of the row, by its seeded hash.
    @inline(__always)
    mutating func insertDestination(row: Int, hash: UInt64) { destinationSketches[row].insert(hash: hash) }

    /// Whether destinations are sketched (sketch mode) rather than counted exactly.
    public var sketchesDestinations: Bool { !destinationSketches.isEmpty }

    public subscript(row: Int) -> Row {
        var figures = rows[row]
        if !destinationSketches.isEmpty {
            figures.destinations = UInt32(destinationSketches[row].estimate.rounded())
        }
        return figures
    }

    /// Every row with packets, by descending packets (ties: protocol, port).
    public func nonEmptyRows() -> [(key: ProtocolPort, row: Row)] {
        var result: [(key: ProtocolPort, row: Row)] = []
        for i in rows.indices where rows[i].packets > 0 {
            result.append((PortTable.key(ofRow: i), self[i]))
        }
        result.sort { $0.row.packets != $1.row.packets ? $0.row.packets > $1.row.packets : $0.key < $1.key }
        return result
    }

    /// Per-bucket figures of the rows touched since the last call, then resets them.
    mutating func takeBucket() -> [PortBucketFigures] {
        var result: [PortBucketFigures] = []
        result.reserveCapacity(touched.count)
        for row32 in touched {
            let row = Int(row32)
            let bucket = bucketRows[row]
            result.append(PortBucketFigures(key: PortTable.key(ofRow: row), packets: UInt64(bucket.packets),
                                            scanPackets: UInt64(bucket.scanPackets), scanSources: UInt64(bucket.scanSources)))
            bucketRows[row] = BucketRow()
        }
        touched.removeAll(keepingCapacity: true)
        return result
    }
}

/// One port's figures in one bucket.
public struct PortBucketFigures: Sendable, Equatable {
    public var key: ProtocolPort
    public var packets: UInt64
    /// Scan and reflection-recon packets, and their distinct sources (exact
    /// while the distinct-pair table has not evicted).
    public var scanPackets: UInt64
    public var scanSources: UInt64
}

/// Packets per traffic class.
public struct ClassCounts: Sendable, Equatable, Codable {
    public var scan: UInt64 = 0
    public var backscatter: UInt64 = 0
    public var reflectionRecon: UInt64 = 0
    public var misconfiguration: UInt64 = 0
    public var other: UInt64 = 0

    public init() {}

    @inline(__always)
    public mutating func add(_ c: TrafficClass, _ n: UInt64 = 1) {
        switch c {
        case .scan: scan &+= n
        case .backscatter: backscatter &+= n
        case .reflectionRecon: reflectionRecon &+= n
        case .misconfiguration: misconfiguration &+= n
        case .other: other &+= n
        }
    }

    public subscript(c: TrafficClass) -> UInt64 {
        switch c {
        case .scan: scan
        case .backscatter: backscatter
        case .reflectionRecon: reflectionRecon
        case .misconfiguration: misconfiguration
        case .other: other
        }
    }

    public mutating func merge(_ o: ClassCounts) {
        for c in TrafficClass.allCases { add(c, o[c]) }
    }

    public var total: UInt64 { scan &+ backscatter &+ reflectionRecon &+ misconfiguration &+ other }

    enum CodingKeys: String, CodingKey {
        case scan, backscatter, misconfiguration, other
        case reflectionRecon = "reflection-recon"
    }
}

// MARK: - Shards

extension PortTable {
    /// Adds another shard's whole-run rows. Packets, bytes and classes add;
    /// distinct sources add too, since shards see disjoint sources; distinct
    /// destinations are shared between shards, so only the sketches merge
    /// (register-wise maximum) -- exact-mode counts cannot, and exact mode
    /// runs in one shard.
    mutating func absorb(_ other: PortTable) {
        precondition(sketchesDestinations == other.sketchesDestinations, "merging port tables of different modes")
        for i in rows.indices where other.rows[i].packets > 0 {
            let o = other.rows[i]
            rows[i].packets &+= o.packets
            rows[i].bytes &+= o.bytes
            rows[i].sources &+= o.sources
            rows[i].destinations &+= o.destinations
            rows[i].classes.merge(o.classes)
            if !destinationSketches.isEmpty { destinationSketches[i].merge(other.destinationSketches[i]) }
        }
    }
}
