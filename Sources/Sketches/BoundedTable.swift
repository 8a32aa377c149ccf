/// A value stored in a `BoundedTable`.
public protocol BoundedTableValue: Sendable {
    /// The content of an empty slot. Never observed through the table's API.
    init()
    /// Eviction priority: when a new key finds its probe window full, the
    /// entry with the smallest weight in that window is evicted (the first in
    /// probe order on ties). Typically a packet count, or a last-seen time
    /// for recency-based eviction.
    var evictionWeight: UInt64 { get }
}

/// Fixed-capacity open-addressing hash table for exact per-key state under a
/// memory cap. It never grows and never allocates after `init`.
///
/// Layout: `capacity` (a power of two, >= 32) slots grouped in buckets of 16,
/// in three parallel arrays — a control byte per slot (0 = empty, else
/// 0x80 | top 7 hash bits; a bucket's 16 bytes are read as two 64-bit words
/// and matched against the tag with SWAR arithmetic, so non-matching slots
/// are rejected without touching their keys), the key and the value.
/// Memory: capacity × (1 + stride(Key) + stride(Value) + 8) bytes, e.g.
/// 1 + 16 + 16 + 8 = 41 bytes per slot for `IPAddress` keys and a 16-byte
/// state struct (see `bytesPerSlot`): control, keys, values, and each
/// value's eviction weight in a fourth array; no other storage.
///
/// Placement: two-choice bucketed hashing. The seeded hash names two
/// buckets; a new key goes to the less loaded one. A lookup reads the two
/// buckets' control words (4 words) and compares full keys only on tag
/// matches — about 1 key comparison per lookup, at most 32. Because the
/// hash is seeded, an attacker cannot aim keys at one bucket, and
/// prefix-sharing or sequential addresses spread like random ones.
///
/// Eviction (deterministic): a new key whose two buckets are both full
/// replaces the entry with the smallest `evictionWeight` among those 32
/// slots (the first in bucket order on ties) and counts one eviction; the
/// evicted entry is handed back so the caller can fold it into an aggregate.
/// Two choices keep buckets balanced: the first eviction happens at about
/// 87–93 % occupancy (vs 40–60 % for a 16-slot linear-probing window), and
/// the table then fills to 100 %.
public struct BoundedTable<Key: SeededHashable, Value: BoundedTableValue>: Sendable {
    public struct InsertResult {
        /// Slot now holding the key.
        public let slot: Int
        /// The key was absent and has been inserted (with the initial value).
        public let inserted: Bool
        /// The entry that was evicted to make room, if any.
        public let evicted: (key: Key, value: Value)?

        @inlinable
        init(slot: Int, inserted: Bool, evicted: (key: Key, value: Value)?) {
            self.slot = slot
            self.inserted = inserted
            self.evicted = evicted
        }
    }

    /// Slots per bucket.
    public static var bucketSize: Int { 16 }

    public let capacity: Int
    public let hasher: SeededHash
    /// Live entries.
    public var count: Int { live }
    /// Entries evicted to make room for new keys since creation.
    public var evictions: UInt64 { evicted }

    @usableFromInline let bucketMask: Int
    @usableFromInline var live: Int = 0
    @usableFromInline var evicted: UInt64 = 0
    /// Two words per bucket; byte i of word w is the control byte of slot
    /// bucket * 16 + w * 8 + i.
    @usableFromInline var control: ContiguousArray<UInt64>
    @usableFromInline var keys: ContiguousArray<Key>
    @usableFromInline var values: ContiguousArray<Value>
    /// `values[s].evictionWeight`, kept beside the values so that choosing a
    /// victim reads 32 × 8 contiguous bytes per bucket pair instead of 32
    /// whole values (the scan table evicts on almost every new key).
    @usableFromInline var weights: ContiguousArray<UInt64>

    /// - Parameter capacity: maximum entries; rounded up to a power of two
    ///   (at least 32, at most 2^32).
    public init(capacity requested: Int, hasher: SeededHash) {
        precondition(requested > 0 && requested <= 1 << 32, "BoundedTable capacity must be in 1...2^32")
        var size = 32
        while size < requested { size <<= 1 }
        capacity = size
        bucketMask = size / 16 - 1
        self.hasher = hasher
        control = .hugePageBacked(repeating: 0, count: size / 8)
        keys = .hugePageBacked(repeating: .zero, count: size)
        values = .hugePageBacked(repeating: Value(), count: size)
        weights = .hugePageBacked(repeating: Value().evictionWeight, count: size)
    }

