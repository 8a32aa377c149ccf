import Aggregation

/// The merging side of N shard workers, shared by `ShardedPipeline` (analyze,
/// capture) and the daemon's `LiveAggregation`: takes what every running
/// shard handed over, adds its closed buckets to the `BucketMerger` and
/// advances its progress, keeps its latest counters, and keeps its
/// aggregator once it has finished. Used by one thread.
public struct ShardGroup {
    public let workers: [ShardWorker]
    public private(set) var merger: BucketMerger
    /// Each shard's packet counters as of its latest hand-over.
    public private(set) var counters: [PacketCounters]
    /// Each shard's aggregator once it has finished (nil while it runs).
    public private(set) var finished: [Aggregator?]

    public init(workers: [ShardWorker], config: AggregationConfig) {
        self.workers = workers
        self.merger = BucketMerger(shards: workers.count, config: config)
        self.counters = Array(repeating: PacketCounters(), count: workers.count)
        self.finished = Array(repeating: nil, count: workers.count)
    }

    /// True once every shard has finished.
    public var allFinished: Bool { !finished.contains(where: { $0 == nil }) }

    /// Every shard's counters added up.
    public var totalCounters: PacketCounters {
        var total = PacketCounters()
        for c in counters { total.merge(c) }
        return total
    }

    /// One turn: takes every running shard's hand-over into the merger.
    /// Returns the table copies handed in this turn, by shard, and whether
    /// any shard handed in anything.
    public mutating func collect() -> (tables: [(shard: Int, tables: ShardTables)], any: Bool) {
        var tables: [(shard: Int, tables: ShardTables)] = []
        var any = false
        for (i, worker) in workers.enumerated() where finished[i] == nil {
            let handed = worker.take()
            if !handed.summaries.isEmpty || handed.tables != nil || handed.result != nil { any = true }
            merger.add(handed.summaries, shard: i)
            merger.advance(shard: i, to: handed.progress)
            counters[i] = handed.counters
            if let t = handed.tables { tables.append((i, t)) }
            if let result = handed.result { finished[i] = result }
        }
        return (tables, any)
    }

    /// Merged buckets every shard has passed, oldest first.
    public mutating func takeReady() -> [BucketSummary] { merger.takeReady() }

    /// Every merged bucket left (once all shards have finished).
    public mutating func takeAll() -> [BucketSummary] { merger.takeAll() }

    /// The finished shards' aggregators, moved out (so merging them mutates
    /// their tables in place instead of copying them); the group keeps none.
    public mutating func takeFinished() -> [Aggregator] {
        var finals: [Aggregator] = []
        for i in finished.indices { finals.append(finished[i].take()!) }
        return finals
    }
}
