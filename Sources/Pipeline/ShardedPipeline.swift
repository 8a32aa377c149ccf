import Aggregation
import Capture
import Decoding
import Foundation
import GeoIP
import Ring
import Synchronization

/// Capture thread → one ring per shard → N aggregator threads, and the
/// calling thread merging their closed buckets as every shard passes them
/// (`BucketMerger`) and, at the end, their whole-run tables
/// (`Aggregator.merged`). Records go to shards by a keyed hash of their
/// source (`ShardRouter`), so per-source state never spans two shards.
public struct ShardedPipeline: Sendable {
    public let shards: Int
    /// Ring slots per shard (default: 65,536 live, 4,096 for files, as `Pipeline`).
    public var ringCapacity: Int?
    public var drainLimit: Int = 4096
    /// Records that are not darknet traffic are counted, not aggregated (`DarknetPrefixes`).
    public var darknet = DarknetPrefixes.everything

    public init(shards: Int) {
        precondition(shards >= 1, "at least one shard")
        self.shards = shards
    }

    /// Reads `source` to its end (or `packetLimit`, or until `tick` stops the
    /// engine), aggregating in `shards` threads under `config`; `onBucket`
    /// gets each merged closed bucket on the calling thread, oldest first.
    /// `tick` runs on the calling thread about every `tickInterval` with the
    /// engine, the rings' counters in total and every shard's packet counters
    /// added (for live summaries). Returns the run and the merged aggregator.
    public func run(
        source: PacketSource,
        config: AggregationConfig,
        geoip: GeoIPDatabase?,
        packetLimit: UInt64? = nil,
        tickInterval: Duration = .seconds(1),
        tick: ((CaptureEngine, RingCounters, PacketCounters) -> Void)? = nil,
        onStart: ((CaptureEngine) -> Void)? = nil,
        onBucket: (BucketSummary) -> Void = { _ in }
    ) -> (run: Pipeline.Run, aggregator: Aggregator) {
        let isLive: Bool
        if case .live = source { isLive = true } else { isLive = false }
        let rings = (0..<shards).map { _ in
            SPSCRing<PacketRecord>(capacity: ringCapacity ?? (isLive ? 1 << 16 : 1 << 12))
        }
        let router = ShardRouter(shards: shards, seed: config.hashSeed, bySourcePrefix: config.aggregateSourcePrefixes)
        let engine = CaptureEngine(source: source, producer: ShardedProducer(rings: rings), router: router,
                                   policy: isLive ? .drop : .wait, packetLimit: packetLimit, darknet: darknet)
        let shardConfig = config.shardConfiguration(shards: shards)
        let workers = rings.enumerated().map { i, ring in
            ShardWorker(index: i, rings: [ring], idleClock: { engine.clockNs },
                        aggregator: Aggregator(config: shardConfig, geoip: geoip), drainLimit: drainLimit)
        }
        onStart?(engine)
        let capture = engine.start()
        var group = ShardGroup(workers: workers, config: config)
        var nextTick = ContinuousClock.now + tickInterval
        var merged: [BucketSummary] = []
        while !group.allFinished {
            _ = group.collect()
            if let tick, ContinuousClock.now >= nextTick {
                nextTick = ContinuousClock.now + tickInterval
                tick(engine, RingCounters.sum(rings.map { $0.counters() }), group.totalCounters)
            }
            for summary in group.takeReady() {
                onBucket(summary)
                merged.append(summary)
            }
            if !group.allFinished { usleep(2_000) }
        }
        for summary in group.takeAll() {
            onBucket(summary)
            merged.append(summary)
        }
        let outcome = capture.wait()
        let shardRings = rings.map { $0.counters() }
        let run = Pipeline.Run(sources: outcome.sources, ring: RingCounters.sum(shardRings), shardRings: shardRings,
                               kernel: isLive ? engine.kernelStatistics : nil, stopped: outcome.stopped)
        let finals = group.takeFinished()
        return (run, Aggregator.merged(consume finals, summaries: merged, config: config))
    }
}
