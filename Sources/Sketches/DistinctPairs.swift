/// Remembers which (key, value) pairs have been seen, to turn "first time
/// this pair appears" into exact distinct counts without a set per key:
/// distinct ports of a source, distinct sources of a port, distinct
/// destinations of a scan episode all come from one table.
///
/// Layout: a fixed array of 64-bit fingerprints (the seeded hash of the
/// pair), two-way set associative; a full set evicts its older entry. No
/// allocation after init. Accuracy: counts are exact while `evictions == 0`.
/// An evicted pair seen again is counted again, so every distinct count
/// derived from this table overcounts by at most `evictions` (and by a
/// 64-bit fingerprint collision, probability ≈ n²/2⁶⁵, under-counts
/// negligibly). Memory: 8 bytes a slot.
public struct DistinctPairs: Sendable {
    @usableFromInline var slots: ContiguousArray<UInt64>
    @usableFromInline let setMask: Int
    /// Pairs pushed out of a full set.
    public var evictions: UInt64 { evicted }
    /// Pairs inserted (first sightings, evicted ones seen again included).
    public var inserted: UInt64 { insertions }
    @usableFromInline var evicted: UInt64 = 0
    @usableFromInline var insertions: UInt64 = 0

    /// - Parameter slots: rounded up to a power of two, at least 64.
    public init(slots requested: Int) {
        var size = 64
        while size < requested { size <<= 1 }
        slots = .hugePageBacked(repeating: 0, count: size)
        setMask = size / 2 - 1
    }

    /// Slots, with those of tables merged in by `absorbFigures(of:)`.
    public var capacity: Int { slots.count + absorbedSlots }
    @usableFromInline var absorbedSlots = 0
    public var memoryBytes: Int { slots.count * 8 }
    public var isExact: Bool { evictions == 0 }

    /// Records the pair whose seeded hash is `hash`; true if it was not there.
    @inlinable @inline(__always)
    public mutating func insert(_ hash: UInt64) -> Bool {
        let fingerprint = hash | 1  // 0 marks an empty slot
        let base = (Int(truncatingIfNeeded: hash >> 32) & setMask) &* 2
        let first = slots[base]
        if first == fingerprint || slots[base &+ 1] == fingerprint { return false }
        if first == 0 {
            slots[base] = fingerprint
        } else {
            if slots[base &+ 1] != 0 { evicted &+= 1 }
            slots[base &+ 1] = first
            slots[base] = fingerprint
        }
        insertions &+= 1
        return true
    }

    /// Prefetches the set a later `insert(hash)` will probe, so its cache
    /// miss overlaps with other work.
    @inlinable @inline(__always)
    public func prefetch(_ hash: UInt64) {
        slots.prefetch((Int(truncatingIfNeeded: hash >> 32) & setMask) &* 2)
    }

    public mutating func removeAll() {
        for i in slots.indices { slots[i] = 0 }
        evicted = 0
        insertions = 0
        absorbedSlots = 0
    }
}