    /// Bytes per slot (control byte + key + value + weight); total = capacity × this.
    public static var bytesPerSlot: Int {
        1 + MemoryLayout<Key>.stride + MemoryLayout<Value>.stride + 8
    }

    public var memoryBytes: Int { capacity * Self.bytesPerSlot }

    // MARK: control-word arithmetic

    @usableFromInline static var lowBits: UInt64 { 0x0101_0101_0101_0101 }
    @usableFromInline static var highBits: UInt64 { 0x8080_8080_8080_8080 }

    @inlinable @inline(__always)
    static func tag(_ hash: UInt64) -> UInt8 {
        UInt8(truncatingIfNeeded: hash >> 57) | 0x80
    }

    /// High bit set in each byte of `word` that may equal `tag` (exact for
    /// the lowest match; bytes above a match can be false positives, which
    /// the key comparison rejects).
    @inlinable @inline(__always)
    static func matches(_ word: UInt64, _ tag: UInt8) -> UInt64 {
        let x = word ^ (lowBits &* UInt64(tag))
        return (x &- lowBits) & ~x & highBits
    }

    /// The two candidate buckets: low hash bits and bits 28..., forced apart.
    @inlinable @inline(__always)
    func buckets(_ hash: UInt64) -> (Int, Int) {
        let first = Int(truncatingIfNeeded: hash) & bucketMask
        var second = Int(truncatingIfNeeded: hash >> 28) & bucketMask
        if second == first { second = first ^ 1 }
        return (first, second)
    }

    @inlinable @inline(__always)
    func load(_ bucket: Int) -> Int {
        (control[2 * bucket] & Self.highBits).nonzeroBitCount
            + (control[2 * bucket + 1] & Self.highBits).nonzeroBitCount
    }

    @inlinable @inline(__always)
    func find(_ key: Key, tag: UInt8, in bucket: Int) -> Int? {
        for w in 0..<2 {
            var m = Self.matches(control[2 * bucket + w], tag)
            while m != 0 {
                let s = bucket &* 16 &+ w &* 8 &+ m.trailingZeroBitCount >> 3
                if keys[s] == key { return s }
                m &= m &- 1
            }
        }
        return nil
    }

    @inlinable @inline(__always)
    mutating func setControl(_ slot: Int, _ byte: UInt8) {
        let w = slot >> 3
        let shift = UInt64((slot & 7) << 3)
        control[w] = control[w] & ~(0xFF << shift) | UInt64(byte) << shift
    }

    @inlinable @inline(__always)
    func isLive(_ slot: Int) -> Bool {
        (control[slot >> 3] >> UInt64((slot & 7) << 3)) & 0x80 != 0
    }

    // MARK: operations

    /// Prefetches what a later `findOrInsert` of the key whose seeded hash is
    /// `hash` will read: the two buckets' control words are read now (one
    /// byte a slot, so they are mostly cached), and the key and value of the
    /// first tag match in each bucket are prefetched.
    @inlinable @inline(__always)
    public func prefetch(hash: UInt64) {
        let tag = Self.tag(hash)
        let (b1, b2) = buckets(hash)
        prefetchMatch(tag, b1)
        prefetchMatch(tag, b2)
    }

    @inlinable @inline(__always)
    func prefetchMatch(_ tag: UInt8, _ bucket: Int) {
        let low = Self.matches(control[2 * bucket], tag)
        let s: Int
        if low != 0 {
            s = bucket &* 16 &+ low.trailingZeroBitCount >> 3
        } else {
            let high = Self.matches(control[2 * bucket + 1], tag)
            guard high != 0 else {
                // Probably a new key: if the bucket is full, an eviction will
                // read its 16 weights (two lines).
                if control[2 * bucket] & control[2 * bucket + 1] & Self.highBits == Self.highBits {
                    weights.prefetch(bucket &* 16)
                    weights.prefetch(bucket &* 16 &+ 8)
                    weights.prefetch(bucket &* 16 &+ 15)
                }
                return
            }
            s = bucket &* 16 &+ 8 &+ high.trailingZeroBitCount >> 3
        }
        keys.prefetchElement(s)
        values.prefetchElement(s)
        weights.prefetch(s)
    }

    /// The slot with the smallest eviction weight in two full buckets (the
    /// first in bucket order on ties), and that weight.
    @inlinable @inline(__always)
    func lightest(_ b1: Int, _ b2: Int) -> (slot: Int, weight: UInt64) {
        var victim = b1 &* 16
        var lightest = weights[victim]
        for pass in 0..<2 {
            let bucket = pass == 0 ? b1 : b2
            for s in bucket &* 16 ..< bucket &* 16 &+ 16 {
                let w = weights[s]
                if w < lightest {
                    lightest = w
                    victim = s
                }
            }
        }
        return (victim, lightest)
    }

