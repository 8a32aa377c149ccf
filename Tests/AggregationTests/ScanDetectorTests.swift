import Sketches
import Testing
import Decoding
import Synth
@testable import Aggregation

/// Scan episodes after Durumeric et al. 2014: ≥ 100 distinct darknet
/// addresses on one protocol/port, closed after 480 s of silence, estimated
/// Internet-wide rate ≥ 10 packets/s. The thresholds are checked to the
/// packet in `--exact` mode, where destinations are counted exactly; the
/// default mode's estimate is checked against them at the end.
@Suite struct ScanDetectorTests {
    /// `count` SYNs from `source` to darknet addresses `first..<first+count` on `port`, one a second from `start`.
    static func sweep(from source: UInt32 = Net.scanner, port: UInt16 = 23, count: Int, first: Int = 0,
                      start: Int64 = t0, spacing: Int64 = nsPerSecond) -> [PacketRecord] {
        (0..<count).map { i in
            tcpPacket(from: source, to: Net.darknet(first + i), port: port, sequence: UInt32(i), id: UInt16(i & 0xFFF),
                      at: start + Int64(i) * spacing)
        }
    }

    /// The records through an aggregator in `--exact` mode (`config.exact` is set).
    static func run(_ records: [PacketRecord], config: AggregationConfig = AggregationConfig()) -> Aggregator {
        var exact = config
        exact.exact = true
        var a = Aggregator(config: exact)
        a.add(records)
        a.finish()
        return a
    }

    @Test func ninetyNineDestinationsIsNoEpisode() {
        let a = ScanDetectorTests.run(ScanDetectorTests.sweep(count: 99))
        #expect(a.scans.report().isEmpty)
        #expect(a.scans.episodeCount == 0)
    }

    @Test func oneHundredDestinationsIsOneEpisode() throws {
        let a = ScanDetectorTests.run(ScanDetectorTests.sweep(count: 100))
        let episodes = a.scans.report()
        try #require(episodes.count == 1)
        let e = episodes[0]
        #expect(e.source == IPAddress(ipv4: Net.scanner))
        #expect(e.ipProtocol == IPProtocolNumber.tcp)
        #expect(e.port == 23)
        #expect(e.packets == 100)
        #expect(e.destinations == 100)
        #expect(e.startNs == t0)
        #expect(e.endNs == t0 + 99 * nsPerSecond)
        let observed = 100.0 / 99.0
        #expect(e.observedRate == observed)
        #expect(e.internetRate == observed * 4_294_967_296.0 / 65_536.0)
        #expect(e.ongoing)  // still open when the data ended
        #expect(a.scans.episodeCount == 1)  // counted when it qualified, not only once it ends
    }

    /// Repeating a destination adds packets but not destinations.
    @Test func repeatedDestinationCountsOnce() throws {
        var records = ScanDetectorTests.sweep(count: 99)
        records.append(tcpPacket(to: Net.darknet(0), port: 23, at: t0 + 99 * nsPerSecond))
        records.append(tcpPacket(to: Net.darknet(0), port: 23, at: t0 + 100 * nsPerSecond))
        let a = ScanDetectorTests.run(records)
        #expect(a.scans.report().isEmpty)

        records.append(tcpPacket(to: Net.darknet(99), port: 23, at: t0 + 101 * nsPerSecond))
        let b = ScanDetectorTests.run(records)
        let e = try #require(b.scans.report().first)
        #expect(e.packets == 102)
        #expect(e.destinations == 100)
    }

    /// Different ports are separate episodes: 50 + 50 destinations is none;
    /// 100 on each of two ports is two.
    @Test func portsAreSeparate() throws {
        var split = ScanDetectorTests.sweep(port: 23, count: 50)
        split += ScanDetectorTests.sweep(port: 2323, count: 50, first: 50, start: t0 + 50 * nsPerSecond)
        #expect(ScanDetectorTests.run(split).scans.report().isEmpty)

        var both = ScanDetectorTests.sweep(port: 23, count: 100)
        both += ScanDetectorTests.sweep(port: 80, count: 100)
        both.sort { $0.timestampNs < $1.timestampNs }
        let episodes = ScanDetectorTests.run(both).scans.report()
        try #require(episodes.count == 2)
        #expect(Set(episodes.map(\.port)) == [23, 80])
        #expect(episodes.allSatisfy { $0.destinations == 100 && $0.packets == 100 })
    }

