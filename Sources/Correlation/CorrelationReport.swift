/// One series' comparison between the sensor and the feed, as written in JSON reports
/// (snake_case keys; undefined figures are null).
public struct SeriesCorrelation: Sendable, Equatable, Codable {
    /// "total", "port/53", "country/CN", …
    public var series: String
    public var pearson: Double?
    public var spearman: Double?
    public var pValuePearson: Double?
    public var pValueSpearman: Double?
    /// Pearson's r of the first differences, the effective number of independent
    /// buckets and the p-value of `pearson` with it (`CorrelationResult`).
    public var pearsonDifferenced: Double?
    public var effectiveBuckets: Double?
    public var pValuePearsonAdjusted: Double?
    /// Buckets compared (the aligned grid).
    public var buckets: Int
    /// Of those, the buckets where both series are non-zero.
    public var overlapBuckets: Int
    /// The minimum of `overlapBuckets` for a coefficient (the same for every lag).
    public var minOverlapBuckets: Int
    /// `overlapBuckets < minOverlapBuckets`: the coefficients and p-values are null.
    public var insufficientOverlap: Bool
    /// best_lag_buckets positive when the feed leads.
    public var bestLagBuckets: Int?
    public var bestLagPearson: Double?
    /// The pairs compared at the best lag (n − |lag|), and of those both non-zero.
    public var bestLagPairs: Int?
    public var bestLagOverlapBuckets: Int?
    public var lags: [LagCorrelation]

    public init(series: String, correlation: CorrelationResult, crossCorrelation: CrossCorrelationResult,
                overlapBuckets: Int, minOverlapBuckets: Int) {
        self.series = series
        self.buckets = correlation.buckets
        self.overlapBuckets = overlapBuckets
        self.minOverlapBuckets = minOverlapBuckets
        let enough = overlapBuckets >= minOverlapBuckets
        self.insufficientOverlap = !enough
        self.pearson = enough ? correlation.pearson : nil
        self.spearman = enough ? correlation.spearman : nil
        self.pValuePearson = enough ? correlation.pValuePearson : nil
        self.pValueSpearman = enough ? correlation.pValueSpearman : nil
        self.pearsonDifferenced = enough ? correlation.pearsonDifferenced : nil
        self.effectiveBuckets = enough ? correlation.effectiveBuckets : nil
        self.pValuePearsonAdjusted = enough ? correlation.pValuePearsonAdjusted : nil
        self.bestLagBuckets = crossCorrelation.bestLag
        self.bestLagPearson = crossCorrelation.bestLagPearson
        self.bestLagPairs = crossCorrelation.best?.buckets
        self.bestLagOverlapBuckets = crossCorrelation.best?.overlapBuckets
        self.lags = crossCorrelation.lags
    }

    enum CodingKeys: String, CodingKey {
        case series, pearson, spearman, buckets, lags
        case pValuePearson = "p_value_pearson"
        case pValueSpearman = "p_value_spearman"
        case pearsonDifferenced = "pearson_differenced"
        case effectiveBuckets = "effective_buckets"
        case pValuePearsonAdjusted = "p_value_pearson_adjusted"
        case overlapBuckets = "overlap_buckets"
        case minOverlapBuckets = "min_overlap_buckets"
        case insufficientOverlap = "insufficient_overlap"
        case bestLagBuckets = "best_lag_buckets"
        case bestLagPearson = "best_lag_pearson"
        case bestLagPairs = "best_lag_pairs"
        case bestLagOverlapBuckets = "best_lag_overlap_buckets"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(series, forKey: .series)
        try c.encode(pearson, forKey: .pearson)
        try c.encode(spearman, forKey: .spearman)
        try c.encode(pValuePearson, forKey: .pValuePearson)
        try c.encode(pValueSpearman, forKey: .pValueSpearman)
        try c.encode(pearsonDifferenced, forKey: .pearsonDifferenced)
        try c.encode(effectiveBuckets, forKey: .effectiveBuckets)
        try c.encode(pValuePearsonAdjusted, forKey: .pValuePearsonAdjusted)
        try c.encode(buckets, forKey: .buckets)
        try c.encode(overlapBuckets, forKey: .overlapBuckets)
        try c.encode(minOverlapBuckets, forKey: .minOverlapBuckets)
        try c.encode(insufficientOverlap, forKey: .insufficientOverlap)
        try c.encode(bestLagBuckets, forKey: .bestLagBuckets)
        try c.encode(bestLagPearson, forKey: .bestLagPearson)
        try c.encode(bestLagPairs, forKey: .bestLagPairs)
        try c.encode(bestLagOverlapBuckets, forKey: .bestLagOverlapBuckets)
        try c.encode(lags, forKey: .lags)
    }
}

/// How "combined volume" ranks keys when picking the top N ports or countries.
public enum VolumeRanking: Sendable, Equatable {
    /// Sensor total + feed total. Favours whichever side counts more (a darknet's raw
    /// packets usually dwarf a sampled feed's events).
    case sum
    /// The key's share of the sensor's total + its share of the feed's total, so each side
    /// weighs equally whatever its scale (NORSE's map showed ~1% of its events).
    case sumOfShares
}

public enum CorrelationReport {
    /// A coefficient needs at least this many buckets where both series are non-zero
    /// (`analyze --min-overlap`).
    public static let defaultMinOverlapBuckets = 10

