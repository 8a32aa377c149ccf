import Aggregation
import Decoding
import Foundation
import GeoIP
import Ring
import Synchronization

/// One aggregation shard's thread: the one drain loop from capture rings to
/// an `Aggregator`, for `analyze`, `capture` and the daemon alike. It drains
/// its rings (one per capture thread) into its own aggregator and hands
/// closed buckets, its progress, copies of its tables when asked, and finally
/// the aggregator itself to the merging thread (under a lock: once a drain
/// at most, never once a record).
public final class ShardWorker: @unchecked Sendable {
    // @unchecked Sendable: `handed` is touched only under `lock`; the rest is
    // immutable, atomic, or touched only by the shard's own thread.

    public struct Handed: @unchecked Sendable {
        public var summaries: [BucketSummary] = []
        /// Every bucket starting before this has been handed over.
        public var progress: Int64 = .min
        /// The shard's aggregator, once all its rings are finished and drained.
        public var result: Aggregator?
        /// Every packet the shard has counted so far (open bucket included).
        public var counters = PacketCounters()
        /// The latest copy of the shard's tables asked for (`requestTables`), once.
        public var tables: ShardTables?
    }

    /// One ring's consumer end (a class, so an array can hold the non-copyable
    /// consumers). @unchecked Sendable: made on the caller's thread, then used
    /// by the shard's thread only.
    final class Drain: @unchecked Sendable {
        var consumer: SPSCRing<PacketRecord>.Consumer
        init(_ ring: SPSCRing<PacketRecord>) { consumer = ring.makeConsumer() }
    }

    public let index: Int
    /// An NSLock (a pthread mutex), not `Synchronization.Mutex`: ThreadSanitizer
    /// does not see the futex under the latter and would report its accesses as races.
    private let lock = NSLock()
    private var handed = Handed()
    /// Tables asked for: 0 none, 1 light, else full with that many top sources + 1.
    private let tablesRequest = Atomic<Int>(0)

    /// - Parameters:
    ///   - rings: the shard's rings, one per capture thread; the shard ends
    ///     when every one is finished and drained.
    ///   - idleClock: the time an idle shard may close its buckets up to,
    ///     read after everything published before it was drained
    ///     (`Int64.min`: none yet). The capture thread's packet clock for
    ///     files, the wall clock for the live daemon.
    public init(index: Int, rings: [SPSCRing<PacketRecord>], idleClock: @escaping @Sendable () -> Int64,
                aggregator: consuming Aggregator, drainLimit: Int = 4096) {
        self.index = index
        let drains = rings.map(Drain.init)
        // Handed to the thread through a box it empties: a closure capturing the
        // aggregator would keep a second reference to every table for the life
        // of the thread, and the shard's first write to each would copy it
        // (70 MiB of copies with the default capacities, measured on a flood).
        let box = Handover(aggregator)
        let thread = Thread { [self] in
            self.work(drains: drains, idleClock: idleClock, aggregator: box.take(), drainLimit: drainLimit)
        }
        thread.name = "darknet-shard-\(index)"
        thread.start()
    }

    /// What the shard has handed over since the last call.
    public func take() -> Handed {
        lock.lock()
        defer { lock.unlock() }
        let taken = handed
        handed.summaries.removeAll()
        handed.result = nil  // the caller owns it now: no second reference to copy on write
        handed.tables = nil
        return taken
    }

    /// Asks for a copy of the shard's tables (`Aggregator.tables`), handed
    /// with the next `take` after the shard's next drain: full with the
    /// `topSources` busiest sources, light with 0. A full request is not
    /// downgraded by a light one made before it is served.
    public func requestTables(topSources: Int) {
        let wanted = topSources > 0 ? topSources + 1 : 1
        var current = tablesRequest.load(ordering: .relaxed)
        while wanted > current {
            let (exchanged, original) = tablesRequest.compareExchange(expected: current, desired: wanted, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
    }

    private func hand(_ summaries: [BucketSummary], progress: Int64, counters: PacketCounters,
                      result: Aggregator? = nil, tables: ShardTables? = nil) {
        lock.lock()
        defer { lock.unlock() }
        handed.summaries += summaries
        handed.counters = counters
        if progress > handed.progress { handed.progress = progress }
        if let result { handed.result = result }
        if let tables { handed.tables = tables }
    }

    /// The copy asked for, if any (the request is then served).
    private func requestedTables(_ aggregator: Aggregator) -> ShardTables? {
        let request = tablesRequest.exchange(0, ordering: .relaxed)
        guard request > 0 else { return nil }
        return aggregator.tables(topSources: request - 1)
    }

    private func drainAll(_ drains: [Drain], _ aggregator: inout Aggregator, limit: Int) -> Int {
        var took = 0
        for d in drains {
            took += d.consumer.drain(limit: limit) { aggregator.consume($0) }
        }
        return took
    }

    /// The one reference to an aggregator on its way to the shard's thread.
    final class Handover: @unchecked Sendable {
        // @unchecked Sendable: filled before the thread starts, emptied once by it.
        private var value: Aggregator?
        init(_ value: Aggregator) { self.value = value }
        func take() -> Aggregator { value.take()! }
    }

    private func work(drains: [Drain], idleClock: @Sendable () -> Int64, aggregator: consuming Aggregator, drainLimit: Int) {
        var idle = 0
        var progress = Int64.min
        while true {
            if drainAll(drains, &aggregator, limit: drainLimit) > 0 {
                idle = 0
                let open = aggregator.currentBucket.map { aggregator.buckets.start(of: $0) } ?? progress
                progress = max(progress, open)
                // One lock a drain (up to `drainLimit` records a ring), never one a record.
                hand(aggregator.takeClosedBuckets(), progress: progress, counters: aggregator.counters,
                     tables: requestedTables(aggregator))
                continue
            }
            if drains.allSatisfy({ $0.consumer.isFinished }) {
                aggregator.finish()
                hand(aggregator.takeClosedBuckets(), progress: .max, counters: aggregator.counters, result: aggregator)
                return
            }
            // Idle: the clock moves this shard's buckets on. Everything
            // published before the clock was read is drained first.
            let clock = idleClock()
            while drainAll(drains, &aggregator, limit: drainLimit) > 0 {}
            var closed: [BucketSummary] = []
            var passed = progress
            if clock != .min {
                aggregator.advance(to: clock)
                passed = aggregator.currentBucket.map { aggregator.buckets.start(of: $0) }
                    ?? aggregator.buckets.start(of: aggregator.buckets.index(of: clock))
                closed = aggregator.takeClosedBuckets()
            }
            let tables = requestedTables(aggregator)
            if !closed.isEmpty || passed > progress || tables != nil {
                progress = max(progress, passed)
                hand(closed, progress: progress, counters: aggregator.counters, tables: tables)
            }
            idle += 1
            backoffPause(idle)
        }
    }
}
