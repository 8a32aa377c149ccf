import Testing
import Synth
@testable import Correlation

@Suite struct CrossCorrelationTests {
    /// A bursty, non-periodic signal so only the true shift gives r = 1.
    static func signal(_ n: Int, seed: UInt64) -> [Double] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { i in 100 + Double(rng.next() % 50) + (i % 7 == 3 ? 400 : 0) * rng.unit() }
    }

    @Test func feedLeadingByThreeGivesPlusThree() throws {
        let base = Self.signal(43, seed: 1)
        // The feed sees in bucket t what the sensor sees in bucket t + 3.
        let sensor = Array(base[0..<40])
        let feed = Array(base[3..<43])
        #expect((0..<37).allSatisfy { feed[$0] == sensor[$0 + 3] })
        let result = CrossCorrelation.compute(sensor: sensor, feed: feed, maxLag: 6)
        #expect(result.bestLag == 3)
        #expect(abs(try #require(result.bestLagPearson) - 1) < 1e-12)
        #expect(result.lags.map(\.lag) == Array(-6...6))
        let at3 = try #require(result.lags.first { $0.lag == 3 })
        #expect(at3.buckets == 37)
        let at0 = try #require(result.lags.first { $0.lag == 0 })
        #expect(at0.buckets == 40)
        #expect(try #require(at0.pearson) < 0.9)
    }

    @Test func sensorLeadingByTwoGivesMinusTwo() throws {
        let base = Self.signal(42, seed: 2)
        // The sensor sees in bucket t what the feed sees in bucket t + 2.
        let sensor = Array(base[2..<42])
        let feed = Array(base[0..<40])
        let result = CrossCorrelation.compute(sensor: sensor, feed: feed, maxLag: 5)
        #expect(result.bestLag == -2)
        #expect(abs(try #require(result.bestLagPearson) - 1) < 1e-12)
    }

    @Test func eachLagMatchesAManualSlice() throws {
        let sensor = Self.signal(30, seed: 3)
        let feed = Self.signal(30, seed: 4)
        let result = CrossCorrelation.compute(sensor: sensor, feed: feed, maxLag: 4)
        for entry in result.lags {
            let k = entry.lag
            var f: [Double] = [], s: [Double] = []
            for t in 0..<30 where t + k >= 0 && t + k < 30 {
                f.append(feed[t]); s.append(sensor[t + k])
            }
            #expect(entry.buckets == f.count)
            #expect(abs(try #require(entry.pearson) - Textbook.pearson(f, s)) < 1e-12, "lag \(k)")
        }
    }

    @Test func tiesPreferSmallerShiftThenNegative() {
        func lag(_ k: Int, _ r: Double?) -> LagCorrelation { LagCorrelation(lag: k, pearson: r, buckets: 10, overlapBuckets: 10) }
        #expect(CrossCorrelation.bestLag([lag(-2, 0.9), lag(-1, 0.5), lag(0, 0.9), lag(1, 0.2), lag(2, 0.9)])?.lag == 0)
        #expect(CrossCorrelation.bestLag([lag(-2, 0.9), lag(-1, 0.5), lag(0, 0.1), lag(1, 0.2), lag(2, 0.9)])?.lag == -2)
        #expect(CrossCorrelation.bestLag([lag(-2, 0.9), lag(2, 0.9 + 1e-14)])?.lag == -2)
        #expect(CrossCorrelation.bestLag([lag(-2, 0.9), lag(2, 0.9 + 1e-6)])?.lag == 2)
        // Largest r, not largest |r|.
        #expect(CrossCorrelation.bestLag([lag(-1, -0.99), lag(0, 0.1), lag(1, 0.05)])?.lag == 0)
        #expect(CrossCorrelation.bestLag([lag(0, nil), lag(1, nil)]) == nil)
    }

    @Test func lagsBeyondTheSeriesHaveNoOverlap() {
        let result = CrossCorrelation.compute(sensor: [1, 2, 3, 5], feed: [2, 1, 4, 4], maxLag: 5)
        #expect(result.lags.count == 11)
        for entry in result.lags {
            #expect(entry.buckets == max(0, 4 - abs(entry.lag)))
            if entry.buckets < 3 { #expect(entry.pearson == nil) }
        }
        #expect(result.bestLag != nil)
    }
}
