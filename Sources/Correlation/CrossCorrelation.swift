/// Pearson's r at one lag.
public struct LagCorrelation: Sendable, Equatable, Codable {
    /// Lag in buckets; positive when the feed leads (see `CrossCorrelation`).
    public var lag: Int
    /// nil when fewer than 3 buckets overlap or a side is constant over the overlap.
    public var pearson: Double?
    /// Number of overlapping bucket pairs at this lag: n − |lag| (0 when |lag| ≥ n).
    public var buckets: Int

    public init(lag: Int, pearson: Double?, buckets: Int) {
        self.lag = lag
        self.pearson = pearson
        self.buckets = buckets
    }

    enum CodingKeys: String, CodingKey { case lag, pearson, buckets }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(lag, forKey: .lag)
        try c.encode(pearson, forKey: .pearson)
        try c.encode(buckets, forKey: .buckets)
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

    public static func compute(sensor: [Double], feed: [Double], maxLag: Int) -> CrossCorrelationResult {
        precondition(sensor.count == feed.count, "series must be aligned")
        precondition(maxLag >= 0, "maxLag must be non-negative")
        let n = sensor.count
        var lags: [LagCorrelation] = []
        lags.reserveCapacity(2 * maxLag + 1)
        for k in -maxLag...maxLag {
            let overlap = max(0, n - abs(k))
            guard overlap > 0 else {
                lags.append(LagCorrelation(lag: k, pearson: nil, buckets: 0))
                continue
            }
            // t ranges over indices with 0 ≤ t < n and 0 ≤ t + k < n.
            let tStart = max(0, -k)
            let f = Array(feed[tStart..<(tStart + overlap)])
            let s = Array(sensor[(tStart + k)..<(tStart + k + overlap)])
            lags.append(LagCorrelation(lag: k, pearson: Statistics.pearson(f, s), buckets: overlap))
        }
        let best = bestLag(lags)
        return CrossCorrelationResult(lags: lags, bestLag: best?.lag, bestLagPearson: best?.pearson)
    }

    public static func compute(_ pair: AlignedPair, maxLag: Int) -> CrossCorrelationResult {
        compute(sensor: pair.sensor, feed: pair.feed, maxLag: maxLag)
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