    /// Protocol is part of the key: UDP/53 probes are not TCP/53.
    @Test func protocolsAreSeparate() {
        var records: [PacketRecord] = []
        for i in 0..<100 {
            let time = t0 + Int64(i) * nsPerSecond
            if i % 2 == 0 {
                records.append(tcpPacket(to: Net.darknet(i), port: 53, at: time))
            } else {
                records.append(udpPacket(to: Net.darknet(i), port: 53, payload: [0xEE], at: time))
            }
        }
        #expect(ScanDetectorTests.run(records).scans.report().isEmpty)
    }

    /// Rate threshold, exact: darknet of 2^28 addresses (factor 16), 100
    /// packets over exactly 160 s: 100 / 160 × 16 = 10 packets/s.
    @Test func rateThresholdExact() throws {
        let config = config { $0.darknetSize = 1 << 28 }
        var records = ScanDetectorTests.sweep(count: 99)
        records.append(tcpPacket(to: Net.darknet(99), port: 23, at: t0 + 160 * nsPerSecond))
        let episodes = ScanDetectorTests.run(records, config: config).scans.report()
        try #require(episodes.count == 1)
        #expect(episodes[0].observedRate == 0.625)
        #expect(episodes[0].internetRate == 10)
    }

    @Test func rateThresholdJustBelow() {
        let config = config { $0.darknetSize = 1 << 28 }
        var records = ScanDetectorTests.sweep(count: 99)
        records.append(tcpPacket(to: Net.darknet(99), port: 23, at: t0 + 160 * nsPerSecond + 1))
        #expect(ScanDetectorTests.run(records, config: config).scans.report().isEmpty)
    }

    /// The first sweep starts 20 s into a bucket, so it ends at t0 + 119 s and
    /// a return 481 s later falls exactly on a bucket boundary (t0 + 600 s).
    static let burstStart = t0 + 20 * nsPerSecond

    /// Two sweeps of the same 100 addresses, the second starting `gap` seconds after the first ended.
    static func twoBursts(gap: Int64, background: Bool) -> Aggregator {
        var records = sweep(count: 100, start: burstStart)
        let end = burstStart + 99 * nsPerSecond
        let second = end + gap * nsPerSecond
        if background {
            // Other traffic keeps buckets closing in between, so the silent
            // episode can be expired at a bucket boundary rather than on the
            // scanner's next packet.
            var time = end + 60 * nsPerSecond
            while time < second {
                records.append(udpPacket(from: Net.scanner2, to: Net.darknet(5000), port: 40000, at: time))
                time += 60 * nsPerSecond
            }
        }
        records += sweep(count: 100, start: second)
        records.sort { $0.timestampNs < $1.timestampNs }
        return run(records)
    }

    @Test(arguments: [false, true])
    func silenceOf481SecondsSplitsEpisodes(background: Bool) throws {
        let a = ScanDetectorTests.twoBursts(gap: 481, background: background)
        let episodes = a.scans.report()
        try #require(episodes.count == 2)
        let start = ScanDetectorTests.burstStart
        #expect(episodes[0].startNs == start)
        #expect(episodes[0].endNs == start + 99 * nsPerSecond)
        #expect(!episodes[0].ongoing)
        #expect(episodes[1].startNs == start + (99 + 481) * nsPerSecond)
        #expect(episodes[1].endNs == start + (99 + 481 + 99) * nsPerSecond)
        // The second sweep revisits the same addresses: they count again in the new episode.
        #expect(episodes.allSatisfy { $0.packets == 100 && $0.destinations == 100 })
        // Counted when they qualify, the open one too: the count agrees with the alerts raised.
        #expect(a.scans.episodeCount == 2)
    }

    @Test(arguments: [false, true])
    func silenceOf479SecondsKeepsOneEpisode(background: Bool) throws {
        let a = ScanDetectorTests.twoBursts(gap: 479, background: background)
        let episodes = a.scans.report()
        try #require(episodes.count == 1)
        let start = ScanDetectorTests.burstStart
        #expect(episodes[0].packets == 200)
        #expect(episodes[0].destinations == 100)
        #expect(episodes[0].startNs == start)
        #expect(episodes[0].endNs == start + (99 + 479 + 99) * nsPerSecond)
    }

