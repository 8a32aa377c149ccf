import Interchange

/// Dedup and rate limiting, in alert time (bucket or event time), so a replay gives the same
/// output as the live run; the daemon also moves the gate's clock once a second
/// (`AlertStage.tick`) so a window's summary goes out when the window ends.
public struct AlertGateConfig: Sendable, Equatable, Codable {
    /// Same rule + key within this much alert time of the last delivered one is dropped.
    public var cooldownSeconds: Int64
    /// At most this many alerts of EACH severity class (`SeverityClass`) per window; beyond
    /// it they are counted, and the window ends with one `alert-rate-limited` summary.
    /// Notices never use up the budget of warnings or critical alerts.
    public var maxAlertsPerWindow: Int
    public var windowSeconds: Int64
    /// Bound on remembered (rule, key) pairs; the oldest remembered is forgotten first.
    public var maxDedupKeys: Int
    public var summarySeverity: Severity

    public init(cooldownSeconds: Int64 = 900, maxAlertsPerWindow: Int = 20, windowSeconds: Int64 = 60,
                maxDedupKeys: Int = 10_000, summarySeverity: Severity = .warning) {
        self.cooldownSeconds = cooldownSeconds
        self.maxAlertsPerWindow = maxAlertsPerWindow
        self.windowSeconds = windowSeconds
        self.maxDedupKeys = maxDedupKeys
        self.summarySeverity = summarySeverity
    }

    enum CodingKeys: String, CodingKey {
        case cooldownSeconds = "cooldown_seconds", maxAlertsPerWindow = "max_alerts_per_window"
        case windowSeconds = "window_seconds", maxDedupKeys = "max_dedup_keys", summarySeverity = "summary_severity"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = AlertGateConfig()
        cooldownSeconds = try c.value(.cooldownSeconds, or: d.cooldownSeconds)
        maxAlertsPerWindow = try c.value(.maxAlertsPerWindow, or: d.maxAlertsPerWindow)
        windowSeconds = try c.value(.windowSeconds, or: d.windowSeconds)
        maxDedupKeys = try c.value(.maxDedupKeys, or: d.maxDedupKeys)
        summarySeverity = try c.value(.summarySeverity, or: d.summarySeverity)
    }
}

/// The rate limit's budgets: each class has its own, so notices cannot crowd out what matters.
public enum SeverityClass: Int, Sendable, CaseIterable, Comparable {
    /// emergency, alert, critical
    case critical = 0
    /// error, warning
    case warning = 1
    /// notice, informational, debug
    case notice = 2

    public init(_ s: Severity) {
        self = s <= .critical ? .critical : (s <= .warning ? .warning : .notice)
    }

    public var name: String {
        switch self {
        case .critical: "critical"
        case .warning: "warning"
        case .notice: "notice"
        }
    }

    public static func < (a: SeverityClass, b: SeverityClass) -> Bool { a.rawValue < b.rawValue }
}

/// Synchronous filter: each `submit` returns at once what to deliver now (nothing is
/// queued). Memory: at most `maxDedupKeys` remembered keys plus an insertion-order list of
/// at most about three times that.
///
/// The daemon runs one gate in front of all its sinks (`AlertStage`): with one configuration
/// for every sink, a gate per sink would make the same decisions; each sink has a retry
/// queue of its own behind it (`AlertSink`).
public struct AlertGate: Sendable {
    public let config: AlertGateConfig

    struct DedupKey: Hashable, Sendable {
        var rule: AlertRuleID
        var key: String
    }
    struct Entry: Sendable {
        var lastNs: Int64
        var sequence: UInt64
    }
    var table: [DedupKey: Entry] = [:]
    /// Insertion order of `table` (with stale entries for refreshed keys), for eviction.
    var order: [(key: DedupKey, sequence: UInt64)] = []
    var orderHead = 0
    var nextSequence: UInt64 = 0

    var window: Int64?
    /// Per `SeverityClass` (index = raw value): delivered and suppressed in the open window.
    var deliveredInWindow: [Int] = [0, 0, 0]
    var suppressedInWindow: [UInt64] = [0, 0, 0]

    public internal(set) var submitted: UInt64 = 0
    public internal(set) var delivered: UInt64 = 0
    public internal(set) var deduplicated: UInt64 = 0
    public internal(set) var rateLimited: UInt64 = 0
    public internal(set) var summaries: UInt64 = 0
    public internal(set) var dedupEvictions: UInt64 = 0

    public init(config: AlertGateConfig = AlertGateConfig()) {
        self.config = config
    }

    public var trackedKeys: Int { table.count }
    /// Entries of the eviction list, stale ones included (bounded, see the type).
    public var orderLength: Int { order.count - orderHead }
    /// Alerts suppressed so far in the open window, all classes.
    public var suppressedInOpenWindow: UInt64 { suppressedInWindow.reduce(0, &+) }

