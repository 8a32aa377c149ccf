import Testing
import Synth
import Decoding
@testable import Alerts

@Suite struct EventRuleTests {
    let victim = IPAddress("192.0.2.80")!
    let scanner = IPAddress("203.0.113.50")!

    @Test func backscatterVictimRaisesAnAlert() throws {
        var engine = AlertEngine()
        let e = BackscatterVictimEvent(victim: victim, ipProtocol: IPProtocolNumber.tcp, startNs: bucketStart(3),
                                       packets: 4200, peakRate: 12.5, estimatedAttackRate: 819_200)
        let a = try #require(engine.observe(e).first)
        #expect(a.rule == .backscatterDoS && a.severity == .warning)
        #expect(a.key == "192.0.2.80" && a.address == victim && a.port == nil && a.ipProtocol == 6)
        #expect(a.observed == 819_200 && a.metric == "estimated_attack_pps")
        #expect(a.timeNs == bucketStart(3))
        #expect(a.message == "DoS victim 192.0.2.80 (tcp): 4200 backscatter packets, peak 12.5 pps at the darknet, estimated attack 819200 pps")
    }

    @Test func backscatterBelowTheConfiguredRateIsIgnored() {
        let rules = EventRules(backscatter: BackscatterRuleConfig(minEstimatedAttackRate: 10_000, minPackets: 100))
        let slow = BackscatterVictimEvent(victim: victim, ipProtocol: 6, startNs: 0, packets: 500, peakRate: 1,
                                          estimatedAttackRate: 9_999)
        let few = BackscatterVictimEvent(victim: victim, ipProtocol: 6, startNs: 0, packets: 99, peakRate: 1,
                                         estimatedAttackRate: 50_000)
        let ok = BackscatterVictimEvent(victim: victim, ipProtocol: 6, startNs: 0, packets: 100, peakRate: 1,
                                        estimatedAttackRate: 10_000)
        #expect(rules.evaluate(slow) == nil)
        #expect(rules.evaluate(few) == nil)
        #expect(rules.evaluate(ok)?.rule == .backscatterDoS)
    }

    func episode(_ rate: Double, tool: String? = nil, source: IPAddress? = nil) -> ScanEpisodeEvent {
        ScanEpisodeEvent(source: source ?? scanner, ipProtocol: IPProtocolNumber.udp, port: 53, startNs: bucketStart(1),
                         packets: 900, destinations: 850, internetRate: rate, fingerprint: tool)
    }

    @Test func aSourceAlertsOnItsOwnOnlyAboveTheInternetRate() throws {
        var rules = EventRules(scanCampaign: ScanCampaignRuleConfig(minInternetRate: 1_000_000))
        #expect(rules.evaluate(episode(999_999)).isEmpty)
        let fast = rules.evaluate(episode(2_500_000))
        let a = try #require(fast.first)
        #expect(fast.count == 1)
        #expect(a.rule == .scanCampaign && a.severity == .notice)
        #expect(a.key == "203.0.113.50" && a.address == scanner && a.port == 53 && a.ipProtocol == 17)
        #expect(a.observed == 2_500_000 && a.metric == "internet_rate_pps")
        #expect(a.topSources == [SourceContribution(address: scanner, packets: 900)])
        #expect(a.message.hasPrefix("scan campaign from 203.0.113.50 on UDP/53 (DNS)"))
    }

