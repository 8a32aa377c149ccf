/// Space-Saving heavy hitters (Metwally, Agrawal, El Abbadi 2005) with
/// weighted updates.
///
/// Holds at most `capacity` (k) monitored keys, each with a counter `count`
/// and an overestimation `error`. When a new key arrives and all k slots are
/// taken, the key with the minimum counter is replaced: the newcomer inherits
/// that minimum as its `error` and adds its own weight on top.
///
/// Guarantees, with N = `totalCount` (sum of all weights added):
/// - every monitored key: `count - error <= true count <= count`;
/// - every key not monitored: true count <= `unmonitoredBound` (the minimum
///   counter once full, 0 before);
/// - `unmonitoredBound` and every `error` are <= `maxError` = N / k, so any
///   key with true count > N / k is monitored, and a key whose true count
///   exceeds every other key's `count` is ranked above them.
///
/// Cost: O(log k) per update (an index probe + sift in a binary min-heap
/// of slots), no allocation after init. The key→slot index is an
/// open-addressing table (linear probing, load ≤ 1/2, backward-shift
/// deletion) keyed by the seeded hash, not a `Dictionary`: SipHash per
/// packet was a tenth of the aggregation thread's time.
/// Memory: k × (stride(Key) + 8 count + 8 error + 8 hash + 4 heap slot +
/// 4 heap position) plus the index (a power of two >= 2k entries of 4
/// bytes), i.e. about 56 bytes per slot for `IPAddress` keys (≈ 450 KiB at
/// k = 8192).
///
/// Determinism: outputs depend only on the sequence of updates and the
/// hash seed (the index is only looked up, never iterated), so a replay
/// reproduces them.
public struct SpaceSaving<Key: SeededHashable>: Sendable {
    public struct Entry: Sendable {
        public let key: Key
        /// Upper bound on the key's true count.
        public let count: UInt64
        /// Overestimation bound: true count >= `count - error`.
        public let error: UInt64

        public init(key: Key, count: UInt64, error: UInt64) {
            self.key = key
            self.count = count
            self.error = error
        }

        /// Lower bound on the key's true count.
        public var guaranteedCount: UInt64 { count - error }
    }

    public let capacity: Int
    /// Sum of all weights added (and merged in).
    public var totalCount: UInt64 { total }
    @usableFromInline var total: UInt64 = 0

    @usableFromInline var keys: ContiguousArray<Key>
    @usableFromInline var counts: ContiguousArray<UInt64>
    @usableFromInline var errors: ContiguousArray<UInt64>
    /// Min-heap of slot indexes ordered by `counts`.
    @usableFromInline var heap: ContiguousArray<Int32>
    /// `heapPosition[slot]` is the index of `slot` in `heap`.
    @usableFromInline var heapPosition: ContiguousArray<Int32>
    /// Seeded hash of `keys[slot]`, kept so deletion never rehashes.
    @usableFromInline var hashes: ContiguousArray<UInt64>
    /// The index: a slot number, or -1 for an empty position.
    @usableFromInline var index: ContiguousArray<Int32>
    @usableFromInline let indexMask: Int
    @usableFromInline let hasher: SeededHash

    /// Fixed seed for summaries whose keys are not attacker-chosen (tests, merges of known data).
    public static var defaultHasher: SeededHash { SeededHash(seed0: 0x5370_6163_6553_6176, seed1: 0x696E_6720_6B65_7973) }

    public init(capacity: Int, hasher: SeededHash = SpaceSaving.defaultHasher) {
        precondition(capacity > 0 && capacity < Int(Int32.max) / 4, "Space-Saving capacity must be in 1..<2^29")
        self.capacity = capacity
        self.hasher = hasher
        var size = 16
        while size < 2 * capacity { size <<= 1 }
        index = ContiguousArray(repeating: -1, count: size)
        indexMask = size - 1
        hashes = []
        hashes.reserveCapacity(capacity)
        keys = []
        keys.reserveCapacity(capacity)
        counts = []
        counts.reserveCapacity(capacity)
        errors = []
        errors.reserveCapacity(capacity)
        heap = []
        heap.reserveCapacity(capacity)
        heapPosition = []
        heapPosition.reserveCapacity(capacity)
    }

    // MARK: index

    @inlinable @inline(__always)
    func home(_ hash: UInt64) -> Int { Int(truncatingIfNeeded: hash >> 32) & indexMask }

    /// The slot of `key` (whose seeded hash is `hash`), or nil.
    @inlinable @inline(__always)
    func lookup(_ key: Key, hash: UInt64) -> Int32? {
        var i = home(hash)
        while true {
            let s = index[i]
            if s < 0 { return nil }
            if hashes[Int(s)] == hash && keys[Int(s)] == key { return s }
            i = (i &+ 1) & indexMask
        }
    }

    @inlinable @inline(__always)
    mutating func indexInsert(_ slot: Int32, hash: UInt64) {
        var i = home(hash)
        while index[i] >= 0 { i = (i &+ 1) & indexMask }
        index[i] = slot
    }

