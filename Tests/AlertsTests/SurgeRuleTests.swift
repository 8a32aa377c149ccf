import Testing
import Synth
import Decoding
@testable import Alerts

@Suite struct BaselineTests {
    let p = BaselineParameters()

    @Test func noVerdictDuringWarmUp() {
        var b = Baseline()
        for _ in 0..<(p.warmUpBuckets - 1) { b.learn(20, p) }
        #expect(!b.isWarm(p))
        #expect(!b.isSurge(10_000, minimum: 0, p))
        b.learn(20, p)
        #expect(b.isWarm(p))
        #expect(b.isSurge(10_000, minimum: 0, p))
        #expect(b.mean == 20)
    }

    @Test func warmUpIsAnExactRunningMean() {
        var b = Baseline()
        for v in [10.0, 20, 30, 40] { b.learn(v, p) }
        #expect(abs(b.mean - 25) < 1e-9)
        #expect(b.samples == 4)
    }

    @Test func oneSurgeBucketDoesNotPoisonTheBaseline() {
        var b = Baseline()
        var rng = SplitMix64(seed: 7)
        for _ in 0..<30 { b.learn(Double(rng.poisson(20)), p) }
        let before = b
        #expect(b.isSurge(1000, minimum: 50, p))
        b.learn(1000, p)
        // Learned as the clamp mean + k·dev, not 1000: the mean moves by at most α·k·dev.
        #expect(b.mean <= before.mean + p.alpha * p.k * before.effectiveDeviation(p) + 1e-9)
        #expect(b.mean < 25)
        // An unclamped EWMA would have jumped by α·(1000 − mean) ≈ 98.
        #expect(b.isSurge(1000, minimum: 50, p))
    }

    @Test func aPersistentSurgeIsAbsorbed() {
        var b = Baseline()
        for _ in 0..<20 { b.learn(20, p) }
        var surging = 0
        for _ in 0..<60 {
            if b.isSurge(600, minimum: 50, p) { surging += 1 }
            b.learn(600, p)
        }
        #expect(surging > 3)
        #expect(surging < 40)
        #expect(!b.isSurge(600, minimum: 50, p))
        #expect(b.mean > 300)
    }

    @Test func warmAtZeroStartsWarm() {
        let b = Baseline(warmAtZero: p)
        #expect(b.isWarm(p) && b.mean == 0 && b.deviation == 0)
        #expect(b.isSurge(50, minimum: 50, p))
        #expect(!b.isSurge(49, minimum: 50, p))
    }
}

@Suite struct DNSSurgeTests {
    /// Quiet UDP/53 (Poisson 20 packets / 5 sources), with busy but steady TCP/23 and TCP/445
    /// noise; a 600-packet / 150-source open-resolver scan surge at bucket `surgeAt`.
    static func series(surgeAt: Int, buckets: Int = 60, seed: UInt64 = 2013) -> [BucketObservation] {
        var rng = SplitMix64(seed: seed)
        return (0..<buckets).map { i in
            let dns = i == surgeAt
                ? udp(53, 600, 150, top: 8)
                : udp(53, rng.poisson(20), max(1, rng.poisson(5)), top: 3)
            return bucket(i, [
                tcp(23, rng.poisson(300), rng.poisson(60)),
                dns,
                tcp(445, rng.poisson(80), rng.poisson(25)),
                udp(123, rng.poisson(4), rng.poisson(2)),
            ])
        }
    }

