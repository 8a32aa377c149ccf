import Decoding
import Foundation
import GeoIP
import Sketches

// Aggregation in shards: each shard is an `Aggregator` fed only the records
// of its sources (`Capture.ShardRouter`), so every per-source structure is
// disjoint between shards. Closed buckets merge into the one `BucketSummary`
// the rest of the sensor uses once every shard has passed them
// (`BucketMerger`); at the end of a run the shards' whole-run tables merge
// into one `Aggregator` (`Aggregator.merged`). CAIDA corsaro3's interval merge.
//
// Exact after the merge, for any number of shards: packets, bytes, classes and
// fingerprints per bucket, port and country; distinct sources per port and
// country, and per-bucket scan sources of a port (sources are disjoint); scan
// episodes and backscatter attacks (keyed by source or victim). Estimates
// whose bounds hold as for one shard: HyperLogLog distinct counts (register
// maximum: the sketch of the union), per-port distinct destinations
// (`DestinationSketch` merge), top sources (`SpaceSaving.mergeDisjoint`).
// Exact mode (`--exact`) counts destinations in one pair table, which does
// not merge: it runs in one shard.

extension AggregationConfig {
    /// The configuration of each of `shards` shards: the same, except that
    /// - the per-source tables (source details, distinct pairs, scan and
    ///   backscatter candidates) get 1/`shards` of the capacity each, since a
    ///   shard sees 1/`shards` of the sources: memory and total capacity stay
    ///   those of one aggregator (the merge adds the capacities back up);
    /// - a shard's summaries keep every port touched in their bucket (the cut
    ///   to `bucketPorts` is made after the merge), every summary is queued for
    ///   the merge, and a shard keeps no windows or series of its own (those
    ///   are rebuilt from the merged summaries).
    public func shardConfiguration(shards: Int) -> AggregationConfig {
        var c = self
        let n = Swift.max(1, shards)
        c.sourceDetailCapacity = Swift.max(1024, sourceDetailCapacity / n)
        c.pairSlots = Swift.max(1 << 12, pairSlots / n)
        c.bucketPairSlots = Swift.max(1 << 12, bucketPairSlots / n)
        c.scan.capacity = Swift.max(1024, scan.capacity / n)
        c.backscatter.capacity = Swift.max(1024, backscatter.capacity / n)
        c.bucketPorts = .max
        c.closedBucketQueue = .max
        c.windowBuckets = []
        c.maxSeriesBuckets = 1
        return c
    }
}

extension BucketSummary {
    /// One bucket's summaries from several shards (same start and length) as
    /// one: counts add, HyperLogLog registers take the maximum, port and
    /// country rows add by key, each watched port keeps its 5 busiest sources,
    /// scans and attacks are united (in the order they qualified), the top
    /// sources (disjoint: a source lives in one shard) keep the `topSources` busiest.
    /// `keepPorts` cuts the merged port list as a single aggregator would.
    static func merging(_ parts: [BucketSummary], topSources: Int,
                        keepPorts: ([PortBucketFigures]) -> [PortBucketFigures]) -> BucketSummary {
        precondition(!parts.isEmpty, "nothing to merge")
        var merged = parts[0]
        var ports: [ProtocolPort: PortBucketFigures] = [:]
        var countries: [CountryCode: UInt64] = [:]
        var watched: [UInt16: [(address: IPAddress, packets: UInt64)]] = [:]
        var top = TopSelection(limit: topSources)
        for (i, part) in parts.enumerated() {
            precondition(part.startNs == merged.startNs && part.lengthNs == merged.lengthNs, "merging different buckets")
            if i > 0 {
                merged.counters.merge(part.counters)
                merged.classes.merge(part.classes)
                merged.sources.merge(part.sources)
                merged.newScans += part.newScans
                merged.newAttacks += part.newAttacks
            }
            for figures in part.ports {
                if var known = ports[figures.key] {
                    known.packets &+= figures.packets
                    known.scanPackets &+= figures.scanPackets
                    known.scanSources &+= figures.scanSources
                    ports[figures.key] = known
                } else {
                    ports[figures.key] = figures
                }
            }
            for (code, packets) in part.countries { countries[code, default: 0] &+= packets }
            for (port, sources) in part.watchedTopSources { watched[port, default: []] += sources }
            for source in part.topSources { top.offer(source.address, source.packets) }
        }
        merged.topSources = top.sorted
        let touched = Array(ports.values)
        merged.ports = keepPorts(touched)
        merged.portCount = touched.count
        merged.countries = countries.sorted { $0.key < $1.key }.map { (code: $0.key, packets: $0.value) }
        merged.watchedTopSources = watched.mapValues { sources in
            Array(sources.sorted { $0.packets != $1.packets ? $0.packets > $1.packets : $0.address < $1.address }.prefix(5))
        }
        // In the order one aggregator would have found them: a newly qualified
        // episode's or attack's end is the time of the packet that qualified it.
        merged.newScans.sort { ($0.endNs, $0.source, $0.ipProtocol, $0.port) < ($1.endNs, $1.source, $1.ipProtocol, $1.port) }
        merged.newAttacks.sort { ($0.endNs, $0.victim, $0.ipProtocol) < ($1.endNs, $1.victim, $1.ipProtocol) }
        return merged
    }
}

