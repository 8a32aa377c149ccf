import Testing
import Decoding
import Synth
@testable import Aggregation

/// DoS victims after Moore et al.: victim + protocol, ≥ 25 packets, ≥ 60 s,
/// peak ≥ 0.5 packets/s over a one-minute window (30 packets in a window),
/// ended by 300 s of silence. Each threshold is tested alone, the others
/// relaxed in the config.
@Suite struct BackscatterDetectorTests {
    /// A SYN-ACK from the victim to a darknet address.
    static func reply(_ i: Int, at time: Int64, victim: UInt32 = Net.victim) -> PacketRecord {
        tcpPacket(from: victim, to: Net.darknet(i), sourcePort: 80, port: UInt16(1024 + i % 60000),
                  flags: TCPFlag.syn | TCPFlag.ack, at: time)
    }

    /// `count` replies: the first at t0, the last at t0 + `lastAt`, the rest one a second from t0.
    static func replies(_ count: Int, lastAt: Int64) -> [PacketRecord] {
        precondition(count >= 2 && Int64(count - 2) * nsPerSecond < lastAt)
        return (0..<count - 1).map { reply($0, at: t0 + Int64($0) * nsPerSecond) } + [reply(count - 1, at: t0 + lastAt)]
    }

    static func attacks(_ records: [PacketRecord], _ body: (inout BackscatterDetector.Config) -> Void = { _ in }) -> [BackscatterAttack] {
        var c = AggregationConfig()
        body(&c.backscatter)
        var a = Aggregator(config: c)
        a.add(records)
        a.finish()
        return a.backscatter.report()
    }

    @Test func defaults() {
        let c = BackscatterDetector.Config()
        #expect(c.minPackets == 25)
        #expect(c.minDurationSeconds == 60)
        #expect(c.minPeakRate == 0.5)
        #expect(c.timeoutSeconds == 300)
    }

    // MARK: packets (duration 60 s, peak relaxed)

    @Test func twentyFourPacketsIsNoAttack() {
        #expect(BackscatterDetectorTests.attacks(BackscatterDetectorTests.replies(24, lastAt: 60 * nsPerSecond)) { $0.minPeakRate = 0 }.isEmpty)
    }

    @Test func twentyFivePacketsIsAnAttack() throws {
        let found = BackscatterDetectorTests.attacks(BackscatterDetectorTests.replies(25, lastAt: 60 * nsPerSecond)) { $0.minPeakRate = 0 }
        try #require(found.count == 1)
        #expect(found[0].packets == 25)
        #expect(found[0].victim == IPAddress(ipv4: Net.victim))
        #expect(found[0].ipProtocol == IPProtocolNumber.tcp)
    }

    // MARK: duration (packets, peak relaxed)

    @Test func durationJustUnderSixtySecondsIsNoAttack() {
        #expect(BackscatterDetectorTests.attacks(BackscatterDetectorTests.replies(25, lastAt: 60 * nsPerSecond - 1)) { $0.minPeakRate = 0 }.isEmpty)
    }

    @Test func durationOfSixtySecondsIsAnAttack() throws {
        let found = BackscatterDetectorTests.attacks(BackscatterDetectorTests.replies(25, lastAt: 60 * nsPerSecond)) { $0.minPeakRate = 0 }
        try #require(found.count == 1)
        #expect(found[0].startNs == t0)
        #expect(found[0].endNs == t0 + 60 * nsPerSecond)
    }

    // MARK: peak rate (packets and duration relaxed)

    /// `count` replies spread over the first minute (t0 ..< t0 + 60 s).
    static func inOneMinute(_ count: Int) -> [PacketRecord] {
        (0..<count).map { reply($0, at: t0 + Int64($0) * (59 * nsPerSecond) / Int64(count)) }
    }

    @Test func twentyNinePacketsInAMinuteIsNoAttack() {
        let found = BackscatterDetectorTests.attacks(BackscatterDetectorTests.inOneMinute(29)) {
            $0.minPackets = 1
            $0.minDurationSeconds = 0
        }
        #expect(found.isEmpty)
    }

    @Test func thirtyPacketsInAMinuteIsAnAttack() throws {
        let found = BackscatterDetectorTests.attacks(BackscatterDetectorTests.inOneMinute(30)) {
            $0.minPackets = 1
            $0.minDurationSeconds = 0
        }
        try #require(found.count == 1)
        #expect(found[0].peakRate == 0.5)
    }

