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
        var merger = BucketMerger(shards: shards, config: config)
        var counters = Array(repeating: PacketCounters(), count: shards)
        var nextTick = ContinuousClock.now + tickInterval
        var merged: [BucketSummary] = []
        var results: [Aggregator?] = Array(repeating: nil, count: shards)
        while results.contains(where: { $0 == nil }) {
            for (i, worker) in workers.enumerated() where results[i] == nil {
                let handed = worker.take()
                merger.add(handed.summaries, shard: i)
                merger.advance(shard: i, to: handed.progress)
                counters[i] = handed.counters
                results[i] = handed.result
            }
            if let tick, ContinuousClock.now >= nextTick {
                nextTick = ContinuousClock.now + tickInterval
                var total = PacketCounters()
                for c in counters { total.merge(c) }
                tick(engine, RingCounters.sum(rings.map { $0.counters() }), total)
            }
            for summary in merger.takeReady() {
                onBucket(summary)
                merged.append(summary)
            }
            if results.contains(where: { $0 == nil }) { usleep(2_000) }
        }
        for summary in merger.takeAll() {
            onBucket(summary)
            merged.append(summary)
        }
        let outcome = capture.wait()
        let shardRings = rings.map { $0.counters() }
        let run = Pipeline.Run(sources: outcome.sources, ring: RingCounters.sum(shardRings), shardRings: shardRings,
                               kernel: isLive ? engine.kernelStatistics : nil, stopped: outcome.stopped)
        // Moved out, so the merge mutates the shards' tables in place instead
        // of copying them (copy on write).
        var finals: [Aggregator] = []
        for i in results.indices { finals.append(results[i].take()!) }
        results = []
        return (run, Aggregator.merged(consume finals, summaries: merged, config: config))
    }
}
