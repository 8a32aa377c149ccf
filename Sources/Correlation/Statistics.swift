#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Pearson and Spearman coefficients of two aligned series, with two-sided p-values.
///
/// A coefficient is `nil` (never NaN) when it is undefined: fewer than 3 buckets, a side
/// that is constant (zero variance), or a non-finite value in either series. The p-values
/// are `nil` exactly when their coefficient is.
public struct CorrelationResult: Sendable, Equatable, Codable {
    public var pearson: Double?
    public var spearman: Double?
    public var pValuePearson: Double?
    public var pValueSpearman: Double?
    /// Number of paired buckets the coefficients were computed over.
    public var buckets: Int
    /// Pearson's r of the first differences (bucket-to-bucket changes): a shared trend
    /// or cycle does not make it large (`Statistics.differences`).
    public var pearsonDifferenced: Double?
    /// Independent buckets the raw series are worth, allowing for their autocorrelation
    /// (Pyper & Peterman), and the p-value of `pearson` with that many.
    public var effectiveBuckets: Double?
    public var pValuePearsonAdjusted: Double?

    public init(pearson: Double?, spearman: Double?, pValuePearson: Double?, pValueSpearman: Double?,
                buckets: Int, pearsonDifferenced: Double? = nil, effectiveBuckets: Double? = nil,
                pValuePearsonAdjusted: Double? = nil) {
        self.pearson = pearson
        self.spearman = spearman
        self.pValuePearson = pValuePearson
        self.pValueSpearman = pValueSpearman
        self.buckets = buckets
        self.pearsonDifferenced = pearsonDifferenced
        self.effectiveBuckets = effectiveBuckets
        self.pValuePearsonAdjusted = pValuePearsonAdjusted
    }

    enum CodingKeys: String, CodingKey {
        case pearson, spearman, buckets
        case pValuePearson = "p_value_pearson"
        case pValueSpearman = "p_value_spearman"
        case pearsonDifferenced = "pearson_differenced"
        case effectiveBuckets = "effective_buckets"
        case pValuePearsonAdjusted = "p_value_pearson_adjusted"
    }

    // Undefined figures are written as JSON null rather than left out, so every report
    // has the same keys.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(pearson, forKey: .pearson)
        try c.encode(spearman, forKey: .spearman)
        try c.encode(pValuePearson, forKey: .pValuePearson)
        try c.encode(pValueSpearman, forKey: .pValueSpearman)
        try c.encode(buckets, forKey: .buckets)
        try c.encode(pearsonDifferenced, forKey: .pearsonDifferenced)
        try c.encode(effectiveBuckets, forKey: .effectiveBuckets)
        try c.encode(pValuePearsonAdjusted, forKey: .pValuePearsonAdjusted)
    }
}

public enum Statistics {
    /// Fewest pairs for which a coefficient (and its n − 2 degrees of freedom) is reported.
    public static let minimumPairs = 3

    // MARK: Coefficients

    /// Pearson's r, computed in two passes: the means first (with a second-pass correction
    /// of the rounding error in the mean), then the sums of products of deviations. This
    /// avoids the cancellation of the one-pass `Σxy − n·x̄·ȳ` form on large counts.
    /// Returns nil when n < 3, the lengths differ, a value is not finite, or either series
    /// is constant. The result is clamped to [−1, 1].
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double? {
        let n = x.count
        guard n == y.count, n >= minimumPairs else { return nil }
        guard x.allSatisfy(\.isFinite), y.allSatisfy(\.isFinite) else { return nil }
        // Exact constancy test: a float mean of equal values may differ from them in the
        // last bit, which would leave a spurious non-zero variance.
        guard x.contains(where: { $0 != x[0] }), y.contains(where: { $0 != y[0] }) else { return nil }
        let mx = mean(x), my = mean(y)
        var sxx = 0.0, syy = 0.0, sxy = 0.0
        for i in 0..<n {
            let dx = x[i] - mx, dy = y[i] - my
            sxx += dx * dx
            syy += dy * dy
            sxy += dx * dy
        }
        guard sxx > 0, syy > 0 else { return nil }
        // sqrt of each factor separately: sxx·syy can overflow for very large counts.
        let r = sxy / (sxx.squareRoot() * syy.squareRoot())
        guard r.isFinite else { return nil }
        return min(1, max(-1, r))
    }