    /// Coefficients, p-values and lagged correlation over lags −maxLag … +maxLag. Each
    /// coefficient only with at least `minOverlap` buckets where both series are non-zero
    /// (the whole series for r and ρ; the lag's pairs for each lag's r); below it the
    /// figure is null and `insufficient_overlap` says why.
    public static func series(_ name: String, pair: AlignedPair, maxLag: Int,
                              minOverlap: Int = defaultMinOverlapBuckets) -> SeriesCorrelation {
        SeriesCorrelation(series: name, correlation: Statistics.correlate(pair),
                          crossCorrelation: CrossCorrelation.compute(pair, maxLag: maxLag, minOverlap: minOverlap),
                          overlapBuckets: Statistics.bothNonZero(pair.sensor, pair.feed), minOverlapBuckets: minOverlap)
    }

    /// The `count` keys with the largest combined volume, ties broken by key ascending.
    /// Keys present on only one side take part (with 0 on the other).
    public static func topKeys<Key: Hashable & Comparable>(
        sensor: [Key: [Int64: Double]], feed: [Key: [Int64: Double]], count: Int,
        ranking: VolumeRanking = .sum
    ) -> [Key] {
        guard count > 0 else { return [] }
        func totals(_ d: [Key: [Int64: Double]]) -> [Key: Double] { d.mapValues { $0.values.reduce(0, +) } }
        let s = totals(sensor), f = totals(feed)
        let sAll = s.values.reduce(0, +), fAll = f.values.reduce(0, +)
        var score: [Key: Double] = [:]
        for key in Set(s.keys).union(f.keys) {
            let a = s[key] ?? 0, b = f[key] ?? 0
            switch ranking {
            case .sum: score[key] = a + b
            case .sumOfShares: score[key] = (sAll > 0 ? a / sAll : 0) + (fAll > 0 ? b / fAll : 0)
            }
        }
        return score.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .prefix(count).map(\.key)
    }

    /// Per-key correlations for the top `top` keys (see `topKeys`), named `prefix + "/" +
    /// name(key)`, in ranking order. Every key is aligned on the same grid, so all series
    /// cover the same buckets: `first`/`count` when given, otherwise the union of every
    /// bucket in both dictionaries (all keys, not just the chosen ones).
    public static func perKey<Key: Hashable & Comparable>(
        prefix: String, name: (Key) -> String,
        sensor: [Key: [Int64: Double]], feed: [Key: [Int64: Double]],
        bucketWidthNs: Int64, first: Int64? = nil, count: Int? = nil,
        top: Int, maxLag: Int, ranking: VolumeRanking = .sum, minOverlap: Int = defaultMinOverlapBuckets
    ) throws(AlignmentError) -> [SeriesCorrelation] {
        guard bucketWidthNs > 0 else { throw .nonPositiveWidth }
        let keys = topKeys(sensor: sensor, feed: feed, count: top, ranking: ranking)
        let gridFirst: Int64, gridCount: Int
        if let first, let count {
            gridFirst = first
            gridCount = count
        } else {
            let allStarts = sensor.values.flatMap(\.keys) + feed.values.flatMap(\.keys)
            guard let lo = allStarts.min(), let hi = allStarts.max() else { return [] }
            let (span, overflow) = hi.subtractingReportingOverflow(lo)
            guard !overflow else { throw .tooManyBuckets(Int64.max) }
            let buckets = span / bucketWidthNs + 1
            guard buckets <= Alignment.maximumBuckets else { throw .tooManyBuckets(buckets) }
            gridFirst = first ?? lo
            gridCount = count ?? Int((hi - gridFirst) / bucketWidthNs + 1)
        }
        var out: [SeriesCorrelation] = []
        for key in keys {
            let pair = try Alignment.align(sensor: sensor[key] ?? [:], feed: feed[key] ?? [:],
                                           bucketWidthNs: bucketWidthNs, first: gridFirst, count: gridCount)
            out.append(series("\(prefix)/\(name(key))", pair: pair, maxLag: maxLag, minOverlap: minOverlap))
        }
        return out
    }

    /// `perKey` for destination ports: series named "port/53".
    public static func perPort(
        sensor: [UInt16: [Int64: Double]], feed: [UInt16: [Int64: Double]],
        bucketWidthNs: Int64, first: Int64? = nil, count: Int? = nil,
        top: Int, maxLag: Int, ranking: VolumeRanking = .sum, minOverlap: Int = defaultMinOverlapBuckets
    ) throws(AlignmentError) -> [SeriesCorrelation] {
        try perKey(prefix: "port", name: { String($0) }, sensor: sensor, feed: feed,
                   bucketWidthNs: bucketWidthNs, first: first, count: count,
                   top: top, maxLag: maxLag, ranking: ranking, minOverlap: minOverlap)
    }

    /// `perKey` for countries (ISO codes): series named "country/CN".
    public static func perCountry(
        sensor: [String: [Int64: Double]], feed: [String: [Int64: Double]],
        bucketWidthNs: Int64, first: Int64? = nil, count: Int? = nil,
        top: Int, maxLag: Int, ranking: VolumeRanking = .sum, minOverlap: Int = defaultMinOverlapBuckets
    ) throws(AlignmentError) -> [SeriesCorrelation] {
        try perKey(prefix: "country", name: { $0 }, sensor: sensor, feed: feed,
                   bucketWidthNs: bucketWidthNs, first: first, count: count,
                   top: top, maxLag: maxLag, ranking: ranking, minOverlap: minOverlap)
    }
}
