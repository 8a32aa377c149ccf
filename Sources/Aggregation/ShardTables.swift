import Decoding
import GeoIP
import Sketches

// What a running shard shows readers (the daemon's stats socket), copied on
// the shard's own thread when the merging thread asks, and merged there:
// a running shard's tables are never read by another thread.

/// A copy of one shard's whole-run figures. A light copy (taken every
/// second) holds the counters, the distinct-source sketch and the scan and
/// attack counts; a full copy (taken once a bucket) adds the port and
/// country tables and the busiest sources. The tables are copy-on-write
/// values: taking a copy costs nothing, and the shard's next write to a table
/// pays its one copy (18 MiB for the port table), once a bucket.
public struct ShardTables: Sendable {
    /// Every packet so far, the open bucket's included.
    public var counters = PacketCounters()
    public var classes = ClassCounts()
    /// Distinct sources since start (HyperLogLog, precision 14).
    public var distinctSources = HyperLogLog(precision: 14)
    /// Scan episodes and backscatter attacks found so far (counted when they qualify).
    public var scans: UInt64 = 0
    public var attacks: UInt64 = 0
    /// Packets of a bucket already closed, counted in the open one.
    public var latePackets: UInt64 = 0
    /// Full copies only: the whole-run port and country tables, and the busiest
    /// sources (Space-Saving entries) with their detail.
    public var ports: PortTable?
    public var countries: CountryTable?
    public var topSources: [(entry: SpaceSaving<IPAddress>.Entry, detail: SourceDetail?)] = []

    public init() {}

    public var isFull: Bool { ports != nil }

    /// Several shards' copies as one. Sources are disjoint between shards,
    /// so counts add and are exact where one aggregator's are; sketches merge
    /// (register maximum); the busiest sources of the union are the busiest of
    /// all the shards' lists. Full only if every part is full.
    public static func merging(_ parts: [ShardTables], topSources n: Int) -> ShardTables {
        var merged = ShardTables()
        let full = !parts.isEmpty && parts.allSatisfy(\.isFull)
        var top: [(entry: SpaceSaving<IPAddress>.Entry, detail: SourceDetail?)] = []
        for part in parts {
            merged.counters.merge(part.counters)
            merged.classes.merge(part.classes)
            merged.distinctSources.merge(part.distinctSources)
            merged.scans &+= part.scans
            merged.attacks &+= part.attacks
            merged.latePackets &+= part.latePackets
            guard full, let ports = part.ports, let countries = part.countries else { continue }
            if merged.ports == nil {
                merged.ports = ports
                merged.countries = countries
            } else {
                merged.ports!.absorb(ports)
                merged.countries!.absorb(countries)
            }
            top += part.topSources
        }
        if full {
            top.sort { $0.entry.count != $1.entry.count ? $0.entry.count > $1.entry.count : $0.entry.key < $1.entry.key }
            merged.topSources = Array(top.prefix(n))
        }
        return merged
    }
}

extension Aggregator {
    /// A copy of this aggregator's whole-run figures (see `ShardTables`):
    /// full with `topSources` > 0, light otherwise.
    public func tables(topSources n: Int) -> ShardTables {
        var t = ShardTables()
        t.counters = counters
        t.classes = classes
        t.distinctSources = distinctSources
        t.scans = scans.episodeCount
        t.attacks = backscatter.attackCount
        t.latePackets = latePackets
        if n > 0 {
            t.ports = ports
            t.countries = countries
            t.topSources = topSourceRows(n)
        }
        return t
    }

    /// The merging thread's aggregator, fed no packet: its configuration is
    /// the run's for everything built from closed buckets (series, windows),
    /// with per-source tables of the smallest size, which it never uses.
    public static func mergingView(config: AggregationConfig, geoip: GeoIPDatabase?) -> Aggregator {
        var small = config
        small.topSourceCapacity = 1
        small.sourceDetailCapacity = 1
        small.pairSlots = 1
        small.bucketPairSlots = 1
        small.scan.capacity = 1
        small.backscatter.capacity = 1
        small.closedBucketQueue = 0
        var view = Aggregator(config: small, geoip: geoip)
        view.config = config
        view.config.closedBucketQueue = 0
        return view
    }

    /// A merged closed bucket into the series, the windows and the closed
    /// counters (the merging view's counterpart of a bucket closing).
    public mutating func recordMerged(_ summary: BucketSummary) {
        record(summary)
    }

    /// Shows `tables` (merged, full) through this aggregator's whole-run
    /// tables, for readers that take an `Aggregator` (the feed comparison,
    /// the countries section).
    public mutating func show(_ tables: ShardTables) {
        distinctSources = tables.distinctSources
        if let p = tables.ports { ports = p }
        if let c = tables.countries { countries = c }
    }
}
