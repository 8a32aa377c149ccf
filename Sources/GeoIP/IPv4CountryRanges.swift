import Decoding

/// Every IPv4 address's country as sorted ranges, read once from the
/// database's search tree, so that a lookup is a short binary search in a
/// few cache lines instead of a walk of up to 32 nodes of a file that does
/// not fit in the caches (DB-IP City Lite: 104 MB; about 0.9 µs a lookup
/// here, which a spoofed flood pays for every packet, docs/geoip.md).
///
/// Exact: each range is a leaf of the tree (adjacent leaves of the same
/// country merged), and its country is decoded exactly as
/// `GeoIPDatabase.lookupCountry` decodes it, so a lookup here gives what the
/// tree gives for every address (`IPv4CountryRangesTests` compares them).
@usableFromInline
final class IPv4CountryRanges: Sendable {
    /// Range starts, ascending; `starts[0] == 0`, so every address is in a range.
    @usableFromInline let starts: [UInt32]
    @usableFromInline let codes: [CountryCode]
    /// Per /16 `h`: the range holding `h << 16`; entry 65,536 is the last range.
    @usableFromInline let index: [UInt32]

    init(starts: [UInt32], codes: [CountryCode]) {
        precondition(!starts.isEmpty && starts[0] == 0 && starts.count == codes.count, "ranges must cover from 0.0.0.0")
        self.starts = starts
        self.codes = codes
        var index = [UInt32](repeating: 0, count: 65_537)
        var r = 0
        for h in 0..<65_536 {
            let first = UInt32(h) << 16
            while r + 1 < starts.count && starts[r + 1] <= first { r += 1 }
            index[h] = UInt32(r)
        }
        index[65_536] = UInt32(starts.count - 1)
        self.index = index
    }

    /// Ranges held (after merging neighbours of the same country).
    var count: Int { starts.count }
    /// Bytes held by the arrays.
    var memoryBytes: Int { starts.count * 4 + codes.count * MemoryLayout<CountryCode>.stride + index.count * 4 }

    @inlinable
    func country(of address: UInt32) -> CountryCode {
        let h = Int(address >> 16)
        // The last range starting at or before `address` lies between the
        // range holding this /16's first address and the one holding the next's.
        var low = Int(index[h]), high = Int(index[h + 1])
        while low < high {
            let mid = (low + high + 1) >> 1
            if starts[mid] <= address { low = mid } else { high = mid - 1 }
        }
        return codes[low]
    }
}
