/// Honest significance for time series. Daily or per-bucket counts carry trends and
/// weekly cycles, so two unrelated series often correlate, and the usual p-value (which
/// assumes independent buckets) is far too small. Two remedies, reported beside the raw
/// coefficient:
///
/// - the correlation of first differences (bucket-to-bucket changes), which removes a
///   shared trend: two series that merely both grow have raw r near 1 and differenced r
///   near 0;
/// - a p-value from an effective number of independent buckets, after Pyper & Peterman
///   (1998, Can. J. Fish. Aquat. Sci. 55:2127), a form of Bartlett's correction:
///       1 / n_eff = 1/n + (2/n) · Σ_{k=1}^{⌊n/5⌋} ((n − k)/n) · ρ_x(k) · ρ_y(k),
///   where ρ(k) is the lag-k autocorrelation of each series; n_eff is kept in [3, n], and
///   the p-value is Student's t with n_eff − 2 degrees of freedom.
extension Statistics {
    /// xᵢ₊₁ − xᵢ: one element fewer.
    public static func differences(_ x: [Double]) -> [Double] {
        guard x.count > 1 else { return [] }
        return (1..<x.count).map { x[$0] - x[$0 - 1] }
    }

    /// The lag-k autocorrelation of `x` with the usual estimator:
    /// Σ_{i<n−k} (xᵢ − x̄)(xᵢ₊ₖ − x̄) / Σ (xᵢ − x̄)². Nil for a constant series, a lag
    /// outside 1 ..< n, or a non-finite value.
    public static func autocorrelation(_ x: [Double], lag k: Int) -> Double? {
        let n = x.count
        guard k >= 1, k < n, x.allSatisfy(\.isFinite), x.contains(where: { $0 != x[0] }) else { return nil }
        let m = mean(x)
        var denominator = 0.0
        for v in x { denominator += (v - m) * (v - m) }
        guard denominator > 0 else { return nil }
        var numerator = 0.0
        for i in 0..<(n - k) { numerator += (x[i] - m) * (x[i + k] - m) }
        return numerator / denominator
    }

    /// Pyper & Peterman's effective number of independent pairs (see above), in
    /// [3, n]; nil when n < 3 or a series is constant or not finite.
    public static func effectiveSampleSize(_ x: [Double], _ y: [Double]) -> Double? {
        let n = x.count
        guard n == y.count, n >= minimumPairs else { return nil }
        guard x.allSatisfy(\.isFinite), y.allSatisfy(\.isFinite),
              x.contains(where: { $0 != x[0] }), y.contains(where: { $0 != y[0] }) else { return nil }
        let nd = Double(n)
        var sum = 0.0
        let maxLag = n / 5
        if maxLag >= 1 {
            for k in 1...maxLag {
                guard let rx = autocorrelation(x, lag: k), let ry = autocorrelation(y, lag: k) else { continue }
                sum += (nd - Double(k)) / nd * rx * ry
            }
        }
        let inverse = 1 / nd + 2 / nd * sum
        guard inverse > 0, inverse.isFinite else { return nd }
        return min(nd, max(Double(minimumPairs), 1 / inverse))
    }

    /// Two-sided p-value of r with `n` effective pairs (not necessarily whole): Student's
    /// t with n − 2 degrees of freedom. Nil when n < 3 or r is not in [−1, 1].
    public static func correlationPValue(r: Double, effectiveSize n: Double) -> Double? {
        guard n >= Double(minimumPairs), n.isFinite, r.isFinite, abs(r) <= 1 else { return nil }
        let a = abs(r)
        if a == 1 { return 0 }
        let nu = n - 2
        return studentTTwoSided(t: a * (nu / ((1 - a) * (1 + a))).squareRoot(), degreesOfFreedom: nu)
    }
}
