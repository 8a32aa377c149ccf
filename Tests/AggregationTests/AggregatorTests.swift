import Sketches
import Testing
import Decoding
import Synth
@testable import Aggregation

@Suite struct AggregatorTests {
    // MARK: series

    /// Bucket 0: 3 SYNs to tcp/23, 1 SYN to tcp/80, 1 RST-ACK (to tcp/40000).
    /// Bucket 1: 2 DNS responses from port 53 (to udp/33333), 1 UDP/17500 broadcast, 1 TCP ACK (tcp/443).
    static func twoBuckets() -> [PacketRecord] {
        [
            tcpPacket(to: Net.darknet(1), port: 23, at: t0),
            tcpPacket(to: Net.darknet(2), port: 23, at: t0 + 1 * nsPerSecond),
            tcpPacket(from: Net.scanner2, to: Net.darknet(3), port: 23, at: t0 + 2 * nsPerSecond),
            tcpPacket(to: Net.darknet(1), port: 80, at: t0 + 3 * nsPerSecond),
            tcpPacket(from: Net.victim, to: Net.darknet(4), sourcePort: 80, port: 40000, flags: TCPFlag.rst | TCPFlag.ack,
                      at: t0 + 59 * nsPerSecond),
            udpPacket(from: Net.victim, to: Net.darknet(5), sourcePort: 53, port: 33333, payload: [1, 2, 3], at: t0 + 60 * nsPerSecond),
            udpPacket(from: Net.victim, to: Net.darknet(6), sourcePort: 53, port: 33333, payload: [1, 2, 3], at: t0 + 61 * nsPerSecond),
            udpPacket(from: Net.scanner2, to: Net.darknet(7), sourcePort: 17500, port: 17500, payload: [1], at: t0 + 62 * nsPerSecond),
            tcpPacket(to: Net.darknet(8), port: 443, flags: TCPFlag.ack, at: t0 + 119 * nsPerSecond),
        ]
    }