    @Test func theFirstScannerOfAFingerprintOnAPortAlertsOnce() {
        var rules = EventRules()
        #expect(rules.evaluate(episode(50, tool: "zmap")).isEmpty)          // below 100
        #expect(rules.evaluate(episode(500, tool: "zmap")).first?.message.hasPrefix("first zmap scanner") == true)
        // Another source of the same tool on the same port is no longer news.
        #expect(rules.evaluate(episode(500, tool: "zmap", source: address(7))).isEmpty)
        #expect(rules.evaluate(episode(500, tool: "masscan")).count == 1)   // new tool on the port
        #expect(rules.evaluate(episode(10_000_000, tool: "zmap"))
            .first?.message.hasPrefix("zmap scan campaign") == true)       // fast: alerts on its own
        // A hostile tool name cannot put a line break into the message.
        let hostile = rules.evaluate(episode(500, tool: "evil\ntool"))
        #expect(hostile.first?.message.contains("\n") == false)
        #expect(hostile.first?.message.hasPrefix("first evil\\u{a}tool scanner") == true)
    }

    @Test func rememberedFingerprintsAreBounded() {
        var rules = EventRules(scanCampaign: ScanCampaignRuleConfig(rememberedFingerprints: 3))
        for n in 0..<10 { _ = rules.evaluate(ScanEpisodeEvent(source: scanner, ipProtocol: 6, port: UInt16(1000 + n), startNs: 0,
                                                              packets: 9, destinations: 9, internetRate: 500, fingerprint: "zmap")) }
        #expect(rules.rememberedFingerprintCount == 3)
        func on(_ port: UInt16) -> ScanEpisodeEvent {
            ScanEpisodeEvent(source: scanner, ipProtocol: 6, port: port, startNs: 0, packets: 9, destinations: 9,
                             internetRate: 500, fingerprint: "zmap")
        }
        // The oldest were forgotten first: port 1000 is new again, port 1009 is not.
        #expect(rules.evaluate(on(1009)).isEmpty)
        #expect(rules.evaluate(on(1000)).count == 1)
    }

    /// Issue 12, finding 13: 17 per-source notices for one surge, and syslog unreadable at
    /// telescope scale. New scanners are now summed up per port and window.
    @Test func newScannersAreSummedUpPerPortAndWindow() throws {
        let hour: Int64 = 3_600_000_000_000
        var engine = AlertEngine(config: AlertEngineConfig(scanCampaign: ScanCampaignRuleConfig(minNewScanners: 10)))
        var perSource: [Alert] = []
        for i in 0..<142 {
            let tool: String? = i < 120 ? "mirai" : (i < 130 ? "zmap" : nil)
            perSource += engine.observe(ScanEpisodeEvent(
                source: address(UInt32(i)), ipProtocol: IPProtocolNumber.tcp, port: 23,
                startNs: spamhausWeekNs + Int64(i) * 20_000_000_000, packets: UInt64(100 + i), destinations: 100,
                internetRate: 50_000, fingerprint: tool))
        }
        for i in 0..<9 {   // below min_new_scanners: no summary for TCP/2323
            perSource += engine.observe(ScanEpisodeEvent(source: address(UInt32(500 + i)), ipProtocol: IPProtocolNumber.tcp,
                                                         port: 2323, startNs: spamhausWeekNs, packets: 100, destinations: 100,
                                                         internetRate: 50_000, fingerprint: nil))
        }
        // Only the first scanner of each tool on the port had an alert of its own.
        #expect(perSource.map { String($0.message.prefix(13)) } == ["first mirai s", "first zmap sc"])
        #expect(engine.closeWindows(throughNs: spamhausWeekNs + hour - 1).isEmpty, "window still open")
        let summaries = engine.closeWindows(throughNs: spamhausWeekNs + hour)
        #expect(summaries.count == 1)
        let a = try #require(summaries.first)
        #expect(a.rule == .scanCampaign && a.severity == .notice && a.key == "tcp/23" && a.address == nil)
        #expect(a.metric == "new_scanners" && a.observed == 142 && a.timeNs == spamhausWeekNs)
        #expect(a.message.hasPrefix("142 new scanners on TCP/23 in the 60 min from 2013-03-18T00:00:00Z, 120 of them mirai, 10 zmap ("))
        #expect(a.message.hasSuffix(" packets)"))
        #expect(a.topSources.first?.address == address(141) && a.topSources.count == 5)
        // Episodes reported later, whose first packet was in the closed hour, count in the
        // open one: the closed hour is never summarized twice, nothing is lost.
        for i in 0..<60 {
            _ = engine.observe(ScanEpisodeEvent(source: address(UInt32(1000 + i)), ipProtocol: IPProtocolNumber.tcp, port: 23,
                                                startNs: spamhausWeekNs + 10, packets: 100, destinations: 100,
                                                internetRate: 50_000, fingerprint: "mirai"))
        }
        #expect(engine.closeWindows(throughNs: spamhausWeekNs + 2 * hour - 1).isEmpty)
        let late = engine.closeWindows(throughNs: spamhausWeekNs + 2 * hour)
        #expect(late.map(\.timeNs) == [spamhausWeekNs + hour] && late.first?.observed == 60)
        #expect(engine.closeWindows(throughNs: spamhausWeekNs + 3 * hour).isEmpty, "each window summarized once")
        #expect(engine.finish().isEmpty)
    }

    @Test func theWindowsPortsAreBounded() {
        var rules = EventRules(scanCampaign: ScanCampaignRuleConfig(minNewScanners: 1, maxWindowPorts: 4))
        for port in 0..<10 {
            _ = rules.evaluate(ScanEpisodeEvent(source: scanner, ipProtocol: 6, port: UInt16(port), startNs: 0, packets: 1,
                                                destinations: 100, internetRate: 1, fingerprint: nil))
        }
        #expect(rules.windowPortCount == 4 && rules.untrackedScans == 6)
        #expect(rules.flushWindow().map(\.port) == [0, 1, 2, 3])
    }
}