    /// 30 packets split 15/15 over two consecutive minutes: the peak is 15/60.
    @Test func peakIsPerMinuteNotOverall() throws {
        let records = (0..<30).map { BackscatterDetectorTests.reply($0, at: t0 + Int64($0) * 4 * nsPerSecond) }  // 0, 4, ... 116 s
        let found = BackscatterDetectorTests.attacks(records) {
            $0.minPackets = 1
            $0.minDurationSeconds = 0
        }
        #expect(found.isEmpty)
        let relaxed = BackscatterDetectorTests.attacks(records) {
            $0.minPackets = 1
            $0.minDurationSeconds = 0
            $0.minPeakRate = 0.25
        }
        try #require(relaxed.count == 1)
        #expect(relaxed[0].peakRate == 15.0 / 60.0)
    }

    // MARK: all defaults

    /// 30 packets in the first minute, then one at 60 s: every default met.
    @Test func defaultThresholdsTogether() throws {
        var records = BackscatterDetectorTests.inOneMinute(30)
        records.append(BackscatterDetectorTests.reply(30, at: t0 + 60 * nsPerSecond))
        let found = BackscatterDetectorTests.attacks(records)
        try #require(found.count == 1)
        let attack = found[0]
        #expect(attack.packets == 31)
        #expect(attack.peakRate == 0.5)
        // Estimated attack rate = observed rate × 2^32 / darknet size (default 65,536).
        let observed = 31.0 / 60.0
        #expect(attack.observedRate == observed)
        #expect(attack.estimatedAttackRate == observed * 4_294_967_296.0 / 65_536.0)
        #expect(attack.ongoing)
    }

    @Test func estimatedRateUsesDarknetSize() throws {
        var c = AggregationConfig()
        c.darknetSize = 256  // a /24
        var a = Aggregator(config: c)
        var records = BackscatterDetectorTests.inOneMinute(30)
        records.append(BackscatterDetectorTests.reply(30, at: t0 + 120 * nsPerSecond))
        a.add(records)
        a.finish()
        let attack = try #require(a.backscatter.report().first)
        #expect(attack.observedRate == 31.0 / 120.0)
        #expect(attack.estimatedAttackRate == 31.0 / 120.0 * 16_777_216.0)
    }

    // MARK: timeout

    /// Two qualifying bursts from the same victim `gap` seconds apart.
    static func twoAttacks(gap: Int64) -> [BackscatterAttack] {
        var records = replies(31, lastAt: 60 * nsPerSecond)  // 30 in the first minute + 1 at 60 s
        let restart = t0 + (60 + gap) * nsPerSecond
        records += (0..<31).map { reply(100 + $0, at: restart + Int64($0) * 2 * nsPerSecond) }  // 30 in a minute, 60 s long
        return attacks(records)
    }

    @Test func silenceOf301SecondsSplitsAttacks() throws {
        let found = BackscatterDetectorTests.twoAttacks(gap: 301)
        try #require(found.count == 2)
        #expect(found[0].endNs == t0 + 60 * nsPerSecond)
        #expect(!found[0].ongoing)
        #expect(found[1].startNs == t0 + 361 * nsPerSecond)
        #expect(found.allSatisfy { $0.packets == 31 })
    }

    @Test func silenceOf299SecondsIsOneAttack() throws {
        let found = BackscatterDetectorTests.twoAttacks(gap: 299)
        try #require(found.count == 1)
        #expect(found[0].packets == 62)
    }

    // MARK: keying

    /// Victim and protocol are the key: TCP and ICMP backscatter from one victim are two.
    @Test func protocolsAreSeparateVictims() throws {
        var records: [PacketRecord] = []
        for i in 0..<40 {
            let time = t0 + Int64(i) * 2 * nsPerSecond  // 0...78 s: 30 in the first minute
            records.append(BackscatterDetectorTests.reply(i, at: time))
            records.append(icmpPacket(from: Net.victim, to: Net.darknet(i), type: 0, at: time))
        }
        let found = BackscatterDetectorTests.attacks(records)
        try #require(found.count == 2)
        #expect(Set(found.map(\.ipProtocol)) == [IPProtocolNumber.tcp, IPProtocolNumber.icmp])
    }

    /// Scans from an address never make it a victim.
    @Test func scansAreNotBackscatter() {
        let records = (0..<100).map { tcpPacket(from: Net.victim, to: Net.darknet($0), at: t0 + Int64($0) * nsPerSecond) }
        #expect(BackscatterDetectorTests.attacks(records).isEmpty)
    }
}
