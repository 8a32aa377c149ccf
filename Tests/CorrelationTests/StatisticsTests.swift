import Foundation
import Testing
import Synth
@testable import Correlation

/// Generated datasets draw from Synth's SplitMix64 (seeded, reproducible).
extension SplitMix64 {
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

@Suite struct PearsonSpearmanTests {
    static let anscombeX: [Double] = [10, 8, 13, 9, 11, 14, 6, 4, 12, 7, 5]
    static let anscombe: [(x: [Double], y: [Double])] = [
        (anscombeX, [8.04, 6.95, 7.58, 8.81, 8.33, 9.96, 7.24, 4.26, 10.84, 4.82, 5.68]),
        (anscombeX, [9.14, 8.14, 8.74, 8.77, 9.26, 8.10, 6.13, 3.10, 9.13, 7.26, 4.74]),
        (anscombeX, [7.46, 6.77, 12.74, 7.11, 7.81, 8.84, 6.08, 5.39, 8.15, 6.42, 5.73]),
        ([8, 8, 8, 8, 8, 8, 8, 19, 8, 8, 8], [6.58, 5.76, 7.71, 8.84, 8.47, 7.04, 5.25, 12.50, 5.56, 7.91, 6.89]),
    ]

    @Test func perfectlyLinearIsOneAndReversedIsMinusOne() throws {
        let x: [Double] = (0..<20).map { Double($0) }
        let up = x.map { 3 * $0 + 7 }
        let down = x.map { -0.5 * $0 + 100 }
        #expect(abs(try #require(Statistics.pearson(x, up)) - 1) < 1e-15)
        #expect(abs(try #require(Statistics.pearson(x, down)) + 1) < 1e-15)
        #expect(try #require(Statistics.spearman(x, up)) == 1)
        #expect(try #require(Statistics.spearman(x, down)) == -1)
        #expect(Statistics.correlationPValue(r: 1, n: 20) == 0)
    }

    @Test func anscombeQuartetAllHaveR0816() throws {
        // Anscombe (1973): the four datasets share r = 0.816 to three decimals (truncated:
        // dataset IV's 0.81652 would round to 0.817). Full values: scipy.stats.pearsonr.
        let published = [0.8164205163448395, 0.8162365060002424, 0.8162867394895981, 0.8165214368885028]
        for (i, d) in Self.anscombe.enumerated() {
            let r = try #require(Statistics.pearson(d.x, d.y), "dataset \(i + 1)")
            #expect((r * 1000).rounded(.towardZero) / 1000 == 0.816, "dataset \(i + 1): r = \(r)")
            #expect(abs(r - published[i]) < 1e-12, "dataset \(i + 1)")
            #expect(abs(r - Textbook.pearson(d.x, d.y)) < 1e-12)
        }
        // Spearman differs between them (scipy.stats.spearmanr: 0.8182, 0.6909, 0.9909, 0.5).
        let rho = Self.anscombe.map { Statistics.spearman($0.x, $0.y)! }
        #expect(abs(rho[0] - 9.0 / 11.0) < 1e-12)
        #expect(abs(rho[1] - 0.690909090909091) < 1e-12)
        #expect(abs(rho[2] - 0.990909090909091) < 1e-12)
        #expect(abs(rho[3] - 0.5) < 1e-12)
    }

    @Test func spearmanOfMonotoneNonLinearIsOne() throws {
        let x: [Double] = (1...30).map { Double($0) }
        let y = x.map { exp($0 / 3) }
        #expect(try #require(Statistics.spearman(x, y)) == 1)
        #expect(try #require(Statistics.pearson(x, y)) < 0.9) // clearly not linear
        #expect(try #require(Statistics.spearman(x, y.map { -$0 * $0 * $0 })) == -1)
    }