    /// Exactly 480 s of silence does not end the episode ("after 480 s").
    @Test(arguments: [false, true])
    func silenceOfExactly480SecondsKeepsOneEpisode(background: Bool) {
        #expect(ScanDetectorTests.twoBursts(gap: 480, background: background).scans.report().count == 1)
    }

    /// A candidate evicted from a full table that comes back must count its
    /// destinations afresh, not find them already "seen" from before.
    @Test func returningCandidateAfterEvictionCountsDestinations() throws {
        let config = config {
            $0.scan.capacity = 32  // the smallest table: 32 slots, all in one eviction window
            $0.exact = true
        }
        var a = Aggregator(config: config)
        // The scanner reaches addresses 0..<50.
        a.add(ScanDetectorTests.sweep(count: 50))
        // 40 heavier candidates (60 addresses each) push it out of the table.
        var time = t0 + 50 * nsPerSecond
        for k in 0..<40 {
            for i in 0..<60 {
                a.add(tcpPacket(from: 0x0A00_0000 + UInt32(k), to: Net.darknet(1000 + i), port: 23, at: time))
                time += 10_000_000
            }
        }
        let key = AddressPort(address: IPAddress(ipv4: Net.scanner), ipProtocol: IPProtocolNumber.tcp, port: 23)
        try #require(a.scans.table[key] == nil)
        // It returns within 480 s and reaches 0..<100: 100 distinct addresses in this episode.
        a.add(ScanDetectorTests.sweep(count: 100, start: time + nsPerSecond))
        a.finish()
        let mine = a.scans.report().filter { $0.source == IPAddress(ipv4: Net.scanner) }
        try #require(mine.count == 1)
        #expect(mine[0].destinations == 100)
        #expect(mine[0].packets == 100)
    }

    /// ICMP echo requests are keyed by type 8 as the "port".
    @Test func icmpEchoSweep() throws {
        let records = (0..<100).map { icmpPacket(to: Net.darknet($0), type: 8, at: t0 + Int64($0) * nsPerSecond) }
        let episodes = ScanDetectorTests.run(records).scans.report()
        try #require(episodes.count == 1)
        #expect(episodes[0].ipProtocol == IPProtocolNumber.icmp)
        #expect(episodes[0].port == 8)
    }

    /// Reflection-recon probes feed the scan detector too.
    @Test func probeSweep() throws {
        let query = PacketBuilder.dnsQuery(name: "example.com", type: 255)
        let records = (0..<100).map { udpPacket(to: Net.darknet($0), port: 53, payload: query, at: t0 + Int64($0) * nsPerSecond) }
        let episodes = ScanDetectorTests.run(records).scans.report()
        try #require(episodes.count == 1)
        #expect(episodes[0].ipProtocol == IPProtocolNumber.udp)
        #expect(episodes[0].port == 53)
    }

    /// Backscatter to 100 addresses is not a scan.
    @Test func backscatterIsNotAScan() {
        let records = (0..<100).map {
            tcpPacket(from: Net.victim, to: Net.darknet($0), sourcePort: 80, port: 40000, flags: TCPFlag.syn | TCPFlag.ack,
                      at: t0 + Int64($0) * nsPerSecond)
        }
        #expect(ScanDetectorTests.run(records).scans.report().isEmpty)
    }

    /// The episode's fingerprint comes from its probes.
    @Test func episodeFingerprint() throws {
        let records = (0..<100).map {
            tcpPacket(to: Net.darknet($0), port: 443, id: 54321, at: t0 + Int64($0) * nsPerSecond)
        }
        let e = try #require(ScanDetectorTests.run(records).scans.report().first)
        #expect(e.fingerprint == .zmap)
    }

    // MARK: the default (sketch) mode

    /// The same records in the default mode, where each episode counts its
    /// destinations in a `DestinationSketch` (docs/sketches.md).
    static func runSketch(_ records: [PacketRecord]) -> Aggregator {
        var a = Aggregator(config: AggregationConfig())
        a.add(records)
        a.finish()
        return a
    }

