import Decoding
import Foundation
import Synth
import Sketches
import Testing
@testable import Aggregation

/// Each closed bucket's busiest sources (`BucketSummary.topSources`): equal to
/// a count of the records bucket by bucket while the source table keeps every
/// source, in sketch and exact mode, and the same from 1, 2 and 3 shards.
@Suite struct BucketTopSourcesTests {
    /// 30,000 packets over three 60 s buckets from 400 sources, the busiest few
    /// much busier than the rest, with ties among the quiet ones.
    static let records: [PacketRecord] = {
        var random = SplitMix64(seed: 77)
        return (0..<30_000).map { i in
            let draw = Double(random.next() % 1_000_000) / 1_000_000
            let index = Int(pow(draw, 3) * 400)  // skewed toward low indexes
            let source: UInt32 = 0x0A00_0000 &+ UInt32(index) &* 7919
            let time = t0 + Int64(i) * 6 * nsPerSecond / 1000  // 30,000 × 6 ms = 180 s
            return tcpPacket(from: source, to: Net.darknet(i % 200), port: UInt16(20 + i % 7), at: time)
        }
    }()

    /// What the buckets should keep: per bucket, the 20 busiest by packets, then address.
    static func expected(bucketSeconds: Int64 = 60) -> [Int64: [(address: IPAddress, packets: UInt64)]] {
        var counts: [Int64: [IPAddress: UInt64]] = [:]
        for r in records {
            let bucket = r.timestampNs / (bucketSeconds * nsPerSecond)
            counts[bucket, default: [:]][r.source, default: 0] += 1
        }
        return counts.mapValues { perSource in
            Array(perSource.map { (address: $0.key, packets: $0.value) }
                .sorted { $0.packets != $1.packets ? $0.packets > $1.packets : $0.address < $1.address }.prefix(20))
        }
    }

    static func same(_ a: [(address: IPAddress, packets: UInt64)], _ b: [(address: IPAddress, packets: UInt64)]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.address == $1.address && $0.packets == $1.packets }
    }

    static func summaries(shards: Int, exact: Bool) -> [BucketSummary] {
        var config = AggregationConfig()
        config.exact = exact
        var parts = (0..<shards).map { _ in Aggregator(config: config.shardConfiguration(shards: shards)) }
        for r in records { parts[Int(r.source.hashValue.magnitude % UInt(shards))].add(r) }
        var merger = BucketMerger(shards: shards, config: config)
        for i in parts.indices {
            parts[i].finish()
            merger.add(parts[i].takeClosedBuckets(), shard: i)
        }
        return merger.takeAll()
    }

    @Test(arguments: [(1, false), (2, false), (3, false), (1, true), (2, true)])
    func eachBucketKeepsItsBusiestSourcesAsCounted(shards: Int, exact: Bool) throws {
        let expected = Self.expected()
        let buckets = Self.summaries(shards: shards, exact: exact)
        #expect(buckets.count == 3)
        for bucket in buckets {
            let want = try #require(expected[bucket.startNs / (60 * nsPerSecond)])
            #expect(want.count == 20 && want[0].packets > want[19].packets)
            #expect(Self.same(bucket.topSources, want), "bucket \(bucket.startNs): \(bucket.topSources.prefix(3)) vs \(want.prefix(3))")
        }
    }

    @Test func theListSurvivesTheStateCodingAndAnOlderStateWithoutIt() throws {
        let bucket = try #require(Self.summaries(shards: 1, exact: false).first)
        #expect(bucket.topSources.count == 20)
        let data = try JSONEncoder().encode(bucket)
        let decoded = try JSONDecoder().decode(BucketSummary.self, from: data)
        #expect(decoded == bucket)
        // A state written before buckets kept their top sources decodes with none.
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        object.removeValue(forKey: "topSources")
        let older = try JSONDecoder().decode(BucketSummary.self, from: try JSONSerialization.data(withJSONObject: object))
        #expect(older.topSources.isEmpty)
        var withoutTop = bucket
        withoutTop.topSources = []
        #expect(older == withoutTop)
    }

    @Test func aSelectionKeepsTheLimitInOrder() {
        var top = TopSelection(limit: 3)
        for (i, packets) in [5, 9, 1, 9, 7, 2].enumerated() { top.offer(IPAddress(ipv4: UInt32(100 - i)), UInt64(packets)) }
        #expect(top.sorted.map(\.packets) == [9, 9, 7])
        #expect(top.sorted.map(\.address) == [IPAddress(ipv4: 97), IPAddress(ipv4: 99), IPAddress(ipv4: 96)], "ties by address")
        var none = TopSelection(limit: 0)
        none.offer(IPAddress(ipv4: 1), 1)
        #expect(none.sorted.isEmpty)
    }
}