    @Test func tiesGetAverageRanks() throws {
        #expect(Statistics.averageRanks([10, 20, 20, 30, 40, 40, 40]) == [1, 2.5, 2.5, 4, 6, 6, 6])
        #expect(Statistics.averageRanks([5, 5, 5]) == [2, 2, 2])
        #expect(Statistics.averageRanks([3, 1, 2]) == [3, 1, 2])
        let x: [Double] = [1, 2, 2, 3, 4, 4, 4, 5]
        let y: [Double] = [2, 1, 3, 3, 5, 4, 6, 6]
        let rho = try #require(Statistics.spearman(x, y))
        // scipy.stats.spearmanr(x, y).statistic = 0.9007775105401477
        #expect(abs(rho - 0.9007775105401477) < 1e-12)
        #expect(abs(rho - Textbook.spearman(x, y)) < 1e-12)
    }

    @Test func undefinedCasesAreNilNotNaN() {
        #expect(Statistics.pearson([1, 1, 1, 1], [1, 2, 3, 4]) == nil)
        #expect(Statistics.pearson([1, 2, 3, 4], [0, 0, 0, 0]) == nil)
        #expect(Statistics.spearman([0.1, 0.1, 0.1, 0.1], [1, 2, 3, 4]) == nil)
        #expect(Statistics.pearson([1, 2], [2, 4]) == nil) // n < 3
        #expect(Statistics.pearson([1, 2, 3], [2, 4]) == nil) // lengths differ
        #expect(Statistics.pearson([1, .nan, 3], [2, 4, 6]) == nil)
        #expect(Statistics.pearson([1, .infinity, 3], [2, 4, 6]) == nil)
        let result = Statistics.correlate([7, 7, 7, 7, 7], [1, 2, 3, 4, 5])
        #expect(result == CorrelationResult(pearson: nil, spearman: nil, pValuePearson: nil,
                                            pValueSpearman: nil, buckets: 5))
        #expect(Statistics.correlationPValue(r: 0.5, n: 2) == nil)
        #expect(Statistics.correlationPValue(r: .nan, n: 10) == nil)
    }

    @Test func matchesTextbookOnRandomData() throws {
        var rng = SplitMix64(seed: 42)
        for trial in 0..<200 {
            let n = 3 + trial % 60
            let x = (0..<n).map { _ in rng.unit() * 1000 }
            let noise = (0..<n).map { _ in rng.unit() * 500 }
            // Integer-valued y half the time so Spearman sees ties.
            let y = zip(x, noise).map { trial % 2 == 0 ? ($0 + $1).rounded(.down) / 100 : $0 * 0.3 - $1 }
            let yTied = y.map { (trial % 2 == 0) ? ($0 / 2).rounded() : $0 }
            guard Set(yTied).count > 1 else { continue }
            let r = try #require(Statistics.pearson(x, yTied))
            #expect(abs(r - Textbook.pearson(x, yTied)) < 1e-9, "trial \(trial)")
            let rho = try #require(Statistics.spearman(x, yTied))
            #expect(abs(rho - Textbook.spearman(x, yTied)) < 1e-9, "trial \(trial)")
        }
    }

    @Test func twoPassSurvivesALargeOffset() throws {
        // Counts around 1e9 with small variation: the raw-sums formula cancels
        // catastrophically; the deviations form does not.
        let base: [Double] = [1, 3, 2, 5, 4, 6, 8, 7, 9, 10]
        let other: [Double] = [2, 1, 4, 3, 6, 5, 7, 9, 8, 10]
        let expected = try #require(Statistics.pearson(base, other))
        let shifted = try #require(Statistics.pearson(base.map { $0 + 1e9 }, other.map { $0 + 3e9 }))
        #expect(abs(shifted - expected) < 1e-12)
        #expect(abs(expected - Textbook.pearson(base, other)) < 1e-12)
    }
}

