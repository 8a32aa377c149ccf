/// Every rule's configuration. Decodes from JSON with any subset of keys; the rest default.
public struct AlertEngineConfig: Sendable, Equatable, Codable {
    public var surges: SurgeRulesConfig
    public var backscatter: BackscatterRuleConfig
    public var scanCampaign: ScanCampaignRuleConfig
    public var correlation: CorrelationConfig

    public init(surges: SurgeRulesConfig = .init(), backscatter: BackscatterRuleConfig = .init(),
                scanCampaign: ScanCampaignRuleConfig = .init(), correlation: CorrelationConfig = .init()) {
        self.surges = surges
        self.backscatter = backscatter
        self.scanCampaign = scanCampaign
        self.correlation = correlation
    }

    enum CodingKeys: String, CodingKey {
        case surges, backscatter, scanCampaign = "scan_campaign", correlation
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        surges = try c.value(.surges, or: .init())
        backscatter = try c.value(.backscatter, or: .init())
        scanCampaign = try c.value(.scanCampaign, or: .init())
        correlation = try c.value(.correlation, or: .init())
    }
}

/// All rules behind one entry point. Feed it closed sensor buckets in time order, feed
/// buckets in time order (if there is a feed; otherwise set `correlation.enabled = false`),
/// and detector events; it returns candidate alerts, to pass through an `AlertGate`.
/// Deterministic: the same inputs in the same order give the same alerts in the same order.
public struct AlertEngine: Sendable {
    public internal(set) var surges: SurgeRules
    public internal(set) var events: EventRules
    public internal(set) var correlator: Correlator

    public init(config: AlertEngineConfig = AlertEngineConfig()) {
        surges = SurgeRules(config: config.surges)
        events = EventRules(backscatter: config.backscatter, scanCampaign: config.scanCampaign)
        correlator = Correlator(config: config.correlation)
    }

    /// One closed sensor bucket: surge alerts, then any correlation verdicts it completes.
    public mutating func observe(_ bucket: BucketObservation) -> [Alert] {
        let before = surges.lastBucketIndex
        let findings = surges.observe(bucket)
        var alerts = findings.map(SurgeRules.alert(for:))
        if let index = surges.lastBucketIndex, index != before, let length = surges.bucketLengthNs {
            alerts += correlator.observeSensor(bucketIndex: index, bucketLengthNs: length, findings: findings)
        }
        return alerts
    }

    /// The end of a closed sensor bucket (after its events): the `scan-campaign` summaries
    /// of an aggregation window that ended by then.
    public mutating func closeWindows(throughNs timeNs: Int64) -> [Alert] {
        events.closeWindows(throughNs: timeNs)
    }

    /// One feed bucket: correlation verdicts it completes.
    public mutating func observe(feed: FeedBucketObservation) -> [Alert] {
        correlator.observeFeed(feed)
    }

    public mutating func observe(_ event: ScanEpisodeEvent) -> [Alert] {
        events.evaluate(event)
    }

    public mutating func observe(_ event: BackscatterVictimEvent) -> [Alert] {
        events.evaluate(event).map { [$0] } ?? []
    }

    /// Forgets the open `scan-campaign` window if it starts at or before `startNs` (its
    /// summaries were already sent; see `AlertStage.restore`).
    public mutating func forgetScanWindow(startingAtOrBefore startNs: Int64) {
        events.dropWindow(ifStartingAtOrBefore: startNs)
    }

    /// End of input (end of a replay): correlation verdicts still waiting, then the open
    /// `scan-campaign` window's summaries.
    public mutating func finish() -> [Alert] {
        correlator.finish() + events.flushWindow()
    }
}
