import Testing
import Synth
import Decoding
@testable import Aggregation
@testable import Sketches

@Suite struct SpaceSavingTests {
    /// 100 heavy sources (200...2000 packets each) hidden among 1,000,000
    /// spoofed singleton sources, interleaved at random.
    ///
    /// Capacity: N ~ 1.11M packets, so the guarantee "every key with true
    /// count > N/k is monitored and ranked above all singletons" needs
    /// N/k < 200, i.e. k > ~5,550. k = 8192 gives N/k ~ 135: a monitored
    /// singleton's count is <= N/k + 1, every heavy source's count is >= its
    /// true count >= 200, so the 100 heavy ones are exactly top(100).
    /// (k = 4096 would give N/k ~ 271 > 200, and the lightest heavy sources
    /// could legitimately be lost.)
    @Test func heavySourcesAmongSpoofedSingletons() {
        var rng = SplitMix64(seed: 2024)
        var heavy: [IPAddress: UInt64] = [:]
        var stream: [IPAddress] = []
        stream.reserveCapacity(1_250_000)
        for i in 0..<100 {
            let address = IPAddress(high: 0x2001_0DB8_0000_0000, low: UInt64(i) &+ 1)
            let packets = 200 + rng.next() % 1_801
            heavy[address] = packets
            for _ in 0..<packets { stream.append(address) }
        }
        for v in distinctUInt32(1_000_000, rng: &rng) { stream.append(IPAddress(ipv4: v)) }
        stream.shuffle(using: &rng)

        let k = 8192
        var summary = SpaceSaving<IPAddress>(capacity: k)
        for address in stream { summary.add(address) }

        let n = UInt64(stream.count)
        #expect(summary.totalCount == n)
        #expect(summary.maxError == n / UInt64(k))
        #expect(summary.unmonitoredBound <= summary.maxError)
        #expect(summary.count == k)

        let top = summary.top(100)
        #expect(Set(top.map(\.key)) == Set(heavy.keys))
        var maxError: UInt64 = 0
        var maxOverestimate: UInt64 = 0
        for entry in top {
            let truth = heavy[entry.key] ?? 0
            #expect(entry.guaranteedCount <= truth && truth <= entry.count, "\(entry.key): true \(truth), reported \(entry.count) - \(entry.error)")
            #expect(entry.error <= summary.maxError)
            maxError = max(maxError, entry.error)
            maxOverestimate = max(maxOverestimate, entry.count - truth)
        }
        // The 101st counter is a singleton: at most the minimum + 1.
        let next = summary.top(101).last!
        #expect(next.count <= summary.unmonitoredBound + 1)
        print("Space-Saving k=\(k), N=\(n): N/k=\(summary.maxError), min counter=\(summary.unmonitoredBound), max error among heavy=\(maxError), max overestimate=\(maxOverestimate)")
    }

    @Test func exactWhenDistinctKeysFit() {
        var rng = SplitMix64(seed: 5)
        var truth: [UInt32: UInt64] = [:]
        var summary = SpaceSaving<UInt32>(capacity: 1024)
        for _ in 0..<50_000 {
            let key = UInt32(rng.next() % 1000)
            let weight = 1 + rng.next() % 3
            truth[key, default: 0] += weight
            summary.add(key, count: weight)
        }
        #expect(summary.count == truth.count)
        #expect(summary.isExact)
        #expect(summary.unmonitoredBound == 0)
        for entry in summary.entries {
            #expect(entry.error == 0)
            #expect(entry.count == truth[entry.key])
        }
        let top = summary.top(10)
        let expected = truth.sorted { $0.value != $1.value ? $0.value > $1.value : false }.prefix(10).map(\.value)
        #expect(top.map(\.count) == Array(expected))
        #expect(summary.bounds(for: 5000) == 0...0)
    }

    @Test func exactAtExactlyCapacity() {
        var summary = SpaceSaving<UInt64>(capacity: 4)
        for key in 1...4 as ClosedRange<UInt64> { summary.add(key, count: key * 10) }
        #expect(summary.count == 4)
        #expect(summary.entries.allSatisfy { $0.error == 0 })
        #expect(summary.top(2).map(\.key) == [4, 3])
        // A fifth key replaces the minimum (key 1, count 10) and inherits it as error.
        summary.add(99, count: 1)
        #expect(summary.entry(for: 1) == nil)
        let e = summary.entry(for: 99)
        #expect(e?.count == 11 && e?.error == 10)
        #expect(summary.bounds(for: 1) == 0...summary.unmonitoredBound)
        #expect(summary.unmonitoredBound == 11)
    }

