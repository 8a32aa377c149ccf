import Aggregation
import Capture
import Decoding
import Foundation
import Ring

/// The consumer side of the ring: takes records in contiguous runs. Generic
/// (specialised at compile time), so the per-packet path has no existential call.
public protocol RecordConsumer {
    mutating func consume(_ records: Span<PacketRecord>)
}

extension PacketCounters: RecordConsumer {
    public mutating func consume(_ records: Span<PacketRecord>) {
        for i in records.indices { add(records[i]) }
    }
}

extension Aggregator: RecordConsumer {}

/// Capture thread → ring → consumer, identical for files and interfaces.
public struct Pipeline: Sendable {
    /// Ring slots between the capture and the consumer thread. Default: 65,536
    /// for an interface (room to ride out a consumer stall without drops), 4,096
    /// for files (nothing is dropped there, and a ring that stays in the caches
    /// made `analyze` about 5 % faster).
    public var ringCapacity: Int?
    /// Records handed to the consumer per drain at most.
    public var drainLimit: Int = 4096
    /// Records that are not darknet traffic are counted, not aggregated (`DarknetPrefixes`).
    public var darknet = DarknetPrefixes.everything

    public init() {}

    /// What a run produced besides the consumer's own state.
    public struct Run: Sendable {
        public var sources: [SourceReport]
        /// The ring's counters; with shards, the sum of `shardRings`.
        public var ring: RingCounters
        /// Each shard's ring, in shard order (empty: `Pipeline.run`'s one ring to a consumer on the calling thread).
        public var shardRings: [RingCounters] = []
        public var kernel: KernelStatistics?
        public var stopped: Bool
    }

    /// Reads `source` to its end (or until `stop` is set / the limit is hit),
    /// feeding `consumer` on the calling thread. `tick` runs on the calling
    /// thread about every `tickInterval` with the engine (for live summaries).
    public func run<C: RecordConsumer>(
        source: PacketSource,
        consumer: inout C,
        packetLimit: UInt64? = nil,
        tickInterval: Duration = .seconds(1),
        tick: ((CaptureEngine, SPSCRing<PacketRecord>, inout C) -> Void)? = nil,
        onStart: ((CaptureEngine) -> Void)? = nil
    ) -> Run {
        let isLive: Bool
        if case .live = source { isLive = true } else { isLive = false }
        let ring = SPSCRing<PacketRecord>(capacity: ringCapacity ?? (isLive ? 1 << 16 : 1 << 12))
        var ringConsumer = ring.makeConsumer()
        let engine = CaptureEngine(source: source, producer: ring.makeProducer(), policy: isLive ? .drop : .wait,
                                   packetLimit: packetLimit, darknet: darknet)
        onStart?(engine)
        let thread = engine.start()
        var idle = 0
        var nextTick = ContinuousClock.now + tickInterval
        while true {
            let taken = ringConsumer.drain(limit: drainLimit) { consumer.consume($0) }
            if taken == 0 {
                if ringConsumer.isFinished { break }
                idle += 1
                backoffPause(idle)
            } else {
                idle = 0
            }
            if let tick, ContinuousClock.now >= nextTick {
                nextTick = ContinuousClock.now + tickInterval
                tick(engine, ring, &consumer)
            }
        }
        let outcome = thread.wait()
        return Run(sources: outcome.sources, ring: ring.counters(),
                   kernel: isLive ? engine.kernelStatistics : nil, stopped: outcome.stopped)
    }
}
