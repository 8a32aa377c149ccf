/// How a `Baseline` learns and what "well above it" means. Rule configs carry these values.
public struct BaselineParameters: Sendable, Equatable, Codable {
    /// Deviations above the mean a value must reach (`value > mean + k·deviation`).
    public var k: Double
    /// The value must also be at least `minRatio × mean`.
    public var minRatio: Double
    /// Buckets learned before the baseline may judge anything.
    public var warmUpBuckets: Int
    /// EWMA weight of a new bucket once warm (during warm-up: 1/n, a plain running mean).
    public var alpha: Double
    /// Floor of the deviation used in the threshold, so a perfectly flat series does not
    /// turn `k·deviation` into zero.
    public var minDeviation: Double

    public init(k: Double = 4, minRatio: Double = 3, warmUpBuckets: Int = 10, alpha: Double = 0.1,
                minDeviation: Double = 1) {
        self.k = k
        self.minRatio = minRatio
        self.warmUpBuckets = warmUpBuckets
        self.alpha = alpha
        self.minDeviation = minDeviation
    }
}

/// A robust per-series baseline: EWMA mean and EWMA absolute deviation.
///
/// - Warm-up: the first `warmUpBuckets` values are averaged with weight 1/n (an exact
///   running mean and mean absolute deviation); no verdict is given before that.
/// - Then: `mean += α(v − mean)`, `deviation += α(|v − mean_prev| − deviation)`.
/// - Winsorised learning: once warm, a value is clamped to `mean + k·max(deviation,
///   minDeviation)` before it is learned, so a surge bucket moves the baseline by at most
///   α·k·deviation instead of poisoning it; a surge that persists is still absorbed
///   (the clamp rises geometrically, by a factor of about 1 + α(k−1) per bucket).
public struct Baseline: Sendable, Equatable, Codable {
    public private(set) var mean: Double = 0
    public private(set) var deviation: Double = 0
    /// Values learned (saturating).
    public private(set) var samples: Int = 0

    public init() {}

    public func isWarm(_ p: BaselineParameters) -> Bool { samples >= p.warmUpBuckets }

    public func effectiveDeviation(_ p: BaselineParameters) -> Double { max(deviation, p.minDeviation) }

    /// `mean + k·max(deviation, minDeviation)`.
    public func threshold(_ p: BaselineParameters) -> Double { mean + p.k * effectiveDeviation(p) }

    /// True when the baseline is warm and `value` exceeds the threshold, is at least
    /// `minimum`, and is at least `minRatio × mean`. Judge before `learn`.
    public func isSurge(_ value: Double, minimum: Double, _ p: BaselineParameters) -> Bool {
        isWarm(p) && value > threshold(p) && value >= minimum && value >= p.minRatio * mean
    }

    /// Learns one bucket's value (clamped once warm, see the type's documentation).
    public mutating func learn(_ value: Double, _ p: BaselineParameters) {
        var v = value.isFinite ? max(0, value) : 0
        if isWarm(p) { v = min(v, threshold(p)) }
        if samples == 0 {
            mean = v
            deviation = 0
            samples = 1
            return
        }
        let weight = samples < p.warmUpBuckets ? 1 / Double(samples + 1) : p.alpha
        deviation += weight * (abs(v - mean) - deviation)
        mean += weight * (v - mean)
        if samples < Int.max { samples += 1 }
    }
}