    /// The key→slot index is an open-addressing table with backward-shift
    /// deletion: after heavy churn (most adds replace the minimum), every
    /// monitored key must still be found, and no replaced key.
    @Test func indexSurvivesChurn() {
        var rng = SplitMix64(seed: 91)
        for k in [1, 3, 16, 100] {
            var summary = SpaceSaving<UInt32>(capacity: k)
            var ever = Set<UInt32>()
            for _ in 0..<20_000 {
                let key = UInt32(truncatingIfNeeded: rng.next() % 5_000)
                summary.add(key)
                ever.insert(key)
            }
            let monitored = Set(summary.entries.map(\.key))
            #expect(monitored.count == min(k, ever.count))
            for key in ever {
                let entry = summary.entry(for: key)
                #expect((entry != nil) == monitored.contains(key), "k \(k), key \(key)")
                if let entry { #expect(entry.key == key) }
            }
            #expect(summary.index.filter { $0 >= 0 }.count == monitored.count)
        }
    }

    /// Checks every Space-Saving guarantee of `summary` against exact counts.
    static func checkBounds(_ summary: SpaceSaving<UInt32>, truth: [UInt32: UInt64]) {
        let n = truth.values.reduce(0, +)
        #expect(summary.totalCount == n)
        #expect(summary.unmonitoredBound <= n / UInt64(summary.capacity))
        var monitored = Set<UInt32>()
        for entry in summary.entries {
            monitored.insert(entry.key)
            let t = truth[entry.key] ?? 0
            #expect(entry.guaranteedCount <= t && t <= entry.count, "key \(entry.key): true \(t), count \(entry.count), error \(entry.error)")
            #expect(entry.error <= summary.maxError)
        }
        for (key, t) in truth where !monitored.contains(key) {
            #expect(t <= summary.unmonitoredBound, "unmonitored key \(key) has \(t) > bound \(summary.unmonitoredBound)")
        }
    }

    static func skewedStream(_ length: Int, distinct: UInt64, rng: inout SplitMix64) -> [(UInt32, UInt64)] {
        (0..<length).map { _ in
            // Skewed: cube of a uniform picks small keys far more often.
            let u = Double(rng.next() >> 11) / Double(1 << 53)
            let key = UInt32(Double(distinct) * u * u * u)
            return (key, 1 + rng.next() % 4)
        }
    }

    @Test func mergeKeepsBounds() {
        var rng = SplitMix64(seed: 77)
        for trial in 0..<6 {
            let k = [16, 64, 256][trial % 3]
            let a = Self.skewedStream(8_000 + trial * 1_000, distinct: 5_000, rng: &rng)
            let b = Self.skewedStream(5_000, distinct: trial.isMultiple(of: 2) ? 5_000 : 300, rng: &rng)
            var sa = SpaceSaving<UInt32>(capacity: k)
            var sb = SpaceSaving<UInt32>(capacity: k)
            var truth: [UInt32: UInt64] = [:]
            for (key, w) in a { sa.add(key, count: w); truth[key, default: 0] += w }
            for (key, w) in b { sb.add(key, count: w); truth[key, default: 0] += w }
            var merged = sa
            merged.merge(sb)
            #expect(merged.count <= k)
            Self.checkBounds(merged, truth: truth)
            // The guarantees survive further updates after a merge.
            for (key, w) in Self.skewedStream(3_000, distinct: 5_000, rng: &rng) {
                merged.add(key, count: w)
                truth[key, default: 0] += w
            }
            Self.checkBounds(merged, truth: truth)
        }
    }

    @Test func mergeOfSmallSummariesIsExact() {
        var a = SpaceSaving<UInt32>(capacity: 100)
        var b = SpaceSaving<UInt32>(capacity: 100)
        for key in 0..<40 as Range<UInt32> { a.add(key, count: UInt64(key) + 1) }
        for key in 20..<60 as Range<UInt32> { b.add(key, count: 2) }
        a.merge(b)
        #expect(a.count == 60)
        #expect(a.isExact)
        #expect(a.entry(for: 25)?.count == 28)
        #expect(a.entry(for: 5)?.count == 6)
        #expect(a.entry(for: 55)?.count == 2)
        #expect(a.totalCount == (1...40).reduce(0, +) + 80)
    }

    @Test func mergeIsDeterministic() {
        var rng = SplitMix64(seed: 3)
        let s1 = Self.skewedStream(4_000, distinct: 2_000, rng: &rng)
        let s2 = Self.skewedStream(4_000, distinct: 2_000, rng: &rng)
        func run() -> [SpaceSaving<UInt32>.Entry] {
            var a = SpaceSaving<UInt32>(capacity: 32)
            var b = SpaceSaving<UInt32>(capacity: 32)
            for (k, w) in s1 { a.add(k, count: w) }
            for (k, w) in s2 { b.add(k, count: w) }
            a.merge(b)
            return a.top(32)
        }
        let first = run(), second = run()
        #expect(first.map(\.key) == second.map(\.key))
        #expect(first.map(\.count) == second.map(\.count))
    }

    @Test func forEachVisitsAllEntries() {
        var summary = SpaceSaving<UInt64>(capacity: 8)
        for key in 0..<20 as Range<UInt64> { summary.add(key) }
        var visited = 0
        var sum: UInt64 = 0
        summary.forEach { visited += 1; sum += $0.count }
        #expect(visited == 8)
        #expect(sum == 20)  // counters always sum to N without merges
        summary.removeAll()
        #expect(summary.count == 0 && summary.totalCount == 0)
    }
}
