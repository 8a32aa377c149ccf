import Foundation
import Testing
import Synth
import Decoding
@testable import Alerts

/// Snapshot coding of the alert stage's learned state (what `darknetd run` persists).
@Suite struct AlertStateCodingTests {
    static func plist<T: Encodable>(_ value: T) throws -> Data {
        let encoder = PropertyListEncoder()
        encoder.outputFormat = .binary
        return try encoder.encode(value)
    }

    /// Canonical JSON: sorted keys, and the types encode dictionaries as sorted arrays, so
    /// equal states give equal bytes.
    static func json<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(value)
    }

    /// Decodes from binary plist and from JSON; both re-encode to the original's bytes.
    static func roundTrip<T: Codable>(_ value: T) throws -> T {
        let original = try json(value)
        let fromPlist = try PropertyListDecoder().decode(T.self, from: plist(value))
        let fromJSON = try JSONDecoder().decode(T.self, from: original)
        #expect(try json(fromPlist) == original)
        #expect(try json(fromJSON) == original)
        return fromPlist
    }

    /// Quiet background: DNS, NTP and a few TCP ports with Poisson noise.
    static func quiet(_ i: Int, _ rng: inout SplitMix64) -> BucketObservation {
        bucket(i, [udp(53, 20 + rng.poisson(4), 5 + rng.poisson(1)), udp(123, 10 + rng.poisson(3), 3),
                   tcp(23, 40 + rng.poisson(6), 12 + rng.poisson(2)), tcp(UInt16(1000 + i % 7), 2, 1)])
    }

    /// A DNS and a telnet surge, with top sources.
    static func surge(_ i: Int) -> BucketObservation {
        bucket(i, [udp(53, 900, 160, top: 8), udp(123, 11, 3), tcp(23, 2500, 300)])
    }

    static let correlated = AlertEngineConfig(correlation: CorrelationConfig(warmUpBuckets: 5))

    /// 20 quiet buckets with a quiet feed, a few scan campaigns (remembered scanners) and a
    /// pending sensor surge waiting for the feed.
    static func warmEngine(_ config: AlertEngineConfig = correlated) -> AlertEngine {
        var engine = AlertEngine(config: config)
        var rng = SplitMix64(seed: 42)
        for i in 0..<20 {
            _ = engine.observe(quiet(i, &rng))
            _ = engine.observe(feed: feedBucket(i, [FeedPortObservation(port: 53, events: 30 + rng.poisson(5)),
                                                    FeedPortObservation(port: 23, events: 100 + rng.poisson(10))]))
            if i % 5 == 0 {
                _ = engine.observe(ScanEpisodeEvent(source: address(UInt32(200 + i)), ipProtocol: IPProtocolNumber.tcp,
                                                    port: UInt16(22 + i), startNs: bucketStart(i), packets: 900, destinations: 800,
                                                    internetRate: 5000, fingerprint: "zmap"))
            }
        }
        return engine
    }

    // MARK: Round trips

    @Test func engineStateRoundTrips() throws {
        var engine = Self.warmEngine()
        _ = engine.observe(Self.surge(20))  // leaves correlation verdicts pending
        #expect(engine.correlator.pendingCount > 0)
        #expect(engine.correlator.historyBucketCount > 0)
        #expect(engine.events.rememberedFingerprintCount == 4)
        #expect(engine.surges.trackedPortCount > 1)

        let back = try Self.roundTrip(engine)
        #expect(back.config == engine.config)
        #expect(back.surges.buckets == 21)
        #expect(back.surges.lastBucketIndex == engine.surges.lastBucketIndex)
        #expect(back.surges.trackedPorts == engine.surges.trackedPorts)
        for key in [PortKey(IPProtocolNumber.udp, 53), PortKey(IPProtocolNumber.tcp, 23), PortKey(IPProtocolNumber.udp, 161)] {
            let a = try #require(back.surges.baseline(key.ipProtocol, key.port))
            let b = try #require(engine.surges.baseline(key.ipProtocol, key.port))
            #expect(a.packets == b.packets && a.sources == b.sources)
        }
        #expect(back.events.rememberedFingerprintCount == 4)
        #expect(engine.events.windowPortCount > 0)
        #expect(back.events.windowPortCount == engine.events.windowPortCount)
        #expect(back.events.tallyStates().map(\.scanners) == engine.events.tallyStates().map(\.scanners))
        #expect(back.correlator.pendingCount == engine.correlator.pendingCount)
        #expect(back.correlator.trackedFeedPortCount == 2)
        #expect(back.correlator.feedLatest == engine.correlator.feedLatest)
    }

    @Test func gateStateRoundTrips() throws {
        var gate = AlertGate(config: AlertGateConfig(cooldownSeconds: 600, maxAlertsPerWindow: 3, windowSeconds: 60))
        for i in 0..<6 {
            var a = sampleAlert()
            a.key = "udp/\(i % 4)"
            a.timeNs = spamhausWeekNs + Int64(i) * 1_000_000_000
            _ = gate.submit(a)
        }
        #expect(gate.delivered == 3 && gate.rateLimited == 1 && gate.deduplicated == 2)
        let back = try Self.roundTrip(gate)
        #expect(back.config == gate.config)
        #expect(back.trackedKeys == 3)
        #expect(back.submitted == 6 && back.delivered == 3 && back.rateLimited == 1 && back.deduplicated == 2)
        #expect(back.suppressedInOpenWindow == 1)

        // A snapshot from before the per-severity budgets (one count for all) still restores.
        var old = try Self.tree(gate)
        old["deliveredInWindow"] = 3
        old["suppressedInWindow"] = 1
        old["deliveredBySeverity"] = nil
        old["suppressedBySeverity"] = nil
        let restored = try Self.decode(AlertGate.self, old)
        #expect(restored.suppressedInOpenWindow == 1 && restored.trackedKeys == 3)
    }

    // MARK: Behaviour after a restore

    @Test func restoredEngineAlertsExactlyLikeTheOriginal() throws {
        var original = Self.warmEngine(AlertEngineConfig(correlation: CorrelationConfig(enabled: false)))
        var restored = try PropertyListDecoder().decode(AlertEngine.self, from: Self.plist(original))
        var fresh = AlertEngine(config: original.config)

        let alerts = original.observe(Self.surge(20))
        #expect(alerts.map(\.rule) == [.portSurge, .dnsOpenResolverSurge])
        #expect(restored.observe(Self.surge(20)) == alerts)
        // Without the learned baselines the same bucket raises nothing: the test depends on them.
        #expect(fresh.observe(Self.surge(20)).isEmpty)

        // And they stay in step afterwards.
        var rng = SplitMix64(seed: 9)
        for i in 21..<30 {
            let b = Self.quiet(i, &rng)
            #expect(original.observe(b) == restored.observe(b))
        }
        #expect(original.observe(Self.surge(30)) == restored.observe(Self.surge(30)))
        #expect(try Self.json(original) == Self.json(restored))
    }

    @Test func restoredCorrelationResolvesLikeTheOriginal() throws {
        var original = Self.warmEngine()
        _ = original.observe(Self.surge(20))
        var restored = try JSONDecoder().decode(AlertEngine.self, from: Self.json(original))
        // The sensor surges wait for the feed to reach bucket 20 + lag (2).
        var a: [Alert] = []
        var b: [Alert] = []
        for i in 20...22 {
            let feed = feedBucket(i, [FeedPortObservation(port: 53, events: i == 20 ? 2000 : 31),
                                      FeedPortObservation(port: 23, events: 105)])
            a += original.observe(feed: feed)
            b += restored.observe(feed: feed)
        }
        #expect(a.map(\.rule).sorted() == [.correlatedSurge, .sensorOnlySurge])
        #expect(b == a)
        #expect(original.finish() == restored.finish())
    }

    @Test func restoredEventRulesRememberScanners() throws {
        let original = Self.warmEngine()
        var restored = try PropertyListDecoder().decode(AlertEngine.self, from: Self.plist(original))
        let again = ScanEpisodeEvent(source: address(200), ipProtocol: IPProtocolNumber.tcp, port: 22, startNs: bucketStart(21),
                                     packets: 900, destinations: 800, internetRate: 500, fingerprint: "zmap")
        // Known scanner, below the campaign rate: silent. A fresh engine would call it new.
        #expect(restored.observe(again).isEmpty)
        var fresh = AlertEngine(config: original.config)
        #expect(fresh.observe(again).count == 1)
    }

    @Test func restoredGateDeduplicatesLikeTheOriginal() throws {
        var original = AlertGate()
        var a = sampleAlert()
        #expect(original.submit(a) == [a])
        var restored = try PropertyListDecoder().decode(AlertGate.self, from: Self.plist(original))
        a.timeNs += 60 * 1_000_000_000
        #expect(original.submit(a).isEmpty)
        #expect(restored.submit(a).isEmpty)
        #expect(restored.deduplicated == 1)
        var fresh = AlertGate()
        #expect(fresh.submit(a) == [a])
    }

    // MARK: Restoring under a new configuration

    @Test func newConfigKeepsBaselines() throws {
        var original = Self.warmEngine()
        let state = try JSONDecoder().decode(AlertEngine.self, from: Self.json(original))
        var config = Self.correlated
        config.surges.dns.k = 6
        config.surges.reflectionPorts = [123, 1900, 1000]  // tcp/1000 stays port-surge; udp/161 etc. leave
        config.surges.maxTrackedPorts = 3
        config.scanCampaign.rememberedFingerprints = 2
        config.correlation.maxPending = 1
        config.correlation.lagBuckets = 0
        config.correlation.maxWaitBuckets = 0
        var restored = AlertEngine.restoring(state: state, config: config)

        #expect(restored.config == config)
        #expect(restored.surges.buckets == 20)
        let before = try #require(original.surges.baseline(IPProtocolNumber.udp, 53))
        let after = try #require(restored.surges.baseline(IPProtocolNumber.udp, 53))
        #expect(after.packets == before.packets && after.sources == before.sources)
        #expect(after.packets.samples == 20)
        // Former reflection ports that are no longer fixed compete as port-surge baselines.
        #expect(restored.surges.trackedPortCount == 3)
        #expect(restored.surges.evictions > original.surges.evictions)
        #expect(restored.events.rememberedFingerprintCount == 2)
        #expect(restored.surges.rule(for: PortKey(IPProtocolNumber.udp, 161)) == .portSurge)

        // The restored engine is itself a valid state.
        let again = try Self.roundTrip(restored)
        #expect(again.surges.trackedPorts == restored.surges.trackedPorts)

        // Warm at once: the surge is judged against the kept baselines under the new k.
        let alerts = restored.observe(Self.surge(20))
        #expect(alerts.contains { $0.rule == .dnsOpenResolverSurge })
        _ = original.observe(Self.surge(20))
    }

    @Test func newGateConfigTrimsTheDedupTable() throws {
        var gate = AlertGate(config: AlertGateConfig(maxAlertsPerWindow: 100))
        for i in 0..<10 {
            var a = sampleAlert()
            a.key = "k\(i)"
            a.timeNs = spamhausWeekNs + Int64(i)
            _ = gate.submit(a)
        }
        #expect(gate.trackedKeys == 10)
        let state = try PropertyListDecoder().decode(AlertGate.self, from: Self.plist(gate))
        var small = AlertGate.restoring(state: state, config: AlertGateConfig(maxAlertsPerWindow: 4, maxDedupKeys: 4))
        #expect(small.trackedKeys == 4)
        #expect(small.dedupEvictions == 6)
        _ = try Self.roundTrip(small)
        // The newest four are remembered, the oldest forgotten.
        var recent = sampleAlert()
        recent.key = "k9"
        recent.timeNs = spamhausWeekNs + 20
        #expect(small.submit(recent).isEmpty)
        var old = sampleAlert()
        old.key = "k0"
        old.timeNs = spamhausWeekNs + 21
        // Forgotten, but the window is already full under the new limit of 4.
        #expect(small.submit(old).isEmpty)
        #expect(small.rateLimited == 1 && small.deduplicated == 1)
    }

    // MARK: Corrupt snapshots

    static func tree<T: Encodable>(_ value: T) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: json(value)) as? [String: Any])
    }

    static func decode<T: Decodable>(_ type: T.Type, _ tree: [String: Any]) throws -> T {
        try JSONDecoder().decode(type, from: JSONSerialization.data(withJSONObject: tree))
    }

    @Test func oversizedOrInconsistentGateIsRejected() throws {
        var gate = AlertGate(config: AlertGateConfig(maxDedupKeys: 3))
        for i in 0..<3 {
            var a = sampleAlert()
            a.key = "k\(i)"
            _ = gate.submit(a)
        }
        let good = try Self.tree(gate)
        _ = try Self.decode(AlertGate.self, good)

        var t = good
        var config = try #require(t["config"] as? [String: Any])
        config["max_dedup_keys"] = 2
        t["config"] = config
        #expect(throws: DecodingError.self) { try Self.decode(AlertGate.self, t) }

        t = good
        var dedup = try #require(t["dedup"] as? [[String: Any]])
        dedup[2]["key"] = dedup[0]["key"]
        t["dedup"] = dedup
        #expect(throws: DecodingError.self) { try Self.decode(AlertGate.self, t) }

        t = good
        dedup = try #require(t["dedup"] as? [[String: Any]])
        dedup.swapAt(0, 1)
        t["dedup"] = dedup
        #expect(throws: DecodingError.self) { try Self.decode(AlertGate.self, t) }

        t = good
        t["submitted"] = 99
        #expect(throws: DecodingError.self) { try Self.decode(AlertGate.self, t) }

        t = good
        t["deliveredBySeverity"] = [0, 0, 21]
        #expect(throws: DecodingError.self) { try Self.decode(AlertGate.self, t) }

        t = good
        t["suppressedBySeverity"] = [0, 0]
        #expect(throws: DecodingError.self) { try Self.decode(AlertGate.self, t) }

        t = good
        dedup = try #require(t["dedup"] as? [[String: Any]])
        dedup[0]["rule"] = "no-such-rule"
        t["dedup"] = dedup
        #expect(throws: DecodingError.self) { try Self.decode(AlertGate.self, t) }
    }

    @Test func inconsistentEngineIsRejected() throws {
        var engine = Self.warmEngine()
        _ = engine.observe(Self.surge(20))
        let good = try Self.tree(engine)
        _ = try Self.decode(AlertEngine.self, good)

        func edit(_ path: String, _ body: (inout [String: Any]) throws -> Void) throws -> [String: Any] {
            var t = good
            var inner = try #require(t[path] as? [String: Any])
            try body(&inner)
            t[path] = inner
            return t
        }

        // A negative deviation, and a missing fixed port.
        var t = try edit("surges") { s in
            var fixed = try #require(s["fixed"] as? [[String: Any]])
            var packets = try #require(fixed[0]["packets"] as? [String: Any])
            packets["deviation"] = -1
            fixed[0]["packets"] = packets
            s["fixed"] = fixed
        }
        #expect(throws: DecodingError.self) { try Self.decode(AlertEngine.self, t) }
        t = try edit("surges") { s in
            var fixed = try #require(s["fixed"] as? [[String: Any]])
            fixed.removeLast()
            s["fixed"] = fixed
        }
        #expect(throws: DecodingError.self) { try Self.decode(AlertEngine.self, t) }
        // More tracked ports than the cap.
        t = try edit("surges") { s in
            var config = try #require(s["config"] as? [String: Any])
            config["max_tracked_ports"] = 1
            s["config"] = config
        }
        #expect(throws: DecodingError.self) { try Self.decode(AlertEngine.self, t) }
        // Half a clock.
        t = try edit("surges") { s in s["bucketLengthNs"] = nil }
        #expect(throws: DecodingError.self) { try Self.decode(AlertEngine.self, t) }
        // A fingerprint listed twice; a port tallied twice; tallies without a window.
        t = try edit("events") { e in
            var fingerprints = try #require(e["fingerprints"] as? [[String: Any]])
            fingerprints.append(fingerprints[0])
            e["fingerprints"] = fingerprints
        }
        #expect(throws: DecodingError.self) { try Self.decode(AlertEngine.self, t) }
        t = try edit("events") { e in
            var tallies = try #require(e["tallies"] as? [[String: Any]])
            tallies.append(tallies[0])
            e["tallies"] = tallies
        }
        #expect(throws: DecodingError.self) { try Self.decode(AlertEngine.self, t) }
        t = try edit("events") { e in e["window"] = nil }
        #expect(throws: DecodingError.self) { try Self.decode(AlertEngine.self, t) }
        // A state of the earlier per-source memory restores (without it) rather than failing.
        t = try edit("events") { e in
            e["scanners"] = [["source": "198.51.100.1", "fingerprint": "zmap"]]
            e["fingerprints"] = nil
        }
        #expect(try Self.decode(AlertEngine.self, t).events.rememberedFingerprintCount == 0)
        // Correlation: history after the newest bucket, too many pending verdicts.
        t = try edit("correlator") { c in
            var history = try #require(c["sensorHistory"] as? [[String: Any]])
            history.append(["index": (c["sensorLatest"] as! Int) + 1, "ports": [53]])
            c["sensorHistory"] = history
        }
        #expect(throws: DecodingError.self) { try Self.decode(AlertEngine.self, t) }
        t = try edit("correlator") { c in
            var config = try #require(c["config"] as? [String: Any])
            config["max_pending"] = 1
            c["config"] = config
        }
        #expect(engine.correlator.pendingCount > 1)
        #expect(throws: DecodingError.self) { try Self.decode(AlertEngine.self, t) }
    }

    @Test func truncatedStateIsRejected() throws {
        let engine = Self.warmEngine()
        let plist = try Self.plist(engine)
        let json = try Self.json(engine)
        for cut in [0, 1, 8, plist.count / 2, plist.count - 1] {
            #expect(throws: (any Error).self, "plist cut at \(cut)") {
                try PropertyListDecoder().decode(AlertEngine.self, from: plist.prefix(cut))
            }
        }
        for cut in [0, json.count / 2, json.count - 1] {
            #expect(throws: (any Error).self, "json cut at \(cut)") {
                try JSONDecoder().decode(AlertEngine.self, from: json.prefix(cut))
            }
        }
    }
}