    /// Removes `slot` (present, with hash `hash`) from the index by backward
    /// shift, so no tombstones accumulate.
    @inlinable
    mutating func indexRemove(_ slot: Int32, hash: UInt64) {
        var i = home(hash)
        while index[i] != slot { i = (i &+ 1) & indexMask }
        var j = i
        while true {
            j = (j &+ 1) & indexMask
            let s = index[j]
            if s < 0 { break }
            let k = home(hashes[Int(s)])
            // Leave `s` where it is if its home lies cyclically in (i, j].
            let stays = i <= j ? (i < k && k <= j) : (i < k || k <= j)
            if !stays {
                index[i] = s
                i = j
            }
        }
        index[i] = -1
    }

    /// Prefetches the index position `key` will probe (see `Prefetch`).
    @inlinable @inline(__always)
    public func prefetch(hash: UInt64) {
        index.prefetch(home(hash))
    }

    /// Number of monitored keys (<= capacity).
    public var count: Int { keys.count }

    /// The global overestimation guarantee N / k.
    public var maxError: UInt64 { totalCount / UInt64(capacity) }

    /// Upper bound on the true count of any key that is not monitored: the
    /// minimum counter once all slots are used, 0 before. Always <= `maxError`.
    public var unmonitoredBound: UInt64 {
        Swift.max(mergedFloor, keys.count < capacity || heap.isEmpty ? 0 : counts[Int(heap[0])])
    }
    /// Set by `mergeDisjoint`: the merged summaries' bound on keys they did not monitor.
    var mergedFloor: UInt64 = 0

    /// True when every count is exact (fewer distinct keys than capacity so far).
    public var isExact: Bool { unmonitoredBound == 0 && !errors.contains { $0 != 0 } }

    /// Adds `count` occurrences of `key`.
    @inlinable
    public mutating func add(_ key: Key, count weight: UInt64 = 1) {
        add(key, hash: hasher.hash(key), count: weight)
    }

    /// `add` with the key's seeded hash already computed (by this summary's hasher).
    @inlinable
    public mutating func add(_ key: Key, hash: UInt64, count weight: UInt64 = 1) {
        total += weight
        if let slot = lookup(key, hash: hash) {
            let s = Int(slot)
            counts[s] += weight
            siftDown(Int(heapPosition[s]))
            return
        }
        if keys.count < capacity {
            let s = keys.count
            keys.append(key)
            counts.append(weight)
            errors.append(0)
            heap.append(Int32(truncatingIfNeeded: s))
            heapPosition.append(Int32(truncatingIfNeeded: heap.count - 1))
            hashes.append(hash)
            indexInsert(Int32(truncatingIfNeeded: s), hash: hash)
            siftUp(heap.count - 1)
            return
        }
        // Replace the minimum.
        let s = Int(heap[0])
        indexRemove(Int32(truncatingIfNeeded: s), hash: hashes[s])
        let minimum = counts[s]
        keys[s] = key
        hashes[s] = hash
        errors[s] = minimum
        counts[s] = minimum + weight
        indexInsert(Int32(truncatingIfNeeded: s), hash: hash)
        siftDown(0)
    }

    /// The entry for `key` if it is monitored.
    public func entry(for key: Key) -> Entry? {
        guard let slot = lookup(key, hash: hasher.hash(key)) else { return nil }
        let s = Int(slot)
        return Entry(key: key, count: counts[s], error: errors[s])
    }

    /// Bounds on the true count of any key, monitored or not.
    public func bounds(for key: Key) -> ClosedRange<UInt64> {
        if let e = entry(for: key) { return e.guaranteedCount...e.count }
        return 0...unmonitoredBound
    }

    /// The `n` largest counters, by `count` descending, then by smaller
    /// `error`, then by first-monitored order (deterministic).
    public func top(_ n: Int) -> [Entry] {
        guard n > 0 else { return [] }
        var order = Array(0..<keys.count)
        order.sort { a, b in
            if counts[a] != counts[b] { return counts[a] > counts[b] }
            if errors[a] != errors[b] { return errors[a] < errors[b] }
            return a < b
        }
        return order.prefix(n).map { Entry(key: keys[$0], count: counts[$0], error: errors[$0]) }
    }

    /// All monitored entries, in slot order (unsorted).
    public var entries: [Entry] {
        (0..<keys.count).map { Entry(key: keys[$0], count: counts[$0], error: errors[$0]) }
    }

    /// Calls `body` for every monitored entry, in slot order, without
    /// building an array.
    public func forEach(_ body: (Entry) throws -> Void) rethrows {
        for s in 0..<keys.count {
            try body(Entry(key: keys[s], count: counts[s], error: errors[s]))
        }
    }

