// Merging the state of aggregation shards that saw disjoint sets of keys
// (each source goes to exactly one shard): corsaro3's interval merge. What
// merges exactly and what becomes an estimate is stated at each function.

extension BoundedTable {
    /// One table holding every live entry of `tables`, whose key sets are
    /// disjoint: capacity their sum (rounded up as usual), evictions their sum.
    /// Nothing is evicted by the merge itself.
    public init(merging tables: [BoundedTable<Key, Value>]) {
        precondition(!tables.isEmpty, "nothing to merge")
        self.init(capacity: tables.reduce(0) { $0 + $1.capacity }, hasher: tables[0].hasher)
        for table in tables {
            precondition(table.hasher == hasher, "merging tables of different hash seeds")
            evicted &+= table.evicted
            table.forEach { key, value in
                let placed = findOrInsert(key, hash: hasher.hash(key), initial: value)
                precondition(placed.inserted, "merged tables share a key")
            }
        }
    }
}

extension DistinctPairs {
    /// Counts another shard's table in this one's figures (capacity,
    /// insertions, evictions) without its pairs: after a run only the figures
    /// are read, and the pairs of disjoint sources would never meet again.
    public mutating func absorbFigures(of other: DistinctPairs) {
        absorbedSlots &+= other.capacity
        insertions &+= other.insertions
        evicted &+= other.evicted
    }
}

extension SpaceSaving {
    /// Merges a summary over a disjoint key set (no key was ever added to
    /// both): the union of the monitored entries, the `capacity` largest kept.
    /// Unlike `merge`, no count is charged the other summary's minimum, since
    /// a key of one summary has true count 0 in the other.
    ///
    /// Bounds after merging: each kept key's true count lies in
    /// [count - error, count], as in its own summary; any key not kept has a
    /// true count of at most `unmonitoredBound`, which is raised to the larger
    /// of the two summaries' bounds when a kept count is smaller than that.
    public mutating func mergeDisjoint(_ other: SpaceSaving<Key>) {
        precondition(capacity == other.capacity, "merging Space-Saving summaries of different capacity")
        precondition(hasher == other.hasher, "merging Space-Saving summaries of different hash seeds")
        let floor = Swift.max(unmonitoredBound, other.unmonitoredBound)
        var combined: [Entry] = []
        combined.reserveCapacity(keys.count + other.keys.count)
        for s in 0..<keys.count { combined.append(Entry(key: keys[s], count: counts[s], error: errors[s])) }
        for o in 0..<other.keys.count {
            combined.append(Entry(key: other.keys[o], count: other.counts[o], error: other.errors[o]))
        }
        combined.sort { $0.count != $1.count ? $0.count > $1.count : $0.error < $1.error }
        let total = totalCount + other.totalCount
        rebuild(from: combined.prefix(capacity), total: total)
        if floor > unmonitoredBound { mergedFloor = floor }
    }
}
