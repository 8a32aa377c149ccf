import Foundation
import Testing
import Synth
@testable import Correlation

@Suite struct OverlapTests {
    @Test func exactCases() {
        let a = Overlap.exact(sensor: Set([1, 2, 3, 4]), feed: Set([3, 4, 5]))
        #expect(a.shared == 2 && a.sensorOnly == 2 && a.feedOnly == 1)
        #expect(a.jaccard == 2.0 / 5.0)
        #expect(a.union == 5 && a.sensorTotal == 4 && a.feedTotal == 3)

        let same = Overlap.exact(sensor: Set(["CN", "US"]), feed: Set(["US", "CN"]))
        #expect(same.jaccard == 1 && same.sensorOnly == 0 && same.feedOnly == 0)

        let disjoint = Overlap.exact(sensor: Set<UInt16>([53, 123]), feed: Set<UInt16>([1947, 138, 17500]))
        #expect(disjoint.shared == 0 && disjoint.jaccard == 0 && disjoint.feedOnly == 3)

        let empty = Overlap.exact(sensor: Set<Int>(), feed: Set<Int>())
        #expect(empty.jaccard == nil && empty.union == 0)

        // Sequences with repeats count distinct elements.
        let seq = Overlap.exact(sensor: [1, 1, 2, 2, 3], feed: [3, 3, 3])
        #expect(seq == SetOverlap(shared: 1, sensorOnly: 2, feedOnly: 0))
    }

    @Test func exactJSONUsesSnakeCaseAndNull() throws {
        let data = try JSONEncoder().encode(SetOverlap(shared: 0, sensorOnly: 0, feedOnly: 0))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == ["shared", "sensor_only", "feed_only", "jaccard"])
        #expect(object["jaccard"] is NSNull)
        let back = try JSONDecoder().decode(SetOverlap.self, from: data)
        #expect(back == SetOverlap(shared: 0, sensorOnly: 0, feedOnly: 0))
    }

    @Test func estimateWithExactInputsIsExact() throws {
        let e = Overlap.estimated(sensor: .init(value: 1000, relativeStandardError: 0),
                                  feed: .init(value: 800, relativeStandardError: 0),
                                  union: .init(value: 1500, relativeStandardError: 0))
        #expect(e.shared == BoundedEstimate(estimate: 300, lower: 300, upper: 300))
        #expect(e.sensorOnly.estimate == 700 && e.feedOnly.estimate == 500)
        #expect(try #require(e.jaccard).estimate == 0.2)
    }

    @Test func boundContainsTheTruthWheneverInputsAreWithinZSigma() throws {
        // Truth: |A| = 10 000, |B| = 6 000, |A ∩ B| = 2 500, |A ∪ B| = 13 500.
        let trueA = 10_000.0, trueB = 6_000.0, trueI = 2_500.0, trueU = 13_500.0
        let rse = 1.04 / (4096.0).squareRoot() // HyperLogLog, m = 4096: 1.625%
        let z = 2.0
        var rng = SplitMix64(seed: 99)
        var worst = 0.0
        for trial in 0..<5_000 {
            // Each estimate within ±zσ of its truth; extremes included every few trials.
            func perturb(_ v: Double) -> Double {
                let u = trial % 4 == 0 ? (rng.next() % 2 == 0 ? -1.0 : 1.0) : rng.unit() * 2 - 1
                return v * (1 + u * z * rse * 0.999)
            }
            let a = perturb(trueA), b = perturb(trueB), u = perturb(trueU)
            let e = Overlap.estimated(sensor: .init(value: a, relativeStandardError: rse),
                                      feed: .init(value: b, relativeStandardError: rse),
                                      union: .init(value: u, relativeStandardError: rse), z: z)
            #expect(e.shared.contains(trueI), "trial \(trial): \(e.shared)")
            #expect(e.sensorOnly.contains(trueA - trueI), "trial \(trial)")
            #expect(e.feedOnly.contains(trueB - trueI), "trial \(trial)")
            #expect(try #require(e.jaccard).contains(trueI / trueU), "trial \(trial)")
            worst = max(worst, abs(e.shared.estimate - trueI))
        }
        // The estimate really is noisy (so the containment above is not vacuous) and the
        // bound is not absurdly wide: half-width z·rse·ΣX̂/(1 − z·rse) = 958.75/0.9675 ≈ 991 here.
        #expect(worst > 300)
        let typical = Overlap.estimated(sensor: .init(value: trueA, relativeStandardError: rse),
                                        feed: .init(value: trueB, relativeStandardError: rse),
                                        union: .init(value: trueU, relativeStandardError: rse), z: z)
        let halfWidth = z * rse * (trueA + trueB + trueU) / (1 - z * rse)
        #expect(abs(halfWidth - 958.75 / 0.9675) < 1e-9)
        #expect(abs(typical.shared.upper - (trueI + halfWidth)) < 1e-9)
        #expect(abs(typical.shared.lower - (trueI - halfWidth)) < 1e-9)
    }

    @Test func underestimatesAreCoveredToo() {
        // All three estimates exactly z·rse below their truths (the worst case the
        // assumption allows): a half-width of z·rse·X̂ would miss; hX = z·rse·X̂/(1 − z·rse)
        // lands exactly on the truth.
        let rse = 0.05, z = 3.0, k = z * rse
        let a = 1000 * (1 - k), b = 1000 * (1 - k)
        let e = Overlap.estimated(sensor: .init(value: a, relativeStandardError: rse),
                                  feed: .init(value: b, relativeStandardError: rse),
                                  union: .init(value: 1500 * (1 + k), relativeStandardError: rse), z: z)
        // Truth: |A ∩ B| = 500; estimate 850 + 850 − 1725 = −25 → clipped to 0.
        #expect(e.shared.contains(500))
        #expect(e.sensorOnly.contains(500) && e.feedOnly.contains(500))
        #expect(abs(Overlap.halfWidth(.init(value: a, relativeStandardError: rse), z: z) - 150) < 1e-9)
    }

    @Test func boundsAreClipped() throws {
        // Nearly disjoint sets: the raw interval would dip below zero.
        let e = Overlap.estimated(sensor: .init(value: 1000, relativeStandardError: 0.02),
                                  feed: .init(value: 1000, relativeStandardError: 0.02),
                                  union: .init(value: 2010, relativeStandardError: 0.02))
        #expect(e.shared.lower == 0 && e.shared.estimate == 0)
        #expect(e.shared.upper > 0)
        #expect(try #require(e.jaccard).lower == 0)
        // An empty-looking union gives no Jaccard.
        let none = Overlap.estimated(sensor: .init(value: 0, relativeStandardError: 0.02),
                                     feed: .init(value: 0, relativeStandardError: 0.02),
                                     union: .init(value: 0, relativeStandardError: 0.02))
        #expect(none.jaccard == nil)
    }
}