    public mutating func removeAll() {
        total = 0
        mergedFloor = 0
        keys.removeAll(keepingCapacity: true)
        counts.removeAll(keepingCapacity: true)
        errors.removeAll(keepingCapacity: true)
        heap.removeAll(keepingCapacity: true)
        heapPosition.removeAll(keepingCapacity: true)
        hashes.removeAll(keepingCapacity: true)
        for i in index.indices { index[i] = -1 }
    }

    /// Merges a summary of another stream (same capacity) into this one, so
    /// the result summarises the concatenation (Agarwal et al., "Mergeable
    /// summaries", 2012, adapted to Space-Saving counters).
    ///
    /// Rule: let m1, m2 be the two `unmonitoredBound`s. For every key of
    /// either summary, count = c1 + c2 and error = e1 + e2, where a key
    /// missing from summary i contributes ci = ei = mi (its true count there
    /// lies in [0, mi]). The k largest counts are kept.
    ///
    /// Bounds after merging (N = N1 + N2):
    /// - each kept key: true count in [count - error, count] (the intervals add);
    ///   error <= m1 + m2 <= N1/k + N2/k = N/k;
    /// - a dropped or never-seen key: true count <= its merged count (or
    ///   m1 + m2) <= the smallest kept count, which is the new
    ///   `unmonitoredBound`;
    /// - the kept counts sum to at most N (a kept key missing from a full
    ///   summary i is charged mi, at most the count of one of that summary's
    ///   dropped keys), so `unmonitoredBound` <= N/k still holds, and keeps
    ///   holding under further `add`s.
    public mutating func merge(_ other: SpaceSaving<Key>) {
        precondition(capacity == other.capacity, "merging Space-Saving summaries of different capacity")
        precondition(hasher == other.hasher, "merging Space-Saving summaries of different hash seeds")
        let m1 = unmonitoredBound
        let m2 = other.unmonitoredBound
        var combined: [Entry] = []
        combined.reserveCapacity(keys.count + other.keys.count)
        for s in 0..<keys.count {
            if let t = other.lookup(keys[s], hash: hashes[s]) {
                let o = Int(t)
                combined.append(Entry(key: keys[s], count: counts[s] + other.counts[o], error: errors[s] + other.errors[o]))
            } else {
                combined.append(Entry(key: keys[s], count: counts[s] + m2, error: errors[s] + m2))
            }
        }
        for o in 0..<other.keys.count where lookup(other.keys[o], hash: other.hashes[o]) == nil {
            combined.append(Entry(key: other.keys[o], count: other.counts[o] + m1, error: other.errors[o] + m1))
        }
        var order = Array(combined.indices)
        order.sort { a, b in
            if combined[a].count != combined[b].count { return combined[a].count > combined[b].count }
            if combined[a].error != combined[b].error { return combined[a].error < combined[b].error }
            return a < b
        }
        rebuild(from: order.prefix(capacity).map { combined[$0] }, total: totalCount + other.totalCount)
    }

    /// Replaces the contents with `entries` (at most `capacity`, by
    /// descending count) and the total weight `total`.
    mutating func rebuild(from entries: some Collection<Entry>, total: UInt64) {
        removeAll()
        self.total = total
        for e in entries {
            let s = keys.count
            keys.append(e.key)
            counts.append(e.count)
            errors.append(e.error)
            heap.append(Int32(truncatingIfNeeded: s))
            heapPosition.append(Int32(truncatingIfNeeded: s))
            let hash = hasher.hash(e.key)
            hashes.append(hash)
            indexInsert(Int32(truncatingIfNeeded: s), hash: hash)
        }
        // Slots were appended by descending count; heapify bottom-up.
        var i = heap.count / 2 - 1
        while i >= 0 {
            siftDown(i)
            i -= 1
        }
    }

    // MARK: heap

    @inlinable
    mutating func siftUp(_ start: Int) {
        var i = start
        let slot = heap[i]
        let value = counts[Int(slot)]
        while i > 0 {
            let parent = (i - 1) / 2
            let parentSlot = heap[parent]
            if counts[Int(parentSlot)] <= value { break }
            heap[i] = parentSlot
            heapPosition[Int(parentSlot)] = Int32(truncatingIfNeeded: i)
            i = parent
        }
        heap[i] = slot
        heapPosition[Int(slot)] = Int32(truncatingIfNeeded: i)
    }

    @inlinable
    mutating func siftDown(_ start: Int) {
        var i = start
        let n = heap.count
        let slot = heap[i]
        let value = counts[Int(slot)]
        while true {
            let left = 2 * i + 1
            if left >= n { break }
            var child = left
            var childSlot = heap[left]
            let right = left + 1
            if right < n {
                let rightSlot = heap[right]
                if counts[Int(rightSlot)] < counts[Int(childSlot)] {
                    child = right
                    childSlot = rightSlot
                }
            }
            if counts[Int(childSlot)] >= value { break }
            heap[i] = childSlot
            heapPosition[Int(childSlot)] = Int32(truncatingIfNeeded: i)
            i = child
        }
        heap[i] = slot
        heapPosition[Int(slot)] = Int32(truncatingIfNeeded: i)
    }
}
