import Testing
import Synth
import Decoding
@testable import Aggregation

/// The accuracy requirement, through the whole aggregator with its
/// default capacities.
@Suite struct AccuracyTests {
    /// 100 heavy sources (200–2000 packets each) among 1,000,000 singleton
    /// spoofed sources (random IPv4), shuffled: all 100 are the top 100,
    /// each true count lies within [count - error, count], and the distinct
    /// source estimate is within 3 % of the true number.
    @Test func heavySourcesAmongSpoofedSingletons() throws {
        var rng = SplitMix64(seed: 2014)
        var heavy: [IPAddress: UInt64] = [:]
        var stream: [IPAddress] = []
        stream.reserveCapacity(1_200_000)
        // Heavy sources: 192.0.2.0/24 and 198.51.100.0/24 are not drawn below (see the filter).
        for i in 0..<100 {
            let address = IPAddress(ipv4: (i < 50 ? 0xC000_0200 : 0xC633_6400) | UInt32(i + 1))
            let packets = 200 + rng.next() % 1_801
            heavy[address] = packets
            for _ in 0..<packets { stream.append(address) }
        }
        var singletons = 0
        for v in distinctUInt32(1_000_010, rng: &rng) where singletons < 1_000_000 {
            let address = IPAddress(ipv4: v)
            if heavy[address] != nil { continue }
            stream.append(address)
            singletons += 1
        }
        try #require(singletons == 1_000_000)
        stream.shuffle(using: &rng)

        var a = Aggregator()
        var time = t0
        for (i, source) in stream.enumerated() {
            a.add(synRecord(source: source, destination: Net.darknet(i & 0xFFFF), port: 23, time: time))
            time += 100_000  // 10,000 packets/s
        }
        a.finish()

        let rows = a.topSourceRows(100)
        #expect(rows.count == 100)
        #expect(Set(rows.map(\.entry.key)) == Set(heavy.keys))
        for row in rows {
            let truth = try #require(heavy[row.entry.key])
            #expect(row.entry.count - row.entry.error <= truth, "\(row.entry.key)")
            #expect(truth <= row.entry.count, "\(row.entry.key)")
            #expect(row.entry.error <= a.topSources.maxError)
        }
        let distinct = Double(heavy.count + singletons)
        let estimate = a.distinctSources.estimate
        #expect(abs(estimate - distinct) / distinct <= 0.03, "estimate \(estimate) vs \(distinct)")
        #expect(a.counters.total == UInt64(stream.count))
    }
}
