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
            ShardWorker(index: i, ring: ring, engine: engine, config: shardConfig, geoip: geoip, drainLimit: drainLimit)
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

/// One shard's thread: drains its ring into its own `Aggregator` and hands
/// closed buckets, its progress and finally the aggregator itself to the
/// merging thread (under a lock: once a drain at most, never per record).
final class ShardWorker: @unchecked Sendable {
    // @unchecked Sendable: `handed` is touched only under `lock`; the rest is
    // immutable or touched only by the shard's own thread.

    struct Handed: @unchecked Sendable {
        var summaries: [BucketSummary] = []
        /// Every bucket starting before this has been handed over.
        var progress: Int64 = .min
        /// The shard's aggregator, once its ring is finished and drained.
        var result: Aggregator?
        /// Every packet the shard has counted so far (open bucket included).
        var counters = PacketCounters()
    }

    /// An NSLock (a pthread mutex), not `Synchronization.Mutex`: ThreadSanitizer
    /// does not see the futex under the latter and would report its accesses as races.
    private let lock = NSLock()
    private var handed = Handed()

    init(index: Int, ring: SPSCRing<PacketRecord>, engine: CaptureEngine, config: AggregationConfig,
         geoip: GeoIPDatabase?, drainLimit: Int) {
        let thread = Thread { [self] in
            self.work(ring: ring, engine: engine, aggregator: Aggregator(config: config, geoip: geoip), drainLimit: drainLimit)
        }
        thread.name = "darknet-shard-\(index)"
        thread.start()
    }

    /// What the shard has handed over since the last call.
    func take() -> Handed {
        lock.lock()
        defer { lock.unlock() }
        let taken = handed
        handed.summaries.removeAll()
        handed.result = nil  // the caller owns it now: no second reference to copy on write
        return taken
    }

    private func hand(_ summaries: [BucketSummary], progress: Int64, counters: PacketCounters, result: Aggregator? = nil) {
        lock.lock()
        defer { lock.unlock() }
        handed.summaries += summaries
        handed.counters = counters
        if progress > handed.progress { handed.progress = progress }
        if let result { handed.result = result }
    }

    private func work(ring: SPSCRing<PacketRecord>, engine: CaptureEngine, aggregator initial: Aggregator, drainLimit: Int) {
        var aggregator = initial
        var consumer = ring.makeConsumer()
        var idle = 0
        var progress = Int64.min
        while true {
            if consumer.drain(limit: drainLimit, { aggregator.consume($0) }) > 0 {
                idle = 0
                let open = aggregator.currentBucket.map { aggregator.buckets.start(of: $0) } ?? progress
                progress = max(progress, open)
                // One lock a drain (up to `drainLimit` records), never one a record.
                hand(aggregator.takeClosedBuckets(), progress: progress, counters: aggregator.counters)
                continue
            }
            if consumer.isFinished {
                aggregator.finish()
                hand(aggregator.takeClosedBuckets(), progress: .max, counters: aggregator.counters, result: aggregator)
                return
            }
            // Idle: the dispatcher's clock moves this shard's buckets on.
            // Everything published before the clock was read is drained first.
            let clock = engine.clockNs
            while consumer.drain(limit: drainLimit, { aggregator.consume($0) }) > 0 {}
            if clock != .min {
                aggregator.advance(to: clock)
                let passed = aggregator.currentBucket.map { aggregator.buckets.start(of: $0) }
                    ?? aggregator.buckets.start(of: aggregator.buckets.index(of: clock))
                let closed = aggregator.takeClosedBuckets()
                if !closed.isEmpty || passed > progress {
                    progress = max(progress, passed)
                    hand(closed, progress: progress, counters: aggregator.counters)
                }
            }
            idle += 1
            backoffPause(idle)
        }
    }
}
