import Foundation
import Testing
@testable import Correlation

@Suite struct ReportTests {
    static let day: Int64 = 86_400_000_000_000

    @Test func seriesCorrelationJSONKeys() throws {
        let d = Self.day
        let sensor = Dictionary(uniqueKeysWithValues: (0..<10).map { (Int64($0) * d, Double($0 * $0)) })
        let feed = Dictionary(uniqueKeysWithValues: (0..<10).map { (Int64($0) * d, Double(3 * $0 + 1)) })
        let pair = try Alignment.align(sensor: sensor, feed: feed, bucketWidthNs: d)
        let report = CorrelationReport.series("total", pair: pair, maxLag: 2, minOverlap: 9)
        #expect(report.series == "total" && report.buckets == 10 && report.overlapBuckets == 9 && !report.insufficientOverlap)
        #expect(report.spearman == 1)
        #expect(abs(try #require(report.pearson) - Textbook.pearson(pair.sensor, pair.feed)) < 1e-12)
        #expect(report.lags.count == 5)

        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(report)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == ["series", "pearson", "spearman", "p_value_pearson", "p_value_spearman",
                                     "pearson_differenced", "effective_buckets", "p_value_pearson_adjusted", "buckets", "overlap_buckets", "min_overlap_buckets", "insufficient_overlap",
                                     "best_lag_buckets", "best_lag_pearson", "best_lag_pairs", "best_lag_overlap_buckets", "lags"])
        let lags = try #require(object["lags"] as? [[String: Any]])
        #expect(Set(lags[0].keys) == ["lag", "pearson", "buckets", "overlap_buckets"])
        #expect(try JSONDecoder().decode(SeriesCorrelation.self, from: data) == report)

        // Undefined figures are null, not missing (and never NaN, which JSON cannot hold).
        let flat = try Alignment.align(sensor: [0: 1.0, d: 1, 2 * d: 1], feed: [0: 1.0, d: 2, 2 * d: 3],
                                       bucketWidthNs: d)
        let undefined = CorrelationReport.series("port/53", pair: flat, maxLag: 1, minOverlap: 1)
        let flatObject = try #require(try JSONSerialization.jsonObject(with: try encoder.encode(undefined)) as? [String: Any])
        #expect(flatObject["pearson"] is NSNull && flatObject["best_lag_buckets"] is NSNull)
        #expect(try JSONDecoder().decode(SeriesCorrelation.self, from: try encoder.encode(undefined)) == undefined)

        let result = Statistics.correlate(pair)
        let resultObject = try #require(try JSONSerialization.jsonObject(with: try encoder.encode(result)) as? [String: Any])
        #expect(Set(resultObject.keys) == ["pearson", "spearman", "p_value_pearson", "p_value_spearman", "buckets",
                                           "pearson_differenced", "effective_buckets", "p_value_pearson_adjusted"])
        #expect(try JSONDecoder().decode(CorrelationResult.self, from: try encoder.encode(result)) == result)
    }

    /// Issue 12, finding 12: a feed non-zero in one bucket gave best-lag r = 1.000. A
    /// coefficient now needs `minOverlap` buckets where both series are non-zero.
    @Test func thinOverlapGivesNoCoefficient() throws {
        let d = Self.day
        var sensor: [Int64: Double] = [:]
        for i in 0..<29 { sensor[Int64(i) * d] = Double(1000 + 37 * (i % 5)) }
        let feed: [Int64: Double] = [14 * d: 250]   // one bucket
        let pair = try Alignment.align(sensor: sensor, feed: feed, bucketWidthNs: d)
        #expect(CrossCorrelation.compute(pair, maxLag: 3).bestLagPearson != nil, "the math alone finds an r")
        let report = CorrelationReport.series("total", pair: pair, maxLag: 3)
        #expect(report.minOverlapBuckets == 10 && report.overlapBuckets == 1 && report.buckets == 29)
        #expect(report.insufficientOverlap)
        #expect(report.pearson == nil && report.spearman == nil && report.pValuePearson == nil && report.pValueSpearman == nil)
        #expect(report.bestLagBuckets == nil && report.bestLagPearson == nil)
        #expect(report.lags.allSatisfy { $0.pearson == nil && $0.overlapBuckets <= 1 })

        // Enough overlap: the coefficient and each lag's r come with their counts.
        var dense = feed
        for i in 0..<29 where i % 2 == 0 { dense[Int64(i) * d] = Double(10 + (i % 5)) }
        let ok = CorrelationReport.series("total", pair: try Alignment.align(sensor: sensor, feed: dense, bucketWidthNs: d), maxLag: 1)
        #expect(!ok.insufficientOverlap && ok.overlapBuckets == 15 && ok.pearson != nil)
        let best = try #require(ok.lags.first { $0.lag == ok.bestLagBuckets })
        #expect(ok.bestLagPairs == best.buckets && ok.bestLagOverlapBuckets == best.overlapBuckets)
        // A lag is judged on its own pairs: fewer than the minimum there, no r there.
        let strict = CorrelationReport.series("total", pair: try Alignment.align(sensor: sensor, feed: dense, bucketWidthNs: d),
                                              maxLag: 1, minOverlap: 15)
        #expect(strict.pearson != nil && strict.lags.filter { $0.pearson != nil }.map(\.lag) == [0])
    }

    @Test func topPortsByCombinedVolume() throws {
        let d = Self.day
        func series(_ values: [Double]) -> [Int64: Double] {
            Dictionary(uniqueKeysWithValues: values.enumerated().map { (Int64($0.offset) * d, $0.element) })
        }
        let sensor: [UInt16: [Int64: Double]] = [
            23: series([900, 1000, 1100, 950, 1200, 1300]),
            445: series([500, 400, 600, 550, 450, 700]),
            53: series([10, 20, 300, 40, 15, 12]),
            1947: [:],
        ]
        let feed: [UInt16: [Int64: Double]] = [
            23: series([9, 10, 11, 9.5, 12, 13]),
            53: series([1, 2, 30, 4, 1.5, 1.2]),
            1947: series([50, 60, 70, 65, 55, 40]),
            17500: [5 * d: 1],
        ]
        // Sum: 23 (6450 + 64.5), 445 (3200), 53 (397 + 39.7), 1947 (340), 17500 (1).
        #expect(CorrelationReport.topKeys(sensor: sensor, feed: feed, count: 3) == [23, 445, 53])
        // Shares: 23 = 6450/10047 + 64.5/445.2 ≈ 0.787, 1947 = 0 + 340/445.2 ≈ 0.764,
        // 445 = 3200/10047 ≈ 0.318: the feed's own top port moves ahead of 445.
        #expect(CorrelationReport.topKeys(sensor: sensor, feed: feed, count: 3, ranking: .sumOfShares) == [23, 1947, 445])

        let reports = try CorrelationReport.perPort(sensor: sensor, feed: feed, bucketWidthNs: d, top: 4, maxLag: 1, minOverlap: 4)
        #expect(reports.map(\.series) == ["port/23", "port/445", "port/53", "port/1947"])
        #expect(reports.allSatisfy { $0.buckets == 6 })
        #expect(abs(try #require(reports[0].pearson) - 1) < 1e-12) // feed = sensor / 100
        #expect(abs(try #require(reports[2].pearson) - 1) < 1e-12)
        #expect(reports[1].pearson == nil) // feed all zero for 445
        #expect(reports[0].bestLagBuckets == 0)

        let countries = try CorrelationReport.perCountry(
            sensor: ["CN": series([5, 6, 7, 8]), "US": series([1, 1, 2, 1])],
            feed: ["CN": series([10, 12, 14, 16]), "RU": series([4, 3, 2, 1])],
            bucketWidthNs: d, first: 0, count: 4, top: 2, maxLag: 0, minOverlap: 4)
        #expect(countries.map(\.series) == ["country/CN", "country/RU"])
        #expect(abs(try #require(countries[0].pearson) - 1) < 1e-12)
    }
}

