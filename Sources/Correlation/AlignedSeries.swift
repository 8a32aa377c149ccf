/// Two per-bucket series on the same dense grid of buckets.
///
/// `starts[i]` is the start of bucket `i` (ns since the epoch); `sensor[i]` and `feed[i]`
/// are the two sides' values for that bucket. A bucket neither side reported is present
/// with value 0 on both sides: a darknet bucket with no packets is an observation of zero,
/// not a missing value, and dropping it would bias every coefficient toward busy periods.
public struct AlignedPair: Sendable, Equatable, Codable {
    public let starts: [Int64]
    public let sensor: [Double]
    public let feed: [Double]

    /// The three arrays must have the same length.
    public init(starts: [Int64], sensor: [Double], feed: [Double]) {
        precondition(starts.count == sensor.count && sensor.count == feed.count,
                     "AlignedPair arrays must have equal lengths")
        self.starts = starts
        self.sensor = sensor
        self.feed = feed
    }

    enum CodingKeys: String, CodingKey { case starts, sensor, feed }

    /// Decoding checks the lengths the memberwise initializer requires.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let starts = try c.decode([Int64].self, forKey: .starts)
        let sensor = try c.decode([Double].self, forKey: .sensor)
        let feed = try c.decode([Double].self, forKey: .feed)
        guard starts.count == sensor.count, sensor.count == feed.count else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath,
                debugDescription: "starts, sensor and feed must have equal lengths"))
        }
        self.init(starts: starts, sensor: sensor, feed: feed)
    }

    public var count: Int { starts.count }
    public var isEmpty: Bool { starts.isEmpty }
}

/// Why two sparse series could not be put on one grid.
public enum AlignmentError: Error, Equatable, Sendable {
    /// The bucket width is zero or negative.
    case nonPositiveWidth
    /// A bucket start is not a whole number of widths from the grid's first bucket.
    case offGrid(start: Int64)
    /// The explicit range has a negative bucket count.
    case negativeCount
    /// The grid would have more than `Alignment.maximumBuckets` buckets (a stray key far away).
    case tooManyBuckets(Int64)
}

public enum Alignment {
    /// Upper bound on a grid's length, so one stray timestamp cannot allocate gigabytes.
    public static let maximumBuckets: Int64 = 10_000_000

    /// Aligns two sparse series (bucket start → value) over the union of their buckets:
    /// every bucket from the earliest to the latest key, `bucketWidthNs` apart, zeros where
    /// a side has no entry. Both empty → an empty pair. Every key must lie on the grid that
    /// starts at the earliest key.
    public static func align(
        sensor: [Int64: Double], feed: [Int64: Double], bucketWidthNs: Int64
    ) throws(AlignmentError) -> AlignedPair {
        guard bucketWidthNs > 0 else { throw .nonPositiveWidth }
        let keys = Array(sensor.keys) + Array(feed.keys)
        guard let first = keys.min(), let last = keys.max() else {
            return AlignedPair(starts: [], sensor: [], feed: [])
        }
        let (span, overflow) = last.subtractingReportingOverflow(first)
        guard !overflow else { throw .tooManyBuckets(Int64.max) }
        guard span % bucketWidthNs == 0 else {
            // Report the first offending key in time order.
            let bad = keys.filter { ($0 &- first) % bucketWidthNs != 0 }.min() ?? last
            throw .offGrid(start: bad)
        }
        return try fill(sensor: sensor, feed: feed, bucketWidthNs: bucketWidthNs,
                        first: first, count: span / bucketWidthNs + 1, dropOutside: false)
    }

    /// Aligns two sparse series over an explicit range: `count` buckets from `first`,
    /// `bucketWidthNs` apart. Keys outside the range are ignored; keys inside it must lie
    /// on the grid.
    public static func align(
        sensor: [Int64: Double], feed: [Int64: Double], bucketWidthNs: Int64,
        first: Int64, count: Int
    ) throws(AlignmentError) -> AlignedPair {
        guard bucketWidthNs > 0 else { throw .nonPositiveWidth }
        guard count >= 0 else { throw .negativeCount }
        return try fill(sensor: sensor, feed: feed, bucketWidthNs: bucketWidthNs,
                        first: first, count: Int64(count), dropOutside: true)
    }

    /// Integer-valued convenience (packet counts).
    public static func align<S: BinaryInteger, F: BinaryInteger>(
        sensor: [Int64: S], feed: [Int64: F], bucketWidthNs: Int64
    ) throws(AlignmentError) -> AlignedPair {
        try align(sensor: sensor.mapValues { Double($0) }, feed: feed.mapValues { Double($0) },
                  bucketWidthNs: bucketWidthNs)
    }

    private static func fill(
        sensor: [Int64: Double], feed: [Int64: Double], bucketWidthNs: Int64,
        first: Int64, count: Int64, dropOutside: Bool
    ) throws(AlignmentError) -> AlignedPair {
        guard count <= maximumBuckets else { throw .tooManyBuckets(count) }
        let n = Int(count)
        var starts = [Int64](repeating: 0, count: n)
        for i in 0..<n { starts[i] = first &+ Int64(i) &* bucketWidthNs }
        var s = [Double](repeating: 0, count: n)
        var f = [Double](repeating: 0, count: n)
        func place(_ series: [Int64: Double], into out: inout [Double]) throws(AlignmentError) {
            // Sorted so the error names the earliest off-grid key deterministically.
            for key in series.keys.sorted() {
                let (offset, overflow) = key.subtractingReportingOverflow(first)
                if overflow || offset < 0 {
                    if dropOutside { continue }
                    throw .offGrid(start: key)
                }
                let index = offset / bucketWidthNs
                if index >= count {
                    if dropOutside { continue }
                    throw .offGrid(start: key)
                }
                guard offset % bucketWidthNs == 0 else { throw .offGrid(start: key) }
                out[Int(index)] += series[key]!
            }
        }
        try place(sensor, into: &s)
        try place(feed, into: &f)
        return AlignedPair(starts: starts, sensor: s, feed: f)
    }
}