    /// The slot holding `key`, or nil.
    @inlinable
    public func slot(of key: Key) -> Int? {
        slot(of: key, hash: hasher.hash(key))
    }

    /// `slot(of:)` with the key's seeded hash already computed.
    @inlinable
    public func slot(of key: Key, hash: UInt64) -> Int? {
        let tag = Self.tag(hash)
        let (b1, b2) = buckets(hash)
        if let s = find(key, tag: tag, in: b1) { return s }
        return find(key, tag: tag, in: b2)
    }

    /// Finds `key`, inserting it with `initial` if absent (evicting the
    /// lightest entry of its two buckets if both are full). Then read or
    /// write `self[slot: result.slot]`, or use `update`.
    @inlinable
    public mutating func findOrInsert(_ key: Key, initial: Value) -> InsertResult {
        findOrInsert(key, hash: hasher.hash(key), initial: initial)
    }

    /// `findOrInsert` with the key's seeded hash (by this table's hasher) already computed.
    @inlinable
    public mutating func findOrInsert(_ key: Key, hash: UInt64, initial: Value) -> InsertResult {
        findOrInsert(key, hash: hash, initial: initial, reportEviction: { _ in true })
    }

    /// `findOrInsert`, handing back an evicted entry only when
    /// `reportEviction(weight)` is true for its eviction weight. Reading the
    /// victim's key and value is a cache miss the caller may not need (the
    /// scan table only keeps an evicted candidate that qualified as a scan).
    @inlinable
    public mutating func findOrInsert(_ key: Key, hash: UInt64, initial: Value,
                                      reportEviction: (UInt64) -> Bool) -> InsertResult {
        findOrInsert(key, hash: hash, reportEviction: reportEviction, initial: { initial })
    }

    /// `findOrInsert` that makes the initial value only when it inserts (a
    /// large value built for every lookup costs the lookups that find the key).
    @inlinable
    public mutating func findOrInsert(_ key: Key, hash: UInt64, reportEviction: (UInt64) -> Bool,
                                      initial makeInitial: () -> Value) -> InsertResult {
        let tag = Self.tag(hash)
        let (b1, b2) = buckets(hash)
        if let s = find(key, tag: tag, in: b1) ?? find(key, tag: tag, in: b2) {
            return InsertResult(slot: s, inserted: false, evicted: nil)
        }
        let l1 = load(b1)
        let l2 = load(b2)
        let target = l2 < l1 ? b2 : b1
        if min(l1, l2) < 16 {
            let low = ~control[2 * target] & Self.highBits
            let s = low != 0
                ? target &* 16 &+ low.trailingZeroBitCount >> 3
                : target &* 16 &+ 8 &+ (~control[2 * target + 1] & Self.highBits).trailingZeroBitCount >> 3
            let initial = makeInitial()
            setControl(s, tag)
            keys[s] = key
            values[s] = initial
            weights[s] = initial.evictionWeight
            live += 1
            return InsertResult(slot: s, inserted: true, evicted: nil)
        }
        // Both buckets full: evict the lightest (first in bucket order on ties).
        let (victim, lightest) = lightest(b1, b2)
        let old = reportEviction(lightest) ? (key: keys[victim], value: values[victim]) : nil
        let initial = makeInitial()
        setControl(victim, tag)
        keys[victim] = key
        values[victim] = initial
        weights[victim] = initial.evictionWeight
        evicted += 1
        return InsertResult(slot: victim, inserted: true, evicted: old)
    }

    /// Finds or inserts `key` and mutates its value in place.
    @inlinable
    @discardableResult
    public mutating func update(_ key: Key, initial: Value, _ body: (inout Value) -> Void) -> InsertResult {
        let result = findOrInsert(key, initial: initial)
        body(&values[result.slot])
        weights[result.slot] = values[result.slot].evictionWeight
        return result
    }

    /// The value in a live slot (from `slot(of:)` or `findOrInsert`).
    @inlinable
    public subscript(slot slot: Int) -> Value {
        get { values[slot] }
        set {
            values[slot] = newValue
            weights[slot] = newValue.evictionWeight
        }
    }

    /// The key in a live slot.
    @inlinable
    public func key(atSlot slot: Int) -> Key { keys[slot] }

