import Foundation
import Synth
import Testing
@testable import Correlation

/// First differences and the effective number of independent buckets: the remedies for
/// series that correlate only because both trend (docs/correlation.md).
@Suite struct AutocorrelationTests {
    /// Two independent noisy upward trends: the raw r is near 1 and its naive p-value
    /// absurdly small; the differenced r is near 0, and the adjusted p-value admits that
    /// 200 trending buckets are worth only a few independent ones.
    @Test func sharedTrendIsNotMistakenForCorrelation() throws {
        var rng = SplitMix64(seed: 11)
        let n = 200
        let x = (0..<n).map { Double($0) * 10 + Double(rng.next() % 400) }
        let y = (0..<n).map { Double($0) * 3 + Double(rng.next() % 150) }
        let result = Statistics.correlate(x, y)
        let r = try #require(result.pearson)
        #expect(r > 0.9)
        #expect(try #require(result.pValuePearson) < 1e-50)
        let differenced = try #require(result.pearsonDifferenced)
        #expect(abs(differenced) < 0.3, "differenced r = \(differenced)")
        let effective = try #require(result.effectiveBuckets)
        #expect(effective < 20, "n_eff = \(effective)")
        let adjusted = try #require(result.pValuePearsonAdjusted)
        let naive = try #require(result.pValuePearson)
        #expect(adjusted > 1e-12 && adjusted > naive * 1e30, "adjusted p = \(adjusted), naive \(naive)")
    }

    /// Independent white noise is worth about as many buckets as it has.
    @Test func whiteNoiseKeepsItsBuckets() throws {
        var rng = SplitMix64(seed: 5)
        let n = 400
        let x = (0..<n).map { _ in Double(rng.next() % 1000) }
        let y = (0..<n).map { _ in Double(rng.next() % 1000) }
        let effective = try #require(Statistics.effectiveSampleSize(x, y))
        #expect(effective > 0.8 * Double(n) && effective <= Double(n), "n_eff = \(effective)")
    }

    /// Against a direct computation of the same formulas (written out separately), and
    /// the adjusted p-value with n_eff = n equals the plain one.
    @Test func matchesADirectComputation() throws {
        var rng = SplitMix64(seed: 3)
        for trial in 0..<50 {
            let n = 10 + trial * 3
            var level = 100.0
            let x = (0..<n).map { _ -> Double in level += Double(rng.next() % 21) - 10; return level }
            let y = (0..<n).map { i in Double(i % 7) * 5 + Double(rng.next() % 30) }
            func acf(_ v: [Double], _ k: Int) -> Double {
                let m = v.reduce(0, +) / Double(v.count)
                let d = v.map { $0 - m }
                let num = (0..<(v.count - k)).reduce(0.0) { $0 + d[$1] * d[$1 + k] }
                return num / d.reduce(0.0) { $0 + $1 * $1 }
            }
            var s = 0.0
            for k in 1...(n / 5) { s += Double(n - k) / Double(n) * acf(x, k) * acf(y, k) }
            let expected = min(Double(n), max(3, 1 / (1 / Double(n) + 2 / Double(n) * s)))
            let effective = try #require(Statistics.effectiveSampleSize(x, y))
            #expect(abs(effective - expected) < 1e-9 * expected, "trial \(trial)")
            let dx = (1..<n).map { x[$0] - x[$0 - 1] }, dy = (1..<n).map { y[$0] - y[$0 - 1] }
            let differenced = try #require(Statistics.correlate(x, y).pearsonDifferenced)
            #expect(abs(differenced - Textbook.pearson(dx, dy)) < 1e-9, "trial \(trial)")
            let r = try #require(Statistics.pearson(x, y))
            let plain = try #require(Statistics.correlationPValue(r: r, n: n))
            let same = try #require(Statistics.correlationPValue(r: r, effectiveSize: Double(n)))
            #expect(abs(plain - same) <= 1e-12 + 1e-9 * plain, "trial \(trial)")
        }
    }

    /// The study's Hong Kong table: the five groups' daily counts share one decaying
    /// trend over 29 days; the differenced coefficients and effective sizes are reported
    /// beside the raw ones (docs/correlation.md prints them).
    @Test(.enabled(if: HKTable.shared != nil, "table8_hk_daily_counts.tsv not found next to the repository"))
    func hongKongTableDifferencedAndAdjusted() throws {
        let table = try #require(HKTable.shared)
        let x = table.columns[0], y = table.columns[4]
        let result = Statistics.correlate(x, y)
        let dx = Statistics.differences(x), dy = Statistics.differences(y)
        #expect(abs(try #require(result.pearsonDifferenced) - Textbook.pearson(dx, dy)) < 1e-9)
        let effective = try #require(result.effectiveBuckets)
        #expect(effective >= 3 && effective <= 29)
        let adjusted = try #require(result.pValuePearsonAdjusted), naive = try #require(result.pValuePearson)
        #expect(adjusted >= naive)
    }
}
