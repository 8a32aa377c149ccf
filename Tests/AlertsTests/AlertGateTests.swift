import Testing
import Decoding
@testable import Alerts

@Suite struct AlertGateTests {
    static let minute: Int64 = 60_000_000_000

    func candidate(_ key: String, at ns: Int64, rule: AlertRuleID = .portSurge, severity: Severity = .notice) -> Alert {
        Alert(rule: rule, severity: severity, timeNs: ns, key: key, metric: "scan_packets", observed: 1, message: "m")
    }

    @Test func sameRuleAndKeyIsSuppressedOverTheCooldown() {
        var gate = AlertGate()
        let t = spamhausWeekNs
        #expect(gate.submit(candidate("udp/53", at: t)).count == 1)
        #expect(gate.submit(candidate("udp/53", at: t + 5 * Self.minute)).isEmpty)
        #expect(gate.submit(candidate("udp/53", at: t + 15 * Self.minute - 1)).isEmpty)
        #expect(gate.submit(candidate("udp/53", at: t - 3 * Self.minute)).isEmpty)   // late, within the cooldown
        // Another key, or another rule with the same key, is not a duplicate.
        #expect(gate.submit(candidate("udp/123", at: t + 15 * Self.minute - 1)).count == 1)
        #expect(gate.submit(candidate("udp/53", at: t + 15 * Self.minute - 1, rule: .correlatedSurge)).count == 1)
        // The cooldown runs from the last delivered alert.
        #expect(gate.submit(candidate("udp/53", at: t + 15 * Self.minute)).count == 1)
        #expect(gate.submit(candidate("udp/53", at: t + 29 * Self.minute)).isEmpty)
        #expect(gate.submit(candidate("udp/53", at: t + 30 * Self.minute)).count == 1)
        #expect(gate.deduplicated == 4)
        #expect(gate.delivered == 5)
    }

    @Test func rateLimitEmitsOneSummaryWithTheSuppressedCount() throws {
        var gate = AlertGate()
        let t = spamhausWeekNs + 7 * Self.minute + 5_000_000_000   // 5 s into a window
        var delivered: [Alert] = []
        for i in 0..<50 { delivered += gate.submit(candidate("tcp/\(i)", at: t + Int64(i) * 1_000_000_000)) }
        #expect(delivered.count == 20)
        #expect(delivered.allSatisfy { $0.rule == .portSurge })
        #expect(gate.rateLimited == 30)
        // The next window's first alert closes the previous one: summary first, then the alert.
        let next = gate.submit(candidate("tcp/9999", at: t + Self.minute))
        #expect(next.count == 2)
        let summary = try #require(next.first)
        #expect(summary.rule == .alertRateLimited && summary.severity == .warning)
        #expect(summary.suppressed == 30 && summary.observed == 30 && summary.baseline == 20)
        #expect(summary.timeNs == spamhausWeekNs + 7 * Self.minute)
        #expect(summary.message == "rate limit: 30 alerts suppressed (30 notice) in the 60 s window starting 2013-03-18T00:07:00Z (at most 20 per severity per window)")
        #expect(next.last?.key == "tcp/9999")
        // Nothing suppressed in this window: no summary at flush.
        #expect(gate.flush() == nil)
        #expect(gate.summaries == 1)
    }

    @Test func anAlertStormGivesAtMostRPlusOneOutputs() throws {
        var gate = AlertGate()
        let r = gate.config.maxAlertsPerWindow
        let t = spamhausWeekNs
        var template = candidate("", at: t)
        var outputs = 0
        var maxTracked = 0
        for i in 0..<1_000_000 {
            template.key = String(i)
            template.timeNs = t + Int64(i) * 59_999     // all within one minute
            outputs += gate.submit(template).count
            if i & 0xFFFF == 0 { maxTracked = max(maxTracked, gate.trackedKeys) }
        }
        let flushed = gate.flush()
        let summary = try #require(flushed)
        outputs += 1
        #expect(outputs == r + 1)
        #expect(summary.suppressed == UInt64(1_000_000 - r))
        #expect(gate.trackedKeys == r)
        #expect(maxTracked <= r)
        #expect(gate.orderLength <= 2 * r + 16)
    }

    @Test func theDedupTableIsCappedWithDeterministicEviction() {
        var gate = AlertGate(config: AlertGateConfig(maxAlertsPerWindow: .max, maxDedupKeys: 100))
        let t = spamhausWeekNs
        for i in 0..<10_000 { _ = gate.submit(candidate("k\(i)", at: t + Int64(i))) }
        #expect(gate.trackedKeys == 100)
        #expect(gate.dedupEvictions == 9_900)
        #expect(gate.orderLength <= 2 * 100 + 16)
        // The oldest keys were forgotten, the newest remembered.
        #expect(gate.submit(candidate("k9999", at: t + 20_000)).isEmpty)
        #expect(gate.submit(candidate("k0", at: t + 20_000)).count == 1)
    }

