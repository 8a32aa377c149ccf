import Alerts

extension SensorConfiguration {
    /// Every rule's settings as the alert engine runs them: each threshold the
    /// rule reads holds its effective value (the configured one, else the
    /// engine's default), read back from the settings `alertConfigs()`
    /// builds, so the two cannot disagree. A threshold the rule does not read
    /// stays as configured (nil when unset). What `check-config` prints.
    public var effectiveRules: [AlertRuleID: AlertRuleSettings] {
        let (engine, _, _) = alertConfigs()
        var rules: [AlertRuleID: AlertRuleSettings] = [:]
        for id in AlertRuleID.configurable {
            var s = alerts.rules[id] ?? AlertRuleSettings()
            func surge(_ c: SurgeRuleConfig) {
                s.minPackets = c.minPackets
                s.minSources = c.minSources
                s.factor = c.minRatio
                s.deviations = c.k
                s.warmupBuckets = c.warmUpBuckets
            }
            switch id {
            case .dnsOpenResolverSurge: surge(engine.surges.dns)
            case .reflectionScanSurge: surge(engine.surges.reflection)
            case .portSurge: surge(engine.surges.port)
            case .scanCampaign: s.minInternetRate = engine.scanCampaign.minInternetRate
            case .backscatterDoS: s.minPackets = engine.backscatter.minPackets
            case .correlatedSurge: s.lagBuckets = engine.correlation.lagBuckets
            default: break
            }
            rules[id] = s
        }
        return rules
    }

    /// The thresholds a rule reads (the others are ignored by it), as `effectiveRules` fills them in.
    public static func thresholdsRead(by id: AlertRuleID) -> Set<String> {
        switch id {
        case .dnsOpenResolverSurge, .reflectionScanSurge, .portSurge:
            ["min_packets", "min_sources", "factor", "deviations", "warmup_buckets"]
        case .scanCampaign: ["min_internet_rate"]
        case .backscatterDoS: ["min_packets"]
        case .correlatedSurge: ["lag_buckets"]
        default: []
        }
    }

    /// This configuration with `effectiveRules`: what loading `effectiveYAML()` gives back.
    public func withEffectiveRules() -> SensorConfiguration {
        var c = self
        c.alerts.rules = effectiveRules
        return c
    }
}

extension SensorConfiguration {
    /// The alert engine's and the gate's settings, and the rules switched off, as the
    /// daemon runs them (at start and on every reload) and `effectiveRules` reads them back.
    public func alertConfigs() -> (AlertEngineConfig, AlertGateConfig, Set<String>) {
        let c = self
        var engine = AlertEngineConfig()
        func apply(_ rule: AlertRuleID, to config: inout SurgeRuleConfig) {
            guard let s = c.alerts.rules[rule] else { return }
            if let v = s.minPackets { config.minPackets = v }
            if let v = s.minSources { config.minSources = v }
            if let v = s.factor { config.minRatio = v }
            if let v = s.deviations { config.k = v }
            if let v = s.warmupBuckets { config.warmUpBuckets = v }
        }
        apply(.dnsOpenResolverSurge, to: &engine.surges.dns)
        apply(.reflectionScanSurge, to: &engine.surges.reflection)
        apply(.portSurge, to: &engine.surges.port)
        engine.surges.portSurgeEnabled = c.alerts.rules[.portSurge]?.enabled ?? true
        if let s = c.alerts.rules[.scanCampaign], let v = s.minInternetRate { engine.scanCampaign.minInternetRate = v }
        if let s = c.alerts.rules[.backscatterDoS], let v = s.minPackets { engine.backscatter.minPackets = v }
        if let s = c.alerts.rules[.correlatedSurge], let v = s.lagBuckets { engine.correlation.lagBuckets = v }
        engine.correlation.enabled = [AlertRuleID.correlatedSurge, .sensorOnlySurge, .feedOnlySurge]
            .contains { c.alerts.rules[$0]?.enabled ?? true }
        var gate = AlertGateConfig()
        gate.cooldownSeconds = c.alerts.cooldownSeconds
        gate.maxAlertsPerWindow = c.alerts.ratePerMinute
        let disabled = Set(c.alerts.rules.filter { !$0.value.enabled }.map(\.key.rawValue))
        return (engine, gate, disabled)
    }
}