/// Collects the shards' closed buckets and hands out each bucket, merged,
/// once every shard has passed it: a shard has passed a bucket when it has
/// closed it, or when its progress (the start of its open bucket, or the
/// dispatcher's clock when it is idle) lies beyond it. Buckets come out in
/// time order; a bucket no shard had packets in does not come out at all,
/// as with one aggregator.
public struct BucketMerger: Sendable {
    public let shards: Int
    let bucketPorts: Int
    let bucketTopSources: Int
    let watchedPortMask: [Bool]
    var pending: [Int64: [BucketSummary]] = [:]
    /// Per shard: every bucket starting before this has been handed in.
    var progress: [Int64]

    /// - Parameter config: the run's configuration (not a shard's): it
    ///   decides which ports a merged bucket keeps.
    public init(shards: Int, config: AggregationConfig) {
        self.shards = shards
        self.progress = Array(repeating: .min, count: shards)
        self.bucketPorts = config.bucketPorts
        self.bucketTopSources = config.bucketTopSources
        self.watchedPortMask = Aggregator.watchedMask(config)
    }

    /// Summaries shard `shard` closed, oldest first.
    public mutating func add(_ summaries: [BucketSummary], shard: Int) {
        for s in summaries { pending[s.startNs, default: []].append(s) }
    }

    /// Shard `shard` has handed in every bucket that starts before `startNs`.
    public mutating func advance(shard: Int, to startNs: Int64) {
        if startNs > progress[shard] { progress[shard] = startNs }
    }

    /// The buckets every shard has passed, merged, oldest first.
    public mutating func takeReady() -> [BucketSummary] {
        let passed = progress.min() ?? .min
        return take { $0 < passed }
    }

    /// Every bucket still pending, merged, oldest first: once all shards have finished.
    public mutating func takeAll() -> [BucketSummary] {
        take { _ in true }
    }

    mutating func take(where ready: (Int64) -> Bool) -> [BucketSummary] {
        let starts = pending.keys.filter(ready).sorted()
        return starts.map { start in
            let parts = pending.removeValue(forKey: start)!
            return BucketSummary.merging(parts, topSources: bucketTopSources) {
                Aggregator.keptPorts($0, limit: bucketPorts, watched: watchedPortMask)
            }
        }
    }
}

extension ScanDetector {
    /// Another shard's episodes and candidates (disjoint sources).
    mutating func absorb(_ others: [ScanDetector]) {
        table = BoundedTable(merging: [table] + others.map(\.table))
        for other in others {
            episodeCount &+= other.episodeCount
            episodes += other.episodes.prefix(Swift.max(0, config.maxEpisodes - episodes.count))
        }
    }
}

extension BackscatterDetector {
    /// Another shard's attacks and candidates (disjoint victims).
    mutating func absorb(_ others: [BackscatterDetector]) {
        table = BoundedTable(merging: [table] + others.map(\.table))
        for other in others {
            attackCount &+= other.attackCount
            attacks += other.attacks.prefix(Swift.max(0, config.maxAttacks - attacks.count))
        }
    }
}