    @Test func firesInTheSurgeBucketExactlyAndNowhereElse() throws {
        var engine = sensorOnlyEngine()
        var byBucket: [Int: [Alert]] = [:]
        for (i, b) in Self.series(surgeAt: 40).enumerated() {
            let alerts = engine.observe(b)
            if !alerts.isEmpty { byBucket[i] = alerts }
        }
        #expect(Array(byBucket.keys) == [40])
        let alerts = try #require(byBucket[40])
        #expect(alerts.count == 1)
        let a = try #require(alerts.first)
        #expect(a.rule == .dnsOpenResolverSurge)
        #expect(a.severity == .warning)
        #expect(a.timeNs == bucketStart(40))
        #expect(a.key == "udp/53" && a.ipProtocol == 17 && a.port == 53)
        #expect(a.observed == 600 && a.observedSources == 150)
        #expect(a.baseline > 15 && a.baseline < 25)
        #expect(a.deviation > 1 && a.deviation < 8)
        #expect(try #require(a.baselineSources) > 3 && a.baselineSources! < 7)
        #expect(a.topSources.count == 5)
        #expect(a.topSources.first?.address == address(0))
        #expect(a.topSources.map(\.packets) == a.topSources.map(\.packets).sorted(by: >))
        #expect(a.message.hasPrefix("UDP/53 (DNS) open-resolver scan surge: 600 packets from 150 sources"))
    }

    @Test func notBeforeWarmUp() {
        var engine = sensorOnlyEngine()
        var total = 0
        for b in Self.series(surgeAt: 5, buckets: 30) { total += engine.observe(b).count }
        #expect(total == 0)
        // Same surge once warm does fire: the warm-up, not the figures, held it back.
        var warm = sensorOnlyEngine()
        var fired = 0
        for b in Self.series(surgeAt: 12, buckets: 30) { fired += warm.observe(b).count }
        #expect(fired == 1)
    }

    @Test func packetsWithoutSourcesIsNotASurge() {
        // One loud resolver-scanner: packets surge, distinct sources do not.
        var engine = sensorOnlyEngine()
        var rng = SplitMix64(seed: 3)
        var total = 0
        for i in 0..<40 {
            let dns = i == 30 ? udp(53, 5000, 6) : udp(53, rng.poisson(20), max(1, rng.poisson(5)))
            total += engine.observe(bucket(i, [dns])).count
        }
        #expect(total == 0)
    }

    @Test func aQuietPortGoingFromOneToThreeNeverAlerts() {
        func run(_ config: SurgeRulesConfig) -> [Alert] {
            var engine = sensorOnlyEngine(config)
            var alerts: [Alert] = []
            for i in 0..<40 {
                let n: UInt64 = i < 30 ? 1 : 3
                alerts += engine.observe(bucket(i, [udp(53, n, n), udp(123, n, n), tcp(8080, n, n)]))
            }
            return alerts
        }
        #expect(run(SurgeRulesConfig()).isEmpty)
        // Without the absolute minimums and the deviation floor the same series would alert:
        // the minimums are what keep 1 → 3 quiet.
        var loose = SurgeRuleConfig(minPackets: 0, minSources: 0, minDeviation: 0.1)
        loose.severity = .warning
        let alerts = run(SurgeRulesConfig(dns: loose, reflection: loose, port: loose))
        #expect(Set(alerts.map(\.key)) == ["udp/53", "udp/123", "tcp/8080"])
    }

    @Test func staleAndMisgriddedBucketsAreRejected() {
        var rules = SurgeRules()
        #expect(rules.observe(bucket(5, [udp(53, 1, 1)])).isEmpty)
        _ = rules.observe(bucket(5, [udp(53, 1, 1)]))
        _ = rules.observe(bucket(4, [udp(53, 1, 1)]))
        _ = rules.observe(BucketObservation(startNs: bucketStart(6), bucketSeconds: 60, ports: []))
        _ = rules.observe(BucketObservation(startNs: bucketStart(7), bucketSeconds: 0, ports: []))
        #expect(rules.rejectedBuckets == 4)
        #expect(rules.buckets == 1)
    }
}

@Suite struct ReflectionAndPortSurgeTests {
    @Test(arguments: [UInt16(123), 1900, 11211, 389, 19, 161])
    func eachReflectionPortFiresItsOwnRule(port: UInt16) throws {
        var engine = sensorOnlyEngine()
        var rng = SplitMix64(seed: UInt64(port))
        var fired: [(Int, Alert)] = []
        for i in 0..<30 {
            var ports = SurgeRulesConfig.defaultReflectionPorts.map { udp($0, rng.poisson(10), max(1, rng.poisson(3))) }
            if i == 20 { ports = ports.map { $0.port == port ? udp(port, 500, 100, top: 2) : $0 } }
            for a in engine.observe(bucket(i, ports)) { fired.append((i, a)) }
        }
        #expect(fired.count == 1)
        let (i, a) = try #require(fired.first)
        #expect(i == 20)
        #expect(a.rule == .reflectionScanSurge)
        #expect(a.port == port && a.ipProtocol == IPProtocolNumber.udp)
        #expect(a.severity == .warning)
        #expect(a.topSources.count == 2)
    }