@Suite struct CorrelationTests {
    /// Sensor UDP/53 and feed port 53, both quiet; surges at the given buckets. Sensor bucket i
    /// and feed bucket i arrive alternately. Returns (index of the bucket whose arrival
    /// produced the alert, alert) for correlation rules only.
    static func run(sensorSurge: Int?, feedSurge: Int?, buckets: Int = 40,
                    config: CorrelationConfig = CorrelationConfig()) -> [(Int, Alert)] {
        var engine = AlertEngine(config: AlertEngineConfig(correlation: config))
        var rng = SplitMix64(seed: 53)
        var out: [(Int, Alert)] = []
        let correlationRules: Set<AlertRuleID> = [.correlatedSurge, .sensorOnlySurge, .feedOnlySurge]
        for i in 0..<buckets {
            let dns = i == sensorSurge ? udp(53, 800, 200, top: 6) : udp(53, rng.poisson(20), max(1, rng.poisson(5)))
            let feed = FeedPortObservation(port: 53, events: i == feedSurge ? 5000 : 100 + rng.poisson(10))
            let other = FeedPortObservation(port: 22, events: 1000 + rng.poisson(30))
            for a in engine.observe(bucket(i, [dns])) where correlationRules.contains(a.rule) { out.append((i, a)) }
            for a in engine.observe(feed: feedBucket(i, [feed, other])) where correlationRules.contains(a.rule) {
                out.append((i, a))
            }
        }
        for a in engine.finish() where correlationRules.contains(a.rule) { out.append((buckets, a)) }
        return out
    }

    @Test func correlatedWhenTheFeedRisesWithinTheLag() throws {
        // lag_buckets positive when the feed leads (the reports' sign): a feed surge two
        // buckets before the sensor's is +2, one bucket after it is −1.
        for (feedAt, lag) in [(30, 0), (31, -1), (32, -2), (28, 2)] {
            let out = Self.run(sensorSurge: 30, feedSurge: feedAt)
            #expect(out.count == 1, "feed at \(feedAt)")
            let (when, a) = try #require(out.first)
            #expect(when == 32, "decided once the feed has bucket t+L")
            #expect(a.rule == .correlatedSurge && a.severity == .critical)
            #expect(a.timeNs == bucketStart(30) && a.key == "udp/53")
            #expect(a.observed == 800 && a.observedSources == 200)
            #expect(a.correlation?.lagBuckets == lag)
            #expect(a.correlation?.feedObserved == 5000)
            let feedBaseline = try #require(a.correlation?.feedBaseline)
            #expect(feedBaseline > 95 && feedBaseline < 115)
            #expect(a.topSources.count == 5)
        }
    }