@Suite struct LocalityTests {
    @Test func oneSidedItems() {
        let sources = Locality.oneSided(sensor: Set(["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
                                        feed: Set(["10.0.0.3", "10.0.0.9", "10.0.0.4"]))
        #expect(sources.sensorOnly == ["10.0.0.1", "10.0.0.2"])
        #expect(sources.feedOnly == ["10.0.0.4", "10.0.0.9"])
        #expect(sources.sharedCount == 1)
        #expect(sources.overlap == SetOverlap(shared: 1, sensorOnly: 2, feedOnly: 2))
    }

    @Test func singleTargetSourcesSortedByEventsThenKey() {
        // The study's Hong Kong case: five groups whose every event targeted HK (event
        // counts are table 8's 29-day column sums), plus invented scanners.
        let targets: [String: Set<String>] = [
            "domainA": ["HK"], "domainB": ["HK"], "domainC": ["HK"],
            "domainD": ["HK"], "domainE": ["HK"],
            "scanner1": ["US", "JP", "HK"], "scanner2": ["JP"], "scanner3": ["DE"],
            "nobody": [],
        ]
        let events: [String: Int] = [
            "domainA": 152_598, "domainB": 98_259, "domainC": 97_612, "domainD": 27_957,
            "domainE": 17_976, "scanner1": 500_000, "scanner2": 17_976, "scanner3": 12,
        ]
        let list = Locality.singleTargetSources(targets: targets, events: events)
        #expect(list.map(\.source) == ["domainA", "domainB", "domainC", "domainD", "domainE", "scanner2", "scanner3"])
        #expect(list[0] == SingleTargetSource(source: "domainA", country: "HK", events: 152_598))
        #expect(list[5].country == "JP" && list[4].events == list[5].events) // tie → key order
        #expect(Locality.singleTargetSources(targets: targets, events: events, minimumEvents: 20_000).count == 4)

        let analysis = Locality.analyze(
            sensorSources: Set(["scanner1", "scanner2", "local"]), feedSources: Set(targets.keys),
            sensorPorts: [23, 445, 53], feedPorts: [1947, 138, 17500, 23],
            sensorSourceCountries: ["CN", "US"], feedSourceCountries: ["CN", "US", "HK"],
            sensorTargetCountries: ["JP"], feedTargetCountries: ["HK", "US", "JP", "DE"],
            feedTargets: targets, feedEvents: events)
        #expect(analysis.sources.sensorOnly == ["local"])
        #expect(analysis.sources.feedOnly.contains("domainA") && !analysis.sources.feedOnly.contains("scanner1"))
        #expect(analysis.ports.feedOnly == [138, 1947, 17500])
        #expect(analysis.ports.sensorOnly == [53, 445])
        #expect(analysis.sourceCountries.feedOnly == ["HK"])
        #expect(analysis.targetCountries.feedOnly == ["DE", "HK", "US"])
        #expect(analysis.singleTargetSources == list)
    }
}