extension CountryTable {
    /// Another shard's whole-run rows: every figure adds (sources are disjoint).
    mutating func absorb(_ other: CountryTable) {
        for i in rows.indices where other.rows[i].packets > 0 {
            rows[i].packets &+= other.rows[i].packets
            rows[i].bytes &+= other.rows[i].bytes
            rows[i].sources &+= other.rows[i].sources
            rows[i].classes.merge(other.rows[i].classes)
        }
    }
}

extension Aggregator {
    /// One aggregator from shards that have all finished, and the merged
    /// summaries of their buckets (from a `BucketMerger`, oldest first). The
    /// result reads like one aggregator that saw every record: its series,
    /// windows and counters come from the merged summaries, its whole-run
    /// tables from the shards' (table capacities and evictions add up).
    ///
    /// - Parameter config: the run's configuration (not a shard's).
    public static func merged(_ shards: consuming [Aggregator], summaries: [BucketSummary],
                              config: AggregationConfig) -> Aggregator {
        precondition(!shards.isEmpty, "nothing to merge")
        precondition(!config.exact || shards.count == 1, "exact mode runs in one shard")
        var m = shards.removeFirst()
        precondition(m.currentBucket == nil, "merging a shard with an open bucket")
        let others = shards
        for other in others {
            precondition(other.currentBucket == nil, "merging a shard with an open bucket")
            for i in m.fingerprints.indices { m.fingerprints[i] &+= other.fingerprints[i] }
            m.ports.absorb(other.ports)
            m.countries.absorb(other.countries)
            m.pairs.absorbFigures(of: other.pairs)
            m.bucketPairEvictions &+= other.bucketPairEvictions
            m.topSources.mergeDisjoint(other.topSources)
            m.distinctSources.merge(other.distinctSources)
            m.distinctDestinations.merge(other.distinctDestinations)
            m.exactSources.formUnion(other.exactSources)
            m.exactSourcesComplete = m.exactSourcesComplete && other.exactSourcesComplete
            m.latePackets &+= other.latePackets
            m.seriesDropped = Swift.max(m.seriesDropped, other.seriesDropped)
        }
        if !others.isEmpty {
            m.sourceDetails = BoundedTable(merging: [m.sourceDetails] + others.map(\.sourceDetails))
            m.scans.absorb(others.map(\.scans))
            m.backscatter.absorb(others.map(\.backscatter))
        }
        // The run's configuration, and everything derived from closed buckets
        // rebuilt from the merged ones.
        var result = Aggregator(sharing: m, config: config)
        result.shards = others.count + 1
        for summary in summaries { result.record(summary) }
        return result
    }

    /// `m`'s whole-run tables under `config`, with no closed bucket recorded.
    init(sharing m: Aggregator, config: AggregationConfig) {
        self = m
        self.config = config
        closedCounters = PacketCounters()
        closedClasses = ClassCounts()
        series = []
        seriesDropped = 0
        windows = config.windowBuckets.map { RollingWindow(buckets: $0) }
        closedBuckets = []
    }
}

/// How many aggregation shards (threads) to run: `aggregation.threads` and
/// `analyze --threads`.
public enum AggregationThreads: Sendable, Equatable, CustomStringConvertible {
    /// The cores left after the capture thread, at least 1.
    case auto
    case count(Int)

    /// "auto" or a whole number from 1 to 64.
    public init?(_ text: String) {
        if text == "auto" {
            self = .auto
        } else if let n = Int(text), (1...64).contains(n) {
            self = .count(n)
        } else {
            return nil
        }
    }

    /// The number of shards on this machine, beside `captureThreads` capture threads.
    public func resolved(captureThreads: Int = 1) -> Int {
        switch self {
        case .auto: Swift.max(1, ProcessInfo.processInfo.activeProcessorCount - captureThreads)
        case .count(let n): n
        }
    }

    public var description: String {
        switch self {
        case .auto: "auto"
        case .count(let n): "\(n)"
        }
    }
}