    @Test func sensorOnlyWhenTheFeedStaysAtBaseline() throws {
        let out = Self.run(sensorSurge: 30, feedSurge: nil)
        #expect(out.count == 1)
        let (when, a) = try #require(out.first)
        #expect(when == 32)
        #expect(a.rule == .sensorOnlySurge && a.severity == .warning)
        #expect(a.timeNs == bucketStart(30) && a.port == 53)
        #expect(a.correlation?.lagBuckets == nil)
        let feed = try #require(a.correlation)
        #expect(feed.feedObserved >= 95 && feed.feedObserved < 125)
        #expect(feed.feedBaseline > 95 && feed.feedBaseline < 115)
    }

    @Test func feedOnlyWhenTheSensorStaysAtBaseline() throws {
        let out = Self.run(sensorSurge: nil, feedSurge: 30)
        #expect(out.count == 1)
        let (when, a) = try #require(out.first)
        #expect(when == 32, "decided once the sensor has bucket t+L")
        #expect(a.rule == .feedOnlySurge && a.severity == .notice)
        #expect(a.key == "port/53" && a.port == 53 && a.ipProtocol == nil)
        #expect(a.observed == 5000 && a.metric == "feed_events")
        #expect(a.baseline > 95 && a.baseline < 115)
    }

    @Test func outsideTheLagWindowBothSidesAreLocal() {
        let out = Self.run(sensorSurge: 30, feedSurge: 33)
        #expect(out.map(\.1.rule).sorted() == [.feedOnlySurge, .sensorOnlySurge])
        let wider = Self.run(sensorSurge: 30, feedSurge: 33, config: CorrelationConfig(lagBuckets: 3))
        #expect(wider.map(\.1.rule) == [.correlatedSurge])
        #expect(wider.first?.1.correlation?.lagBuckets == -3, "the feed 3 buckets behind")
    }

    @Test func quietSeriesGiveNoCorrelationAlerts() {
        #expect(Self.run(sensorSurge: nil, feedSurge: nil).isEmpty)
    }

    @Test func finishJudgesWhatIsStillWaiting() {
        // Surge in the last bucket: the window never completes; finish() decides on what exists.
        let out = Self.run(sensorSurge: 39, feedSurge: 39)
        #expect(out.count == 1)
        #expect(out.first?.0 == 40)
        #expect(out.first?.1.rule == .correlatedSurge)
    }

    @Test func aStalledFeedExpiresPendingVerdictsAndMemoryStaysBounded() {
        var c = Correlator(config: CorrelationConfig(maxWaitBuckets: 4))
        var rules = SurgeRules()
        var rng = SplitMix64(seed: 5)
        for i in 0..<12 { _ = c.observeFeed(feedBucket(i, [FeedPortObservation(port: 53, events: 100)])) }
        var alerts: [Alert] = []
        for i in 0..<400 {
            // A surge every 10 buckets from a warm baseline; the feed stopped at bucket 11.
            let obs = i > 20 && i % 10 == 0 ? udp(53, 900, 200) : udp(53, rng.poisson(20), max(1, rng.poisson(5)))
            let findings = rules.observe(bucket(i, [obs]))
            alerts += c.observeSensor(bucketIndex: rules.lastBucketIndex!, bucketLengthNs: rules.bucketLengthNs!,
                                      findings: findings)
            #expect(c.pendingCount <= 1)
            #expect(c.historyBucketCount < 64)
        }
        #expect(alerts.isEmpty)
        #expect(c.expired > 30)
    }

    @Test func feedOnAnotherGridIsRejected() {
        var engine = AlertEngine()
        _ = engine.observe(bucket(0, []))
        _ = engine.observe(feed: FeedBucketObservation(startNs: bucketStart(0), bucketSeconds: 60, ports: []))
        #expect(engine.correlator.rejectedFeedBuckets == 1)
        #expect(engine.correlator.feedBuckets == 0)
    }
}