    @Test func refreshedKeysDoNotGrowTheEvictionList() {
        var gate = AlertGate(config: AlertGateConfig(cooldownSeconds: 1, maxAlertsPerWindow: .max, maxDedupKeys: 10))
        for i in 0..<5_000 {
            #expect(gate.submit(candidate("k\(i % 3)", at: spamhausWeekNs + Int64(i) * 2_000_000_000)).count == 1)
        }
        #expect(gate.trackedKeys == 3)
        #expect(gate.orderLength <= 2 * 10 + 16)
    }

    @Test func advanceClosesAQuietWindow() {
        var gate = AlertGate(config: AlertGateConfig(maxAlertsPerWindow: 1))
        _ = gate.submit(candidate("a", at: spamhausWeekNs))
        _ = gate.submit(candidate("b", at: spamhausWeekNs))
        #expect(gate.advance(toTimeNs: spamhausWeekNs + 30_000_000_000) == nil)   // same window
        #expect(gate.advance(toTimeNs: spamhausWeekNs + Self.minute)?.suppressed == 1)
        #expect(gate.flush() == nil)
    }

    /// Issue 12, finding 13: one budget for all rules let a storm of notices suppress a
    /// critical alert. Each severity class now has a budget of its own.
    @Test func noticesNeverCrowdOutWarningsOrCriticalAlerts() throws {
        var gate = AlertGate()
        let t = spamhausWeekNs + 7 * Self.minute
        var out: [Alert] = []
        for i in 0..<200 { out += gate.submit(candidate("198.51.100.\(i)", at: t + Int64(i) * 100_000_000, rule: .scanCampaign)) }
        out += gate.submit(candidate("udp/53", at: t + 30_000_000_000, rule: .correlatedSurge, severity: .critical))
        out += gate.submit(candidate("udp/53", at: t + 31_000_000_000, rule: .dnsOpenResolverSurge, severity: .warning))
        out += gate.submit(candidate("udp/123", at: t + 32_000_000_000, rule: .reflectionScanSurge, severity: .warning))
        #expect(out.filter { $0.severity == .notice }.count == 20)
        #expect(out.filter { $0.rule == .correlatedSurge }.count == 1)
        #expect(out.filter { $0.severity == .warning }.count == 2)
        // Warnings have a budget of their own too, and critical alerts theirs.
        for i in 0..<30 { out += gate.submit(candidate("tcp/\(i)", at: t + 40_000_000_000, severity: .warning)) }
        out += gate.submit(candidate("tcp/23", at: t + 41_000_000_000, rule: .correlatedSurge, severity: .critical))
        #expect(out.filter { $0.severity == .warning }.count == 20)
        #expect(out.filter { $0.severity == .critical }.count == 2)
        let flushed = gate.flush()
        let summary = try #require(flushed)
        #expect(summary.suppressed == UInt64(192))
        #expect(summary.message.hasPrefix("rate limit: 192 alerts suppressed (12 warning, 180 notice) in the 60 s window"))
    }

    @Test func severityClasses() {
        #expect(Severity.allCases.map { SeverityClass($0) } == [.critical, .critical, .critical, .warning, .warning, .notice, .notice, .notice])
    }

    /// Finding 7: with the wall clock moving the gate (the daemon's tick), the summary of a
    /// window goes out when the window ends, with no later alert needed.
    @Test func aQuietTickClosesTheWindowOnTime() throws {
        var gate = AlertGate(config: AlertGateConfig(maxAlertsPerWindow: 2))
        let t = spamhausWeekNs + 7 * Self.minute
        for i in 0..<5 { _ = gate.submit(candidate("k\(i)", at: t + Int64(i))) }
        #expect(gate.advance(toTimeNs: t + Self.minute - 1) == nil)
        let closed = gate.advance(toTimeNs: t + Self.minute)
        let summary = try #require(closed)
        #expect(summary.suppressed == 3 && summary.timeNs == t)
        #expect(gate.advance(toTimeNs: t + 2 * Self.minute) == nil, "each window summarized once")
    }

    @Test func aSummaryAlreadySentIsForgotten() {
        var gate = AlertGate(config: AlertGateConfig(maxAlertsPerWindow: 1))
        let t = spamhausWeekNs + 7 * Self.minute
        _ = gate.submit(candidate("a", at: t))
        _ = gate.submit(candidate("b", at: t))
        gate.forgetSummary(ofWindowStartingAtOrBefore: t - 1)   // an earlier window: no effect
        #expect(gate.suppressedInOpenWindow == 1)
        gate.forgetSummary(ofWindowStartingAtOrBefore: t)
        #expect(gate.suppressedInOpenWindow == 0)
        #expect(gate.submit(candidate("c", at: t)).isEmpty, "the window's delivered count still holds")
        #expect(gate.advance(toTimeNs: t + Self.minute)?.suppressed == 1)
    }
}