    private var cooldownNs: Int64 { max(0, min(config.cooldownSeconds, Int64.max / 2_000_000_000)) * 1_000_000_000 }
    var windowNs: Int64 { max(1, min(config.windowSeconds, Int64.max / 2_000_000_000)) * 1_000_000_000 }

    /// Filters one candidate. Returns, in order: the summary of the previous window if the
    /// candidate opens a new window and alerts were suppressed in the previous one, then the
    /// candidate itself if it passes dedup and its severity class's rate limit.
    public mutating func submit(_ alert: Alert) -> [Alert] {
        submitted += 1
        var out: [Alert] = []
        if let summary = advance(toTimeNs: alert.timeNs) { out.append(summary) }

        let key = DedupKey(rule: alert.rule, key: alert.key)
        if let e = table[key] {
            let (gap, overflow) = alert.timeNs.subtractingReportingOverflow(e.lastNs)
            if !overflow, gap < cooldownNs, gap > -cooldownNs {
                deduplicated += 1
                return out
            }
        }
        let c = SeverityClass(alert.severity).rawValue
        if deliveredInWindow[c] >= max(0, config.maxAlertsPerWindow) {
            suppressedInWindow[c] += 1
            rateLimited += 1
            return out
        }
        deliveredInWindow[c] += 1
        delivered += 1
        remember(key, at: alert.timeNs)
        out.append(alert)
        return out
    }

    /// Moves the gate's clock: if `timeNs` is in a later window than the current one, closes
    /// it and returns its summary when alerts were suppressed. Times in earlier windows count
    /// in the current one. The daemon calls it once a second with the wall clock
    /// (`AlertStage.tick`), so a summary goes out when its window ends.
    public mutating func advance(toTimeNs timeNs: Int64) -> Alert? {
        let w = bucketIndex(timeNs, windowNs)
        guard let current = window else {
            window = w
            return nil
        }
        guard w > current else { return nil }
        let summary = closeWindow()
        window = w
        return summary
    }

    /// Closes the current window now (shutdown, end of replay): its summary, if any.
    public mutating func flush() -> Alert? {
        closeWindow()
    }

    /// Start of the open window (ns since the epoch), nil before the first alert.
    public var windowStartNs: Int64? {
        window.map { $0.multipliedReportingOverflow(by: windowNs).partialValue }
    }

    /// Forgets what was suppressed in the open window if it starts at or before `startNs`:
    /// its summary was already sent (by a process that ended after the snapshot this gate
    /// was restored from). The window's delivered counts stay, so its limit still holds.
    public mutating func forgetSummary(ofWindowStartingAtOrBefore startNs: Int64) {
        guard let start = windowStartNs, start <= startNs else { return }
        suppressedInWindow = [0, 0, 0]
    }

    private mutating func closeWindow() -> Alert? {
        defer {
            deliveredInWindow = [0, 0, 0]
            suppressedInWindow = [0, 0, 0]
        }
        let total = suppressedInOpenWindow
        guard total > 0, let startNs = windowStartNs else { return nil }
        summaries += 1
        let limit = max(0, config.maxAlertsPerWindow)
        let parts = SeverityClass.allCases.filter { suppressedInWindow[$0.rawValue] > 0 }
            .map { "\(suppressedInWindow[$0.rawValue]) \($0.name)" }.joined(separator: ", ")
        return Alert(
            rule: .alertRateLimited, severity: config.summarySeverity, timeNs: startNs, key: "rate-limit",
            metric: "suppressed_alerts", observed: Double(total), baseline: Double(limit),
            suppressed: total,
            message: "rate limit: \(total) alerts suppressed (\(parts)) in the \(config.windowSeconds) s window"
                + " starting \(RFC3339.format(startNs, fractionDigits: 6)) (at most \(limit) per severity per window)")
    }

    private mutating func remember(_ key: DedupKey, at timeNs: Int64) {
        nextSequence += 1
        table[key] = Entry(lastNs: timeNs, sequence: nextSequence)
        order.append((key, nextSequence))
        let cap = max(1, config.maxDedupKeys)
        while table.count > cap, orderHead < order.count {
            let oldest = order[orderHead]
            orderHead += 1
            if table[oldest.key]?.sequence == oldest.sequence {
                table[oldest.key] = nil
                dedupEvictions += 1
            }
        }
        if orderHead > 0, orderHead >= order.count / 2 {
            order.removeFirst(orderHead)
            orderHead = 0
        }
        if order.count > 2 * cap + 16 {
            // Refreshed keys left stale entries behind: rebuild from the live ones.
            order = table.map { ($0.key, $0.value.sequence) }.sorted { $0.sequence < $1.sequence }
            orderHead = 0
        }
    }
}