    /// Spearman's ρ: Pearson's r of the ranks, tied values receiving the average of the
    /// ranks they span (ranks are 1-based). Same nil cases as `pearson`.
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double? {
        guard x.count == y.count, x.count >= minimumPairs else { return nil }
        guard x.allSatisfy(\.isFinite), y.allSatisfy(\.isFinite) else { return nil }
        return pearson(averageRanks(x), averageRanks(y))
    }

    /// 1-based ranks; a run of k equal values occupying ranks i+1 … i+k all get
    /// i + (k+1)/2. Values must be finite (NaN has no order).
    public static func averageRanks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] || (values[$0] == values[$1] && $0 < $1) }
        var ranks = [Double](repeating: 0, count: values.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && values[order[j + 1]] == values[order[i]] { j += 1 }
            let rank = Double(i + j) / 2 + 1 // average of (i+1) … (j+1)
            for k in i...j { ranks[order[k]] = rank }
            i = j + 1
        }
        return ranks
    }

    /// Arithmetic mean with a second-pass correction: x̄ + Σ(xᵢ − x̄)/n.
    public static func mean(_ x: [Double]) -> Double {
        guard !x.isEmpty else { return 0 }
        let n = Double(x.count)
        let m = x.reduce(0, +) / n
        let correction = x.reduce(0) { $0 + ($1 - m) } / n
        return m + correction
    }

    /// Both coefficients and their p-values for an aligned pair.
    /// Buckets where both series are non-zero: how much the two actually overlap. A
    /// coefficient over a series that is zero but for one bucket says nothing.
    public static func bothNonZero(_ x: some Collection<Double>, _ y: some Collection<Double>) -> Int {
        zip(x, y).reduce(0) { $0 + ($1.0 != 0 && $1.1 != 0 ? 1 : 0) }
    }

    public static func correlate(_ pair: AlignedPair) -> CorrelationResult {
        correlate(pair.sensor, pair.feed)
    }

    public static func correlate(_ x: [Double], _ y: [Double]) -> CorrelationResult {
        let n = min(x.count, y.count)
        let r = pearson(x, y)
        let rho = spearman(x, y)
        let effective = r == nil ? nil : effectiveSampleSize(x, y)
        return CorrelationResult(
            pearson: r, spearman: rho,
            pValuePearson: r.flatMap { correlationPValue(r: $0, n: n) },
            pValueSpearman: rho.flatMap { correlationPValue(r: $0, n: n) },
            buckets: x.count == y.count ? n : 0,
            pearsonDifferenced: x.count == y.count ? pearson(differences(x), differences(y)) : nil,
            effectiveBuckets: effective,
            pValuePearsonAdjusted: r.flatMap { r in effective.flatMap { correlationPValue(r: r, effectiveSize: $0) } })
    }

    // MARK: Significance

    /// Two-sided p-value of a correlation coefficient under the null hypothesis of no
    /// correlation, from Student's t with ν = n − 2 degrees of freedom,
    /// t = r·√(ν / (1 − r²)).
    ///
    /// Method: P(|T| ≥ |t|) = I_x(ν/2, 1/2) with x = ν / (ν + t²). Substituting t gives
    /// x = 1 − r² exactly, so the p-value is computed as I_{1−r²}(ν/2, 1/2) with
    /// 1 − r² formed as (1 − |r|)(1 + |r|) and its complement r² passed alongside; neither
    /// t nor a subtraction near 1 is evaluated. |r| = 1 gives 0. Exact for Pearson under
    /// bivariate normality; for Spearman it is the usual large-sample approximation (as
    /// in scipy's `spearmanr`), adequate from about n ≥ 10.
    /// Returns nil when n < 3 or r is not finite or outside [−1, 1].
    public static func correlationPValue(r: Double, n: Int) -> Double? {
        guard n >= minimumPairs, r.isFinite, abs(r) <= 1 else { return nil }
        let a = abs(r)
        if a == 1 { return 0 }
        let nu = Double(n - 2)
        let x = (1 - a) * (1 + a)
        return clampProbability(regularizedIncompleteBeta(a: nu / 2, b: 0.5, x: x, complement: a * a))
    }

    /// Two-sided tail probability P(|T| ≥ |t|) of Student's t with ν > 0 degrees of freedom:
    /// I_{ν/(ν+t²)}(ν/2, 1/2). Returns nil for ν ≤ 0 or NaN t; ±∞ gives 0.
    public static func studentTTwoSided(t: Double, degreesOfFreedom nu: Double) -> Double? {
        guard nu > 0, nu.isFinite, !t.isNaN else { return nil }
        if t.isInfinite { return 0 }
        let t2 = t * t
        let denominator = nu + t2
        return clampProbability(regularizedIncompleteBeta(a: nu / 2, b: 0.5, x: nu / denominator,
                                                          complement: t2 / denominator))
    }

    /// The regularized incomplete beta function I_x(a, b) = B(x; a, b) / B(a, b), for
    /// a, b > 0 and 0 ≤ x ≤ 1 (nil otherwise).
    public static func regularizedIncompleteBeta(a: Double, b: Double, x: Double) -> Double? {
        guard a > 0, b > 0, a.isFinite, b.isFinite, x >= 0, x <= 1 else { return nil }
        return regularizedIncompleteBeta(a: a, b: b, x: x, complement: 1 - x)
    }

    /// I_x(a, b) with y = 1 − x supplied by the caller, who can often form it without
    /// cancellation. Numerical Recipes (3rd ed., §6.4) method: the prefactor
    /// xᵃ·yᵇ / (a·B(a, b)) via lgamma, times the continued fraction
    ///   1 / (1 + d₁ / (1 + d₂ / (1 + …))),
    ///   d₂ₘ₊₁ = −(a+m)(a+b+m)x / ((a+2m)(a+2m+1)),  d₂ₘ = m(b−m)x / ((a+2m−1)(a+2m)),
    /// evaluated by the modified Lentz algorithm. The fraction converges quickly for
    /// x < (a+1)/(a+b+2); above that the symmetry I_x(a, b) = 1 − I_y(b, a) is used.
    static func regularizedIncompleteBeta(a: Double, b: Double, x: Double, complement y: Double) -> Double {
        if x <= 0 { return 0 }
        if y <= 0 { return 1 }
        let logPrefactor = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(y)
        let prefactor = exp(logPrefactor)
        if x < (a + 1) / (a + b + 2) {
            return prefactor * betaContinuedFraction(a: a, b: b, x: x) / a
        } else {
            return 1 - prefactor * betaContinuedFraction(a: b, b: a, x: y) / b
        }
    }

    /// Modified Lentz evaluation of the incomplete-beta continued fraction; stops when a
    /// step changes the value by less than 1e-16 relative (or after 10 000 steps, far more
    /// than the O(√max(a, b)) steps convergence takes in the region it is used).
    static func betaContinuedFraction(a: Double, b: Double, x: Double) -> Double {
        let tiny = 1e-300
        let epsilon = 1e-16
        let qab = a + b, qap = a + 1, qam = a - 1
        var c = 1.0
        var d = 1 - qab * x / qap
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...10_000 {
            let m = Double(m), m2 = 2 * m
            // Even step.
            var aa = m * (b - m) * x / ((qam + m2) * (a + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            // Odd step.
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < epsilon { break }
        }
        return h
    }

    private static func clampProbability(_ p: Double) -> Double {
        min(1, max(0, p))
    }
}