@Suite struct PValueTests {
    @Test func knownValues() throws {
        // r = 0.5, n = 12: ν = 10 is even, so the p-value is a polynomial in r:
        // 1 − 0.5·Σ_{j<5} a_j·0.75^j = 0.0978546142578125 exactly.
        let p = try #require(Statistics.correlationPValue(r: 0.5, n: 12))
        #expect(abs(p - 0.0978546142578125) < 1e-12)
        #expect(abs((p * 10000).rounded() / 10000 - 0.0979) < 1e-12)
        // scipy 1.17.1: 2 * scipy.stats.t.sf(|r|·√((n−2)/(1−r²)), n−2)
        let cases: [(r: Double, n: Int, p: Double)] = [
            (0.3, 20, 0.19875771734455366),
            (0.9, 5, 0.03738607346849862),
            (0.1, 100, 0.32221736303061954),
            (-0.7, 8, 0.05322375),             // ν = 6 even: exact 0.05322375
            (0.816, 11, 0.002190667209889879),
            (0.1, 1000, 0.0015441161074010938),
            (0.05, 10000, 5.659045510598838e-07),
            (0.999, 5, 3.7954974373400645e-05),
            (0.2, 3, 0.87181156630205),
            (0.6, 4, 0.4),                     // ν = 2: p = 1 − |r|
        ]
        for c in cases {
            let got = try #require(Statistics.correlationPValue(r: c.r, n: c.n))
            #expect(abs(got - c.p) < 1e-10, "r=\(c.r) n=\(c.n): \(got) vs \(c.p)")
            #expect(abs(got - c.p) <= 1e-8 * c.p, "relative error, r=\(c.r) n=\(c.n)")
        }
        // Tiny p keeps its relative precision (scipy: 1.6627065657241208e-24).
        let tiny = try #require(Statistics.correlationPValue(r: 0.99, n: 29))
        #expect(abs(tiny - 1.6627065657241208e-24) < 1e-8 * 1.6627065657241208e-24)
    }

    @Test func agreesWithClosedFormStudentT() throws {
        // Independent: finite trigonometric series for integer ν vs the continued fraction.
        for nu in 1...60 {
            for t in stride(from: 0.0, through: 12.0, by: 0.37) {
                let got = try #require(Statistics.studentTTwoSided(t: t, degreesOfFreedom: Double(nu)))
                let want = Textbook.studentTwoSided(t: t, nu: nu)
                #expect(abs(got - want) < 1e-10, "t=\(t) ν=\(nu): \(got) vs \(want)")
                let negative = try #require(Statistics.studentTTwoSided(t: -t, degreesOfFreedom: Double(nu)))
                #expect(negative == got)
            }
        }
        var rng = SplitMix64(seed: 7)
        for _ in 0..<300 {
            let n = 3 + Int(rng.next() % 200)
            let r = rng.unit() * 2 - 1
            let got = try #require(Statistics.correlationPValue(r: r, n: n))
            #expect(abs(got - Textbook.correlationPValue(r: r, n: n)) < 1e-10, "r=\(r) n=\(n)")
        }
        #expect(Statistics.studentTTwoSided(t: .infinity, degreesOfFreedom: 3) == 0)
        #expect(Statistics.studentTTwoSided(t: 1, degreesOfFreedom: 0) == nil)
    }

    @Test func incompleteBetaSpecialCases() throws {
        for x in stride(from: 0.0, through: 1.0, by: 0.05) {
            #expect(abs(try #require(Statistics.regularizedIncompleteBeta(a: 1, b: 1, x: x)) - x) < 1e-14)
            for a in [0.5, 2, 3.5, 10] {
                // I_x(a, 1) = x^a; I_x(1, b) = 1 − (1 − x)^b.
                let ia1 = try #require(Statistics.regularizedIncompleteBeta(a: a, b: 1, x: x))
                #expect(abs(ia1 - pow(x, a)) < 1e-13, "a=\(a) x=\(x)")
                let i1b = try #require(Statistics.regularizedIncompleteBeta(a: 1, b: a, x: x))
                #expect(abs(i1b - (1 - pow(1 - x, a))) < 1e-13, "b=\(a) x=\(x)")
            }
        }
        for a in [0.5, 1, 7, 40, 300.5] {
            // Symmetry: I_{1/2}(a, a) = 1/2.
            #expect(abs(try #require(Statistics.regularizedIncompleteBeta(a: a, b: a, x: 0.5)) - 0.5) < 1e-12)
        }
        #expect(Statistics.regularizedIncompleteBeta(a: 0, b: 1, x: 0.5) == nil)
        #expect(Statistics.regularizedIncompleteBeta(a: 1, b: 1, x: 1.5) == nil)
    }
}
