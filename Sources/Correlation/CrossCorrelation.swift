/// Pearson's r at one lag.
public struct LagCorrelation: Sendable, Equatable, Codable {
    /// Lag in buckets; positive when the feed leads (see `CrossCorrelation`).
    public var lag: Int
    /// nil when fewer than 3 buckets overlap or a side is constant over the overlap.
    public var pearson: Double?
    /// Number of overlapping bucket pairs at this lag: n − |lag| (0 when |lag| ≥ n).
    public var buckets: Int
    /// Of those pairs, the ones where both series are non-zero. Below the minimum
    /// (`CrossCorrelation.compute`'s `minOverlap`) `pearson` is nil.
    public var overlapBuckets: Int

    public init(lag: Int, pearson: Double?, buckets: Int, overlapBuckets: Int) {
        self.lag = lag
        self.pearson = pearson
        self.buckets = buckets
        self.overlapBuckets = overlapBuckets
    }

    enum CodingKeys: String, CodingKey {
        case lag, pearson, buckets
        case overlapBuckets = "overlap_buckets"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        lag = try c.decode(Int.self, forKey: .lag)
        pearson = try c.decodeIfPresent(Double.self, forKey: .pearson)
        buckets = try c.decode(Int.self, forKey: .buckets)
        overlapBuckets = try c.decode(Int.self, forKey: .overlapBuckets)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(lag, forKey: .lag)
        try c.encode(pearson, forKey: .pearson)
        try c.encode(buckets, forKey: .buckets)
        try c.encode(overlapBuckets, forKey: .overlapBuckets)
    }
}

/// Every lag's r and the lag where r is largest.
public struct CrossCorrelationResult: Sendable, Equatable {
    /// Lags −L … +L in increasing order.
    public var lags: [LagCorrelation]
    /// best_lag_buckets positive when the feed leads. nil when no lag has a defined r.
    public var bestLag: Int?
    /// Pearson's r at `bestLag`.
    public var bestLagPearson: Double?

    /// The entry of `bestLag` (its bucket counts), nil when there is none.
    public var best: LagCorrelation? { bestLag.flatMap { b in lags.first { $0.lag == b } } }
}

/// Lagged Pearson correlation between the sensor's and the feed's aligned series.
///
/// Sign convention: **best_lag_buckets positive when the feed leads.** At lag k the pairs
/// compared are (feed[t], sensor[t + k]) for every t with both indices inside the series;
/// so k = +3 means what the feed saw in bucket t, the sensor saw in bucket t + 3 (the feed
/// leads by 3 buckets), and k = −2 means the sensor leads by 2. Only the n − |k|
/// overlapping pairs count; nothing is padded or wrapped around.
///
/// Best lag: the lag with the largest r (largest, not largest |r|: an anti-correlation is
/// not a match). Values within `tieTolerance` of the maximum are ties, broken by the
/// smaller |k| (prefer no shift), then by the negative k (prefer "the sensor leads", the
/// conservative reading for a sensor claiming to see precursors in the feed).
public enum CrossCorrelation {
    /// r values closer than this are treated as equal when choosing the best lag, so that
    /// rounding in the last bits cannot pick a far lag over an equally good near one.
    public static let tieTolerance = 1e-12

    /// `minOverlap`: a lag's r is computed only when at least this many of its pairs have
    /// both values non-zero (0: always).
    public static func compute(sensor: [Double], feed: [Double], maxLag: Int, minOverlap: Int = 0) -> CrossCorrelationResult {
        precondition(sensor.count == feed.count, "series must be aligned")
        precondition(maxLag >= 0, "maxLag must be non-negative")
        let n = sensor.count
        var lags: [LagCorrelation] = []
        lags.reserveCapacity(2 * maxLag + 1)
        for k in -maxLag...maxLag {
            let overlap = max(0, n - abs(k))
            guard overlap > 0 else {
                lags.append(LagCorrelation(lag: k, pearson: nil, buckets: 0, overlapBuckets: 0))
                continue
            }
            // t ranges over indices with 0 ≤ t < n and 0 ≤ t + k < n.
            let tStart = max(0, -k)
            let f = Array(feed[tStart..<(tStart + overlap)])
            let s = Array(sensor[(tStart + k)..<(tStart + k + overlap)])
            let both = Statistics.bothNonZero(f, s)
            lags.append(LagCorrelation(lag: k, pearson: both >= minOverlap ? Statistics.pearson(f, s) : nil,
                                       buckets: overlap, overlapBuckets: both))
        }
        let best = bestLag(lags)
        return CrossCorrelationResult(lags: lags, bestLag: best?.lag, bestLagPearson: best?.pearson)
    }

    public static func compute(_ pair: AlignedPair, maxLag: Int, minOverlap: Int = 0) -> CrossCorrelationResult {
        compute(sensor: pair.sensor, feed: pair.feed, maxLag: maxLag, minOverlap: minOverlap)
    }

    /// The best lag under the documented rule, or nil when no lag has a defined r.
    public static func bestLag(_ lags: [LagCorrelation]) -> LagCorrelation? {
        let defined = lags.filter { $0.pearson != nil }
        guard let top = defined.map({ $0.pearson! }).max() else { return nil }
        let tied = defined.filter { $0.pearson! >= top - tieTolerance }
        return tied.min { a, b in
            if abs(a.lag) != abs(b.lag) { return abs(a.lag) < abs(b.lag) }
            return a.lag < b.lag
        }
    }
}