    /// Changes the value in `slot` in place (one copy-on-write check, no copy
    /// of the value out and back) and keeps its eviction weight in step.
    @inlinable
    public mutating func update<R>(slot: Int, _ body: (inout Value) -> R) -> R {
        let result = body(&values[slot])
        weights[slot] = values[slot].evictionWeight
        return result
    }

    @inlinable
    public subscript(key: Key) -> Value? {
        guard let s = slot(of: key) else { return nil }
        return values[s]
    }

    /// Full-key comparisons a lookup of the entry in `slot` performs (1 =
    /// found on the first tag match). Tag matches of other keys add to it.
    public func probeLength(ofSlot slot: Int) -> Int {
        let key = keys[slot]
        let hash = hasher.hash(key)
        let tag = Self.tag(hash)
        let (b1, b2) = buckets(hash)
        var comparisons = 0
        for pass in 0..<2 {
            let bucket = pass == 0 ? b1 : b2
            for w in 0..<2 {
                var m = Self.matches(control[2 * bucket + w], tag)
                while m != 0 {
                    comparisons += 1
                    if bucket * 16 + w * 8 + m.trailingZeroBitCount >> 3 == slot { return comparisons }
                    m &= m - 1
                }
            }
        }
        preconditionFailure("slot \(slot) is not reachable from its key")
    }

    /// Longest and mean probe length (key comparisons) over the live
    /// entries, and the fraction of entries living in their second bucket.
    public func probeStatistics() -> (max: Int, mean: Double, secondBucket: Double) {
        var longest = 0
        var sum = 0
        var second = 0
        for s in 0..<capacity where isLive(s) {
            let p = probeLength(ofSlot: s)
            longest = max(longest, p)
            sum += p
            if s / 16 != buckets(hasher.hash(keys[s])).0 { second += 1 }
        }
        return live == 0 ? (0, 0, 0) : (longest, Double(sum) / Double(live), Double(second) / Double(live))
    }

    /// Removes `key`, returning its value.
    @discardableResult
    public mutating func remove(_ key: Key) -> Value? {
        guard let s = slot(of: key) else { return nil }
        return remove(atSlot: s).value
    }

    /// Removes the entry in a live slot. Buckets are independent, so no
    /// other entry moves and no tombstone is needed.
    @discardableResult
    public mutating func remove(atSlot slot: Int) -> (key: Key, value: Value) {
        precondition(isLive(slot), "removing an empty slot")
        let removed = (key: keys[slot], value: values[slot])
        setControl(slot, 0)
        keys[slot] = .zero
        values[slot] = Value()
        weights[slot] = Value().evictionWeight
        live -= 1
        return removed
    }

    /// Removes every entry for which `shouldRemove` returns true (e.g. idle
    /// expiry).
    public mutating func removeAll(where shouldRemove: (Key, Value) throws -> Bool) rethrows {
        for s in 0..<capacity where isLive(s) {
            if try shouldRemove(keys[s], values[s]) { remove(atSlot: s) }
        }
    }

    /// Empties the table (the eviction counter is kept).
    public mutating func removeAll() {
        for s in 0..<capacity where isLive(s) {
            keys[s] = .zero
            values[s] = Value()
            weights[s] = Value().evictionWeight
        }
        for w in control.indices { control[w] = 0 }
        live = 0
    }

    /// Calls `body` for every live entry, in slot order.
    public func forEach(_ body: (Key, Value) throws -> Void) rethrows {
        for s in 0..<capacity where isLive(s) {
            try body(keys[s], values[s])
        }
    }

    /// Calls `body` with every live entry's value to change in place, in slot
    /// order (the eviction weights follow the new values).
    public mutating func updateEach(_ body: (Key, inout Value) -> Void) {
        for s in 0..<capacity where isLive(s) {
            body(keys[s], &values[s])
            weights[s] = values[s].evictionWeight
        }
    }

    /// The live entries, in slot order (deterministic for a given seed and
    /// update sequence).
    public var entries: Entries { Entries(table: self) }

    public struct Entries: Sequence {
        let table: BoundedTable

        public func makeIterator() -> Iterator { Iterator(table: table, slot: 0) }

        public struct Iterator: IteratorProtocol {
            let table: BoundedTable
            var slot: Int

            public mutating func next() -> (key: Key, value: Value)? {
                while slot < table.capacity {
                    let s = slot
                    slot += 1
                    if table.isLive(s) { return (table.keys[s], table.values[s]) }
                }
                return nil
            }
        }
    }
}
