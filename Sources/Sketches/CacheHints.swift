import CHotPath

// Cache hints for the per-packet tables. The aggregation thread's time goes
// to cache and TLB misses on tables keyed by attacker-chosen addresses
// (docs/benchmarks.md): these helpers let `Aggregator.consume` ask for the
// lines a record will need several records ahead, and back the big tables
// with transparent huge pages. They take an array's address but never read
// or write through it (see CHotPath); this file is the only place in the
// module that does even that.

extension ContiguousArray {
    /// Hints that element `i` will be read soon. `i` must be a valid index
    /// (callers pass masked hash positions); a hint never faults either way.
    @inlinable @inline(__always)
    public func prefetch(_ i: Int) {
        withUnsafeBufferPointer { chotpath_prefetch($0.baseAddress, i &* MemoryLayout<Element>.stride) }
    }

    /// `prefetch(i)` for an element that may straddle two cache lines (the
    /// array's elements start 32 bytes into its buffer, so a 64-byte row
    /// always does): hints both its first and its last byte.
    @inlinable @inline(__always)
    public func prefetchElement(_ i: Int) {
        withUnsafeBufferPointer {
            let offset = i &* MemoryLayout<Element>.stride
            chotpath_prefetch($0.baseAddress, offset)
            chotpath_prefetch($0.baseAddress, offset &+ MemoryLayout<Element>.size &- 1)
        }
    }

    /// `count` copies of `value`, the storage advised for transparent huge
    /// pages before it is first written (tables of several MiB read at random
    /// otherwise take a TLB miss on almost every access).
    public static func hugePageBacked(repeating value: Element, count: Int) -> ContiguousArray {
        guard count * MemoryLayout<Element>.stride >= 2 << 20 else {
            return ContiguousArray(repeating: value, count: count)
        }
        return ContiguousArray(unsafeUninitializedCapacity: count) { buffer, initialized in
            if let base = buffer.baseAddress {
                _ = chotpath_advise_huge_pages(base, count * MemoryLayout<Element>.stride)
            }
            buffer.initialize(repeating: value)
            initialized = count
        }
    }
}
