import Configuration
import Testing

/// What a reload applies and what it leaves for a restart (issue 12, finding 5).
@Suite struct ReloadPlanTests {
    static func load(_ yaml: String) throws -> SensorConfiguration { try ConfigurationLoader.load(yaml: yaml) }

    @Test func alertRulesAreAppliedAndStartUpKeysWaitForARestart() throws {
        let running = try Self.load("aggregation:\n  bucket: 60s\n")
        let fresh = try Self.load("""
            capture:
              snaplen: 1024
            aggregation:
              bucket: 5m
              windows: ["1h"]
            alerts:
              rate_per_minute: 5
              rules:
                port-surge:
                  factor: 9
            """)
        let plan = ReloadPlan(running: running, fresh: fresh)
        #expect(plan.pendingRestart == ["aggregation.bucket", "aggregation.windows", "capture.snaplen"])
        #expect(plan.applied == ["alerts.rate_per_minute", "alerts.rules.port-surge.factor"])
        #expect(plan.running.alerts.rules[.portSurge]?.factor == 9)
        #expect(plan.running.aggregation.bucketSeconds == 60)
        #expect(plan.running.capture.snaplen == 512)
    }

    @Test func anUnchangedFileChangesNothingAndARevertClearsThePending() throws {
        let running = try Self.load("aggregation:\n  bucket: 60s\n")
        let same = ReloadPlan(running: running, fresh: running)
        #expect(same.applied.isEmpty && same.pendingRestart.isEmpty)
        // Setting a threshold to the engine's own value is no change either.
        let explicit = ReloadPlan(running: running, fresh: try Self.load("alerts:\n  rules:\n    port-surge:\n      factor: 5\n"))
        #expect(explicit.applied.isEmpty && explicit.pendingRestart.isEmpty)
        let changed = ReloadPlan(running: running, fresh: try Self.load("aggregation:\n  bucket: 2m\n"))
        #expect(changed.pendingRestart == ["aggregation.bucket"])
        let reverted = ReloadPlan(running: changed.running, fresh: running)
        #expect(reverted.pendingRestart.isEmpty)
    }

    /// A change after a `  # ` inside a quoted value is still a change.
    @Test func quotedHashesAreNotComments() throws {
        var running = SensorConfiguration()
        running.capture.filter = "udp  # a"
        var fresh = running
        fresh.capture.filter = "udp  # b"
        #expect(ReloadPlan(running: running, fresh: fresh).pendingRestart == ["capture.filter"])
    }

    /// Every key but the alert rules, cooldown and rate limit is read at start-up only.
    @Test func everyStartUpKeyIsNamed() throws {
        let running = SensorConfiguration()
        var fresh = running
        fresh.capture.interfaces = ["eth9"]
        fresh.capture.filter = "udp"
        fresh.darknet.prefixes = [try CIDRPrefix(parsing: "192.0.2.0/24")]
        fresh.geoip.database = "/x.mmdb"
        fresh.feed.path = "/feed"
        fresh.alerts.jsonFile = "/a.jsonl"
        fresh.alerts.syslog.format = .rfc5424
        fresh.stats.maxClients = 7
        fresh.state.directory = "/elsewhere"
        fresh.service.watchdog = false
        fresh.alerts.cooldownSeconds = 60
        let plan = ReloadPlan(running: running, fresh: fresh)
        #expect(plan.pendingRestart == [
            "alerts.json_file", "alerts.syslog.format", "capture.filter", "capture.interfaces", "darknet.prefixes",
            "feed.path", "geoip.database", "service.watchdog", "state.directory", "stats.max_clients",
        ])
        #expect(plan.applied == ["alerts.cooldown"])
    }
}