    /// Sweeps well past the threshold are episodes in the default mode too,
    /// with the same packets, times and fingerprint as in `--exact` mode and
    /// destinations within 4 standard errors of the truth; sweeps well short
    /// of it are none. 30 scanners each, so one lucky hash cannot pass it.
    @Test(arguments: [150, 300, 1_000, 5_000])
    func sweepsPastTheThresholdAreEpisodesWithEstimatedDestinations(count: Int) throws {
        var records: [PacketRecord] = []
        for k in 0..<30 {
            records += Self.sweep(from: 0x0A00_0000 + UInt32(k) * 256, count: count, first: k * 7,
                                  spacing: nsPerSecond / 100)
        }
        records.sort { $0.timestampNs < $1.timestampNs }
        let sketch = Self.runSketch(records).scans.report()
        let exact = Self.run(records).scans.report()
        try #require(exact.count == 30)
        try #require(sketch.count == 30)
        let bound = 4 * ScanDetector.destinationRelativeStandardError * Double(count)
        for (e, s) in zip(exact, sketch) {
            #expect(e.source == s.source && e.port == s.port && e.startNs == s.startNs && e.endNs == s.endNs)
            #expect(e.packets == s.packets && e.fingerprint == s.fingerprint)
            #expect(e.destinations == UInt32(count))
            #expect(UInt64(s.destinations) <= s.packets)
            #expect(abs(Double(s.destinations) - Double(count)) <= bound, "\(s.source): \(s.destinations) of \(count)")
        }
    }

    /// An estimate can overshoot, but never past the packets, which bound the
    /// true count: 30 scanners each sending 95 packets to 95 addresses are no
    /// episode, however their sketches estimate, and no count exceeds its packets.
    @Test func theEstimateNeverExceedsThePackets() {
        var records: [PacketRecord] = []
        for k in 0..<30 {
            records += Self.sweep(from: 0x0A00_0000 + UInt32(k) * 256, count: 95, first: k * 7, spacing: nsPerSecond / 100)
        }
        records.sort { $0.timestampNs < $1.timestampNs }
        let a = Self.runSketch(records)
        #expect(a.scans.report().isEmpty)
        #expect(a.scans.episodeCount == 0)
        a.scans.table.forEach { _, state in #expect(UInt64(state.destinationCount) <= state.packets) }
    }

    @Test func sweepsWellShortOfTheThresholdAreNoEpisodeInTheDefaultMode() {
        var records: [PacketRecord] = []
        for k in 0..<30 {
            records += Self.sweep(from: 0x0A00_0000 + UInt32(k) * 256, count: 50, first: k * 7, spacing: nsPerSecond / 100)
        }
        records.sort { $0.timestampNs < $1.timestampNs }
        #expect(Self.runSketch(records).scans.report().isEmpty)
    }

    /// Repeating destinations does not raise the estimate: 60 addresses swept
    /// ten times over is still no episode.
    @Test func repeatedDestinationsDoNotRaiseTheEstimate() {
        var records: [PacketRecord] = []
        for round in 0..<10 {
            records += Self.sweep(count: 60, start: t0 + Int64(round) * 60 * nsPerSecond)
        }
        let a = Self.runSketch(records)
        #expect(a.scans.report().isEmpty)
        let key = AddressPort(address: IPAddress(ipv4: Net.scanner), ipProtocol: IPProtocolNumber.tcp, port: 23)
        let state = a.scans.table[key]
        #expect(state?.packets == 600)
        #expect(state.map { abs(Double($0.destinationCount) - 60) <= 4 * 0.072 * 60 } == true)
    }

    /// A candidate past the destination threshold but below the rate is
    /// checked again on every packet, also one to an address it has already
    /// counted (no register changes then): here repeats raise the rate past
    /// 10 packets/s, and the episode is counted while it goes on, in both modes.
    @Test(arguments: [false, true])
    func repeatsThatRaiseTheRateQualifyTheEpisode(exact: Bool) {
        var config = AggregationConfig()
        config.darknetSize = 1 << 28  // Internet-wide rate = observed × 16
        config.exact = exact
        // 150 addresses 2 s apart: 0.5 packets/s observed, 8 Internet-wide: too slow.
        var records = Self.sweep(count: 150, spacing: 2 * nsPerSecond)
        let slowEnd = t0 + 149 * 2 * nsPerSecond
        var a = Aggregator(config: config)
        a.add(records)
        #expect(a.scans.episodeCount == 0)
        // 200 repeats of addresses already seen, 10 ms apart: 350 packets in
        // 300 s, 1.17 packets/s observed, 18.7 Internet-wide.
        records = (0..<200).map { i in
            tcpPacket(from: Net.scanner, to: Net.darknet(i % 150), port: 23, at: slowEnd + Int64(i + 1) * 10_000_000)
        }
        a.add(records)
        #expect(a.scans.episodeCount == 1)
    }
}
