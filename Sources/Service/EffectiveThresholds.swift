import Alerts

extension SensorConfiguration {
    /// Every rule's settings as the alert engine runs them: each threshold the
    /// rule reads holds its effective value (the configured one, else the
    /// engine's default), read back from the settings `SensorDaemon.alertConfigs`
    /// builds, so the two cannot disagree. A threshold the rule does not read
    /// stays as configured (nil when unset). What `check-config` prints.
    public var effectiveRules: [AlertRuleID: AlertRuleSettings] {
        let (engine, _, _) = SensorDaemon.alertConfigs(self)
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
