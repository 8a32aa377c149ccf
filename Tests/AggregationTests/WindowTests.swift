import Testing
import Decoding
@testable import Aggregation
@testable import Sketches

@Suite struct WindowTests {
    /// Three consecutive buckets with 1, 2 and 3 packets from 1, 2 and 3 sources.
    static func threeBuckets(_ c: AggregationConfig) -> Aggregator {
        var a = Aggregator(config: c)
        for bucket in 0..<3 {
            for k in 0...bucket {
                a.add(tcpPacket(from: 0x0A00_0000 + UInt32(bucket * 10 + k), to: Net.darknet(k), port: 23,
                                at: t0 + Int64(bucket) * 60 * nsPerSecond + Int64(k) * nsPerSecond))
            }
        }
        a.finish()
        return a
    }

    @Test func windowOfTwoHoldsLastTwo() throws {
        let a = WindowTests.threeBuckets(config { $0.windowBuckets = [2, 10] })
        try #require(a.windows.count == 2)
        let two = a.windows[0]
        #expect(two.capacity == 2)
        #expect(two.summaries.map(\.startNs) == [t0 + 60 * nsPerSecond, t0 + 120 * nsPerSecond])
        let totals = two.totals()
        #expect(totals.counters.total == 5)
        #expect(totals.classes.scan == 5)
        #expect(totals.sources.estimate.rounded() == 5)
        #expect(totals.counters.firstTimestampNs == t0 + 60 * nsPerSecond)

        let ten = a.windows[1]
        #expect(ten.summaries.count == 3)
        #expect(ten.totals().counters.total == 6)
        #expect(ten.totals().sources.estimate.rounded() == 6)
    }

    @Test func windowSummariesMatchSeries() throws {
        let a = WindowTests.threeBuckets(AggregationConfig())
        #expect(AggregationConfig().windowBuckets == [60, 1440])
        let w = a.windows[0]
        try #require(w.summaries.count == a.series.count)
        for (s, p) in zip(w.summaries, a.series) {
            #expect(s.startNs == p.startNs)
            #expect(s.counters == p.counters)
            #expect(s.classes == p.classes)
            #expect(s.portCount == p.portCount)
        }
    }

    @Test func rollingWindowDirect() {
        var w = RollingWindow(buckets: 2)
        for i in 0..<3 {
            var counters = PacketCounters()
            var r = PacketRecord()
            r.status = .ok
            r.ipVersion = 4
            r.ipProtocol = IPProtocolNumber.udp
            r.timestampNs = Int64(i) * 60 * nsPerSecond
            for _ in 0...i { counters.add(r) }
            var classes = ClassCounts()
            classes.add(.other, UInt64(i + 1))
            w.append(BucketSummary(startNs: Int64(i) * 60 * nsPerSecond, lengthNs: 60 * nsPerSecond, counters: counters,
                                   classes: classes, sources: HyperLogLog(precision: 12), ports: [], portCount: 0,
                                   countries: [], watchedTopSources: [:], newScans: [], newAttacks: []))
        }
        #expect(w.summaries.count == 2)
        #expect(w.totals().counters.total == 5)
        #expect(w.totals().counters.udp == 5)
        #expect(w.totals().classes.other == 5)
        #expect(RollingWindow(buckets: 0).capacity == 1)
    }

    /// A window of N buckets covers N bucket lengths of time: after a gap
    /// with no packets, buckets older than that are out of the window even
    /// though fewer than N buckets had packets since.
    @Test func windowCoversTimeNotJustNonEmptyBuckets() throws {
        var a = Aggregator(config: config { $0.windowBuckets = [2] })
        a.add(tcpPacket(to: Net.darknet(1), at: t0))
        a.add(tcpPacket(to: Net.darknet(2), at: t0 + 60 * nsPerSecond))
        a.add(tcpPacket(to: Net.darknet(3), at: t0 + 600 * nsPerSecond))  // 8 empty buckets later
        a.finish()
        let w = a.windows[0]
        #expect(w.summaries.map(\.startNs) == [t0 + 600 * nsPerSecond])
        #expect(w.totals().counters.total == 1)
    }

    /// The last bucket adjoining the window is kept.
    @Test func windowKeepsAdjacentBucket() throws {
        var a = Aggregator(config: config { $0.windowBuckets = [2] })
        a.add(tcpPacket(to: Net.darknet(1), at: t0))
        a.add(tcpPacket(to: Net.darknet(2), at: t0 + 120 * nsPerSecond))  // one empty bucket between
        a.add(tcpPacket(to: Net.darknet(3), at: t0 + 180 * nsPerSecond))
        a.finish()
        #expect(a.windows[0].summaries.map(\.startNs) == [t0 + 120 * nsPerSecond, t0 + 180 * nsPerSecond])
        var b = Aggregator(config: config { $0.windowBuckets = [3] })
        b.add(tcpPacket(to: Net.darknet(1), at: t0))
        b.add(tcpPacket(to: Net.darknet(2), at: t0 + 120 * nsPerSecond))
        b.finish()
        #expect(b.windows[0].summaries.map(\.startNs) == [t0, t0 + 120 * nsPerSecond])
    }
}