    @Test func seriesPointsPerBucket() throws {
        var a = Aggregator()
        a.add(AggregatorTests.twoBuckets())
        #expect(a.series.map(\.startNs) == [t0])  // the second bucket is still open
        a.finish()
        try #require(a.series.count == 2)
        let first = a.series[0], second = a.series[1]
        #expect(first.startNs == t0)
        #expect(second.startNs == t0 + 60 * nsPerSecond)

        #expect(first.counters.total == 5)
        #expect(first.counters.tcp == 5)
        #expect(first.classes.scan == 4)
        #expect(first.classes.backscatter == 1)
        #expect(first.classes.total == 5)
        #expect(first.topPorts.map(\.key) == [ProtocolPort(ipProtocol: 6, port: 23), ProtocolPort(ipProtocol: 6, port: 80),
                                              ProtocolPort(ipProtocol: 6, port: 40000)])
        #expect(first.topPorts.map(\.packets) == [3, 1, 1])
        #expect(first.portCount == 3)
        #expect(first.sources.rounded() == 3)  // scanner, scanner2, victim

        #expect(second.counters.total == 4)
        #expect(second.counters.udp == 3)
        #expect(second.classes.backscatter == 2)
        #expect(second.classes.misconfiguration == 1)
        #expect(second.classes.other == 1)
        #expect(second.topPorts.map(\.key) == [ProtocolPort(ipProtocol: 17, port: 33333), ProtocolPort(ipProtocol: 6, port: 443),
                                               ProtocolPort(ipProtocol: 17, port: 17500)])
        #expect(second.topPorts.map(\.packets) == [2, 1, 1])
        #expect(second.sources.rounded() == 3)

        // Whole-period counters are the sum of the buckets.
        #expect(a.counters.total == 9)
        #expect(a.classes.total == 9)
        #expect(a.classes.scan == 4 && a.classes.backscatter == 3 && a.classes.misconfiguration == 1 && a.classes.other == 1)
        #expect(a.latePackets == 0)
    }

    @Test func seriesTopPortsIsCut() throws {
        let c = config { $0.seriesTopPorts = 1 }
        var a = Aggregator(config: c)
        a.add(AggregatorTests.twoBuckets())
        a.finish()
        try #require(a.series.count == 2)
        #expect(a.series[0].topPorts.map(\.packets) == [3])
        #expect(a.series[0].portCount == 3)
    }

    /// A series point keeps the configured watched UDP ports beyond its top ports, not the
    /// default list: 17500 is watched here, 53 is not.
    @Test func seriesPointKeepsConfiguredWatchedPorts() throws {
        let c = config {
            $0.seriesTopPorts = 1
            $0.watchedUDPPorts = [17500]
        }
        var a = Aggregator(config: c)
        a.add(AggregatorTests.twoBuckets())
        a.add(udpPacket(from: Net.scanner2, to: Net.darknet(9), sourcePort: 40000, port: 53, payload: [1], at: t0 + 63 * nsPerSecond))
        a.finish()
        try #require(a.series.count == 2)
        #expect(a.series[1].topPorts.map(\.key) == [ProtocolPort(ipProtocol: 17, port: 33333)])
        #expect(a.series[1].watchedPorts.map(\.key) == [ProtocolPort(ipProtocol: 17, port: 17500)])
    }

    /// Buckets with no packets produce no series point; the next point starts at its own bucket.
    @Test func bucketsFollowPacketTimes() {
        var a = Aggregator()
        a.add(tcpPacket(at: t0 + 5 * nsPerSecond))
        a.add(tcpPacket(at: t0 + 3600 * nsPerSecond + 59 * nsPerSecond))
        a.finish()
        #expect(a.series.map(\.startNs) == [t0, t0 + 3600 * nsPerSecond])
    }

    @Test func maxSeriesBucketsDropsOldest() {
        let c = config { $0.maxSeriesBuckets = 2 }
        var a = Aggregator(config: c)
        for i in 0..<5 { a.add(tcpPacket(at: t0 + Int64(i) * 60 * nsPerSecond)) }
        a.finish()
        #expect(a.series.map(\.startNs) == [t0 + 180 * nsPerSecond, t0 + 240 * nsPerSecond])
        #expect(a.seriesDropped == 3)
    }

    /// A packet older than the open bucket is counted in the open bucket and in latePackets.
    @Test func latePacketsCountInOpenBucket() throws {
        var a = Aggregator()
        a.add(tcpPacket(to: Net.darknet(1), port: 23, at: t0 + 10 * nsPerSecond))
        a.add(tcpPacket(to: Net.darknet(2), port: 23, at: t0 + 70 * nsPerSecond))
        a.add(tcpPacket(to: Net.darknet(3), port: 22, at: t0 + 30 * nsPerSecond))  // late: bucket 0 is closed
        a.add(tcpPacket(to: Net.darknet(4), port: 22, at: t0 + 80 * nsPerSecond))
        a.finish()
        #expect(a.latePackets == 1)
        try #require(a.series.count == 2)
        #expect(a.series[0].counters.total == 1)
        #expect(a.series[1].counters.total == 3)
        #expect(a.series[1].startNs == t0 + 60 * nsPerSecond)
        #expect(a.series[1].topPorts.map(\.packets) == [2, 1])
        #expect(a.counters.total == 4)
        // The late packet's time still counts for first/last seen.
        #expect(a.counters.firstTimestampNs == t0 + 10 * nsPerSecond)
        #expect(a.sourceDetails[IPAddress(ipv4: Net.scanner)]?.firstSeenNs == t0 + 10 * nsPerSecond)
    }

    /// Undecodable records count in totals (and the bucket), not in classes.
    @Test func decodeErrorsCountedNotClassified() throws {
        var a = Aggregator()
        var bad = PacketRecord()
        bad.status = .truncatedIP
        bad.timestampNs = t0
        bad.wireLength = 10
        a.add(bad)
        a.add(tcpPacket(at: t0 + 1))
        a.finish()
        #expect(a.counters.total == 2)
        #expect(a.counters.decoded == 1)
        #expect(a.counters.errors(.truncatedIP) == 1)
        #expect(a.classes.total == 1)
        try #require(a.series.count == 1)
        #expect(a.series[0].counters.total == 2)
        #expect(a.series[0].classes.total == 1)
    }

    // MARK: per-port table

    @Test func portTableExact() throws {
        var a = Aggregator()
        // tcp/23: scanner → d1 (60 B), d2 (60 B), d1 again (100 B); scanner2 → d1 (60 B).
        a.add(tcpPacket(from: Net.scanner, to: Net.darknet(1), port: 23, at: t0, wireLength: 60))
        a.add(tcpPacket(from: Net.scanner, to: Net.darknet(2), port: 23, at: t0 + 1, wireLength: 60))
        a.add(tcpPacket(from: Net.scanner, to: Net.darknet(1), port: 23, at: t0 + 2, wireLength: 100))
        a.add(tcpPacket(from: Net.scanner2, to: Net.darknet(1), port: 23, at: t0 + 3, wireLength: 60))
        // udp/23 is a different row.
        a.add(udpPacket(from: Net.scanner, to: Net.darknet(1), port: 23, payload: [1, 2], at: t0 + 4))
        // ICMP rows are keyed by type: three echo requests (type 8) and one unreachable (type 3).
        a.add(icmpPacket(from: Net.scanner, to: Net.darknet(1), type: 8, at: t0 + 5))
        a.add(icmpPacket(from: Net.scanner, to: Net.darknet(2), type: 8, at: t0 + 6))
        a.add(icmpPacket(from: Net.scanner2, to: Net.darknet(2), type: 8, at: t0 + 7))
        a.add(icmpPacket(from: Net.victim, to: Net.darknet(3), type: 3, code: 1, at: t0 + 8))
        // ICMPv6 echo request, type 128.
        a.add(icmpv6Packet(type: 128, at: t0 + 9))
        a.finish()

        let rows = Dictionary(uniqueKeysWithValues: a.ports.nonEmptyRows().map { ($0.key, $0.row) })
        #expect(rows.count == 5)
        let tcp23 = try #require(rows[ProtocolPort(ipProtocol: 6, port: 23)])
        #expect(tcp23.packets == 4)
        #expect(tcp23.bytes == 280)
        #expect(tcp23.sources == 2)
        #expect(tcp23.destinations == 2)
        #expect(tcp23.classes.scan == 4)

        let udp23 = try #require(rows[ProtocolPort(ipProtocol: 17, port: 23)])
        #expect(udp23.packets == 1)
        #expect(udp23.bytes == 30)  // 20 + 8 + 2
        #expect(udp23.sources == 1 && udp23.destinations == 1)

        let echo = try #require(rows[ProtocolPort(ipProtocol: 1, port: 8)])
        #expect(echo.packets == 3)
        #expect(echo.sources == 2)
        #expect(echo.destinations == 2)
        #expect(echo.classes.scan == 3)

        let unreachable = try #require(rows[ProtocolPort(ipProtocol: 1, port: 3)])
        #expect(unreachable.packets == 1)
        #expect(unreachable.classes.backscatter == 1)

        let echo6 = try #require(rows[ProtocolPort(ipProtocol: 58, port: 128)])
        #expect(echo6.packets == 1)
        #expect(echo6.sources == 1)

        // Ordered by packets, then protocol and port.
        #expect(a.ports.nonEmptyRows().map(\.key) == [
            ProtocolPort(ipProtocol: 6, port: 23), ProtocolPort(ipProtocol: 1, port: 8), ProtocolPort(ipProtocol: 1, port: 3),
            ProtocolPort(ipProtocol: 17, port: 23), ProtocolPort(ipProtocol: 58, port: 128),
        ])
        #expect(a.pairs.isExact)
    }

    @Test func portTableRowKeys() {
        #expect(PortTable.key(ofRow: 0) == ProtocolPort(ipProtocol: 6, port: 0))
        #expect(PortTable.key(ofRow: 65_535) == ProtocolPort(ipProtocol: 6, port: 65_535))
        #expect(PortTable.key(ofRow: 65_536) == ProtocolPort(ipProtocol: 17, port: 0))
        #expect(PortTable.key(ofRow: 131_071) == ProtocolPort(ipProtocol: 17, port: 65_535))
        #expect(PortTable.key(ofRow: 131_072) == ProtocolPort(ipProtocol: 1, port: 0))
        #expect(PortTable.key(ofRow: 131_327) == ProtocolPort(ipProtocol: 1, port: 255))
        #expect(PortTable.key(ofRow: 131_328) == ProtocolPort(ipProtocol: 58, port: 0))
        #expect(PortTable.key(ofRow: 131_583) == ProtocolPort(ipProtocol: 58, port: 255))
    }

    // MARK: top sources and details

    @Test func sourceDetails() throws {
        var a = Aggregator()
        // scanner: tcp/23 → d1, d2; tcp/80 → d1; tcp/23 → d1 again; a RST (backscatter) to d3 port 40000.
        a.add(tcpPacket(from: Net.scanner, to: Net.darknet(1), port: 23, at: t0 + 10 * nsPerSecond))
        a.add(tcpPacket(from: Net.scanner, to: Net.darknet(2), port: 23, at: t0 + 20 * nsPerSecond))
        a.add(tcpPacket(from: Net.scanner, to: Net.darknet(1), port: 80, at: t0 + 30 * nsPerSecond))
        a.add(tcpPacket(from: Net.scanner, to: Net.darknet(1), port: 23, at: t0 + 200 * nsPerSecond))
        a.add(tcpPacket(from: Net.scanner, to: Net.darknet(3), sourcePort: 80, port: 40000, flags: TCPFlag.rst, at: t0 + 300 * nsPerSecond))
        // scanner2: one packet.
        a.add(tcpPacket(from: Net.scanner2, to: Net.darknet(1), port: 22, at: t0 + 40 * nsPerSecond))
        a.finish()

        let rows = a.topSourceRows(10)
        try #require(rows.count == 2)
        #expect(rows[0].entry.key == IPAddress(ipv4: Net.scanner))
        #expect(rows[0].entry.count == 5)
        #expect(rows[0].entry.error == 0)
        let d = try #require(rows[0].detail)
        #expect(d.packets == 5)
        #expect(d.ports == 3)  // tcp/23, tcp/80, tcp/40000
        #expect(d.destinations == 3)  // d1, d2, d3
        #expect(d.firstSeenNs == t0 + 10 * nsPerSecond)
        #expect(d.lastSeenNs == t0 + 300 * nsPerSecond)
        #expect(d.classes == [.scan, .backscatter])
        #expect(d.synPackets == 4)

        #expect(rows[1].entry.key == IPAddress(ipv4: Net.scanner2))
        #expect(rows[1].entry.count == 1)
        let d2 = try #require(rows[1].detail)
        #expect(d2.ports == 1 && d2.destinations == 1)
        #expect(d2.firstSeenNs == d2.lastSeenNs)
        #expect(d2.classes == [.scan])

        #expect(a.topSourceRows(1).count == 1)
    }

    @Test func prefixAggregation() throws {
        let c = config { $0.aggregateSourcePrefixes = true }
        var a = Aggregator(config: c)
        a.add(tcpPacket(from: 0xC633_6401, to: Net.darknet(1), at: t0))
        a.add(tcpPacket(from: 0xC633_64FE, to: Net.darknet(2), at: t0 + 1))
        a.add(tcpPacket(from: 0xC633_6501, to: Net.darknet(3), at: t0 + 2))
        a.finish()
        let rows = a.topSourceRows(10)
        try #require(rows.count == 2)
        #expect(rows[0].entry.key == IPAddress(ipv4: 0xC633_6400))
        #expect(rows[0].entry.count == 2)
        #expect(rows[0].detail?.destinations == 2)
        #expect(rows[1].entry.key == IPAddress(ipv4: 0xC633_6500))
        #expect(IPAddress("2001:db8:1:2:3::1")!.sourcePrefix == IPAddress("2001:db8:1::")!)
    }

    @Test func distinctSourcesAndDestinationsSmall() {
        var a = Aggregator()
        for i in 0..<50 {
            a.add(tcpPacket(from: 0x0A00_0000 + UInt32(i % 10), to: Net.darknet(i % 7), at: t0 + Int64(i)))
        }
        a.finish()
        #expect(a.distinctSources.estimate.rounded() == 10)
        #expect(a.distinctDestinations.estimate.rounded() == 7)
    }

    // MARK: determinism

    static func mixedStream(seed: UInt64, count: Int) -> [PacketRecord] {
        var rng = SplitMix64(seed: seed)
        var records: [PacketRecord] = []
        var time = t0
        for _ in 0..<count {
            time += Int64(rng.next() % (2 * nsPerSecond.magnitude))
            let source = 0xC633_6400 | UInt32(rng.next() % 40)
            let destination = Net.darknet(Int(rng.next() % 300))
            switch rng.next() % 6 {
            case 0: records.append(tcpPacket(from: source, to: destination, port: UInt16(rng.next() % 5) + 20, at: time))
            case 1: records.append(tcpPacket(from: source, to: destination, sourcePort: 80, port: 40000, flags: TCPFlag.syn | TCPFlag.ack, at: time))
            case 2: records.append(udpPacket(from: source, to: destination, port: 53, payload: PacketBuilder.dnsQuery(name: "a.example"), at: time))
            case 3: records.append(icmpPacket(from: source, to: destination, type: rng.next() % 2 == 0 ? 8 : 3, at: time))
            case 4: records.append(udpPacket(from: source, to: destination, sourcePort: 53, port: 33000, payload: [1], at: time))
            default: records.append(tcpPacket(from: source, to: destination, port: 443, sequence: destination, at: time))
            }
        }
        return records
    }

    @Test func sameInputSameOutput() {
        let records = AggregatorTests.mixedStream(seed: 7, count: 3000)
        var a = Aggregator(), b = Aggregator()
        a.add(records)
        b.add(records)
        a.finish()
        b.finish()
        #expect(a.series.count > 10)
        #expect(a.series == b.series)
        let ta = a.topSourceRows(100), tb = b.topSourceRows(100)
        #expect(ta.count == 40)
        #expect(ta.map(\.entry.key) == tb.map(\.entry.key))
        #expect(ta.map(\.entry.count) == tb.map(\.entry.count))
        #expect(ta.map(\.entry.error) == tb.map(\.entry.error))
        #expect(ta.map(\.detail) == tb.map(\.detail))
        let pa = a.ports.nonEmptyRows(), pb = b.ports.nonEmptyRows()
        #expect(pa.map(\.key) == pb.map(\.key))
        #expect(pa.map(\.row) == pb.map(\.row))
        #expect(a.scans.report() == b.scans.report())
        #expect(a.backscatter.report() == b.backscatter.report())
        #expect(a.windows.map { $0.totals().counters } == b.windows.map { $0.totals().counters })
        // And the totals hold together.
        #expect(a.counters.total == 3000)
        #expect(a.series.reduce(0) { $0 + $1.counters.total } == 3000)
        #expect(a.classes.total == 3000)
    }
}