@Suite struct HKTableTests {
    /// The study's table 8: five address groups, 29 days. Pairwise coefficients must match
    /// the textbook computation, and the groups move together (all strongly positive).
    @Test(.enabled(if: HKTable.shared != nil, "table8_hk_daily_counts.tsv not found next to the repository"))
    func pairwiseCoefficients() throws {
        let table = try #require(HKTable.shared)
        #expect(table.names == ["domainA", "domainB", "domainC", "domainD", "domainE"])
        #expect(table.dates.count == 29 && table.dates.first == "2014-10-07" && table.dates.last == "2014-11-04")
        let k = table.names.count
        var pearson = [[Double]](repeating: [Double](repeating: 1, count: k), count: k)
        var spearman = pearson
        var pairs = 0
        for i in 0..<k {
            for j in (i + 1)..<k {
                let x = table.columns[i], y = table.columns[j]
                let result = Statistics.correlate(x, y)
                let r = try #require(result.pearson), rho = try #require(result.spearman)
                #expect(result.buckets == 29)
                #expect(abs(r - Textbook.pearson(x, y)) < 1e-9, "\(table.names[i])–\(table.names[j])")
                #expect(abs(rho - Textbook.spearman(x, y)) < 1e-9, "\(table.names[i])–\(table.names[j])")
                #expect(r > 0.6 && rho > 0.6, "\(table.names[i])–\(table.names[j]) r=\(r) ρ=\(rho)")
                #expect(try #require(result.pValuePearson) < 1e-3)
                #expect(try #require(result.pValueSpearman) < 1e-3)
                // Symmetric.
                #expect(Statistics.pearson(y, x) == r)
                pearson[i][j] = r; pearson[j][i] = r
                spearman[i][j] = rho; spearman[j][i] = rho
                pairs += 1
            }
        }
        #expect(pairs == 10)
        // Spot values (scipy.stats.pearsonr / spearmanr on the same table).
        #expect(abs(pearson[0][4] - 0.996596070975) < 1e-9)
        #expect(abs(pearson[1][2] - 0.604716452686) < 1e-9)
        #expect(abs(spearman[2][4] - 0.667734961954) < 1e-9)

        func matrix(_ m: [[Double]], _ title: String) -> String {
            var s = "\(title)\n| | " + table.names.joined(separator: " | ") + " |\n|---|" +
                String(repeating: "---:|", count: k) + "\n"
            for i in 0..<k {
                s += "| \(table.names[i]) | " + m[i].map { String(format: "%.4f", $0) }.joined(separator: " | ") + " |\n"
            }
            return s
        }
        print(matrix(pearson, "HK table 8, Pearson r over 29 days:"))
        print(matrix(spearman, "HK table 8, Spearman ρ over 29 days:"))
    }

    @Test(.enabled(if: HKTable.shared != nil, "table8_hk_daily_counts.tsv not found next to the repository"))
    func groupsDoNotLead() throws {
        // Day-aligned lag analysis between two groups: same-day movement, so lag 0 wins.
        let table = try #require(HKTable.shared)
        let result = CrossCorrelation.compute(sensor: table.columns[0], feed: table.columns[4], maxLag: 3)
        #expect(result.bestLag == 0)
        #expect(abs(try #require(result.bestLagPearson) - Statistics.pearson(table.columns[0], table.columns[4])!) < 1e-15)
    }
}
