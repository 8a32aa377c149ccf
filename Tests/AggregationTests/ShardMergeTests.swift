import Decoding
import Sketches
import Synth
import Testing
@testable import Aggregation

/// The merge of shards' buckets: a bucket comes out once every shard has
/// passed it, an idle shard is moved on by the clock, and a record of a
/// bucket already closed is late rather than a second summary of it.
@Suite struct ShardMergeTests {
    static func config() -> AggregationConfig { AggregationConfig().shardConfiguration(shards: 2) }

    @Test func anIdleShardHoldsBucketsBackOnlyUntilTheClockMovesIt() throws {
        var busy = Aggregator(config: Self.config())
        var idle = Aggregator(config: Self.config())
        // The busy shard sees buckets 0, 1 and 2 (60 s each); the idle one nothing.
        busy.add(tcpPacket(to: Net.darknet(1), port: 23, at: t0))
        busy.add(tcpPacket(to: Net.darknet(2), port: 23, at: t0 + 61 * nsPerSecond))
        busy.add(tcpPacket(to: Net.darknet(3), port: 80, at: t0 + 121 * nsPerSecond))
        var merger = BucketMerger(shards: 2, config: AggregationConfig())
        merger.add(busy.takeClosedBuckets(), shard: 0)
        merger.advance(shard: 0, to: busy.buckets.start(of: busy.currentBucket!))
        #expect(merger.takeReady().isEmpty, "the idle shard has not said it passed bucket 0")
        // The dispatcher's clock is in bucket 2: the idle shard has passed 0 and 1.
        let clock = t0 + 122 * nsPerSecond
        idle.advance(to: clock)
        #expect(idle.takeClosedBuckets().isEmpty)
        merger.advance(shard: 1, to: idle.buckets.start(of: idle.buckets.index(of: clock)))
        let ready = merger.takeReady()
        #expect(ready.map(\.startNs) == [t0, t0 + 60 * nsPerSecond])
        #expect(ready.map(\.counters.total) == [1, 1])
        #expect(merger.takeReady().isEmpty, "each bucket comes out once")
        busy.finish()
        merger.add(busy.takeClosedBuckets(), shard: 0)
        #expect(merger.takeAll().map(\.startNs) == [t0 + 120 * nsPerSecond])
    }

    @Test func bucketsOfSeveralShardsAddUp() throws {
        var a = Aggregator(config: Self.config()), b = Aggregator(config: Self.config())
        a.add(tcpPacket(from: Net.scanner, to: Net.darknet(1), port: 23, at: t0))
        a.add(tcpPacket(from: Net.scanner, to: Net.darknet(2), port: 23, at: t0 + nsPerSecond))
        b.add(tcpPacket(from: Net.scanner2, to: Net.darknet(1), port: 23, at: t0 + 2 * nsPerSecond))
        b.add(udpPacket(from: Net.scanner2, to: Net.darknet(3), sourcePort: 5353, port: 53, payload: [1], at: t0 + 3 * nsPerSecond))
        a.finish()
        b.finish()
        var merger = BucketMerger(shards: 2, config: AggregationConfig())
        merger.add(a.takeClosedBuckets(), shard: 0)
        merger.add(b.takeClosedBuckets(), shard: 1)
        let merged = try #require(merger.takeAll().first)
        #expect(merged.counters.total == 4)
        #expect(merged.portCount == 2)
        #expect(merged.ports.first?.key == ProtocolPort(ipProtocol: IPProtocolNumber.tcp, port: 23))
        #expect(merged.ports.first?.packets == 3)
        #expect(merged.ports.first?.scanSources == 2, "one scan source from each shard")
        #expect(abs(merged.sources.estimate - 2) < 0.5)
    }

    @Test func aRecordOfAClosedBucketIsLate() {
        var a = Aggregator(config: Self.config())
        a.add(tcpPacket(to: Net.darknet(1), port: 23, at: t0 + 61 * nsPerSecond))
        a.advance(to: t0 + 125 * nsPerSecond)  // closes bucket 1
        a.add(tcpPacket(to: Net.darknet(2), port: 23, at: t0 + 5 * nsPerSecond))  // bucket 0: closed as passed
        a.finish()
        let starts = a.takeClosedBuckets().map(\.startNs)
        #expect(starts == [t0 + 60 * nsPerSecond, t0 + 120 * nsPerSecond], "no second summary of a passed bucket")
        #expect(a.latePackets == 1)
        #expect(a.counters.total == 2)
    }
}