    @Test func tcpOnAReflectionPortIsAPortSurge() {
        var engine = sensorOnlyEngine()
        var alerts: [Alert] = []
        for i in 0..<20 {
            alerts += engine.observe(bucket(i, [tcp(123, i == 15 ? 5000 : 10, i == 15 ? 400 : 3)]))
        }
        #expect(alerts.map(\.rule) == [.portSurge])
        #expect(alerts.first?.key == "tcp/123")
        #expect(alerts.first?.severity == .notice)
    }

    @Test func aPortFirstSeenAfterWarmUpSurgesAgainstZero() {
        var engine = sensorOnlyEngine()
        var alerts: [(Int, Alert)] = []
        var rng = SplitMix64(seed: 11)
        for i in 0..<30 {
            var ports = [tcp(23, rng.poisson(300), rng.poisson(60))]
            if i == 25 { ports.append(tcp(5555, 2000, 300)) }
            if i == 26 { ports.append(tcp(7547, 150, 15)) }  // new, but below the port-surge minimums
            for a in engine.observe(bucket(i, ports)) { alerts.append((i, a)) }
        }
        #expect(alerts.count == 1)
        #expect(alerts.first?.0 == 25)
        #expect(alerts.first?.1.key == "tcp/5555")
        #expect(alerts.first?.1.baseline == 0)
    }

    @Test func trackedPortBaselinesAreBoundedAndEvictionIsDeterministic() {
        var config = SurgeRulesConfig()
        config.maxTrackedPorts = 64
        func run(reversed: Bool) -> SurgeRules {
            var rules = SurgeRules(config: config)
            var rng = SplitMix64(seed: 99)
            for i in 0..<40 {
                var ports = [tcp(23, 1000 + rng.poisson(50), 100), tcp(22, 500, 50)]
                // 200 one-off low-volume ports per bucket, different every bucket.
                for j in 0..<200 { ports.append(tcp(UInt16(10_000 + (i * 200 + j) % 50_000), 1 + rng.poisson(1), 1)) }
                _ = rules.observe(bucket(i, reversed ? ports.reversed() : ports))
                #expect(rules.trackedPortCount <= 64)
            }
            return rules
        }
        let a = run(reversed: false)
        let b = run(reversed: true)
        #expect(a.trackedPortCount == 64)
        // 2 steady ports + 40 × 200 one-off ports were tracked at some point; 64 remain.
        #expect(a.evictions == 8002 - 64)
        #expect(a.trackedPorts == b.trackedPorts)
        // The busiest ports survive; the least active go first.
        #expect(a.trackedPorts.contains(PortKey(IPProtocolNumber.tcp, 23)))
        #expect(a.trackedPorts.contains(PortKey(IPProtocolNumber.tcp, 22)))
        #expect(a.baseline(IPProtocolNumber.tcp, 23)!.packets.mean > 900)
    }

    @Test func defaultBoundIs4096() {
        var rules = SurgeRules()
        let ports = (0..<5000).map { tcp(UInt16(1000 + $0), UInt64(1 + $0 % 7), 1) }
        _ = rules.observe(bucket(0, ports))
        #expect(rules.trackedPortCount == 4096)
        #expect(rules.evictions == 5000 - 4096)
        // The 904 evicted were all among the least active (1 or 2 packets).
        let kept = Set(rules.trackedPorts.map(\.port))
        let evicted = (0..<5000).filter { !kept.contains(UInt16(1000 + $0)) }
        #expect(evicted.allSatisfy { 1 + $0 % 7 <= 2 })
    }
}
