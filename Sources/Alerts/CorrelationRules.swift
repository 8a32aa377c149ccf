/// `correlated-surge`, `sensor-only-surge`, `feed-only-surge`.
///
/// The feed keeps its own per-port baselines (same EWMA machinery, its own thresholds); a
/// feed bucket "surges" on a port when its events pass them. A sensor surge at bucket t on
/// port p is judged once the feed has delivered bucket t+L (L = `lagBuckets`):
/// - a feed surge on p in [t−L, t+L] → `correlated-surge` (nearest lag; earlier feed on ties;
///   `lag_buckets` = sensor bucket − feed bucket, positive when the feed leads);
/// - none, and the feed is warm → `sensor-only-surge`.
/// A feed surge at t′ on p is judged once the sensor has delivered bucket t′+L: no sensor
/// surge on p (any protocol) in [t′−L, t′+L], and the sensor is warm → `feed-only-surge`
/// (a feed surge matched by a sensor surge is reported once, as `correlated-surge`).
/// A side more than `maxWaitBuckets` ahead of the other drops the verdicts it waits for
/// (counted in `expired`); `finish()` judges what is left on the data seen.
public struct CorrelationConfig: Sendable, Equatable, Codable {
    public var enabled: Bool
    public var lagBuckets: Int
    /// Feed baseline: `events > mean + k·max(dev, minDeviation)`, `≥ minRatio × mean`, `≥ minEvents`.
    public var k: Double
    public var minRatio: Double
    public var minEvents: UInt64
    public var warmUpBuckets: Int
    public var alpha: Double
    public var minDeviation: Double
    public var maxTrackedFeedPorts: Int
    public var maxWaitBuckets: Int
    /// Bound on verdicts waiting on either side (oldest dropped, counted in `overflow`).
    public var maxPending: Int
    public var correlatedSeverity: Severity
    public var sensorOnlySeverity: Severity
    public var feedOnlySeverity: Severity

    public init(enabled: Bool = true, lagBuckets: Int = 2, k: Double = 3, minRatio: Double = 2,
                minEvents: UInt64 = 10, warmUpBuckets: Int = 10, alpha: Double = 0.1, minDeviation: Double = 1,
                maxTrackedFeedPorts: Int = 4096, maxWaitBuckets: Int = 12, maxPending: Int = 4096,
                correlatedSeverity: Severity = .critical, sensorOnlySeverity: Severity = .warning,
                feedOnlySeverity: Severity = .notice) {
        self.enabled = enabled
        self.lagBuckets = lagBuckets
        self.k = k
        self.minRatio = minRatio
        self.minEvents = minEvents
        self.warmUpBuckets = warmUpBuckets
        self.alpha = alpha
        self.minDeviation = minDeviation
        self.maxTrackedFeedPorts = maxTrackedFeedPorts
        self.maxWaitBuckets = maxWaitBuckets
        self.maxPending = maxPending
        self.correlatedSeverity = correlatedSeverity
        self.sensorOnlySeverity = sensorOnlySeverity
        self.feedOnlySeverity = feedOnlySeverity
    }

    public var feedBaseline: BaselineParameters {
        BaselineParameters(k: k, minRatio: minRatio, warmUpBuckets: warmUpBuckets, alpha: alpha, minDeviation: minDeviation)
    }

    enum CodingKeys: String, CodingKey {
        case enabled, lagBuckets = "lag_buckets", k = "deviations", minRatio = "factor", minEvents = "min_events"
        case warmUpBuckets = "warmup_buckets", alpha, minDeviation = "min_deviation"
        case maxTrackedFeedPorts = "max_tracked_feed_ports", maxWaitBuckets = "max_wait_buckets"
        case maxPending = "max_pending", correlatedSeverity = "correlated_severity"
        case sensorOnlySeverity = "sensor_only_severity", feedOnlySeverity = "feed_only_severity"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = CorrelationConfig()
        enabled = try c.value(.enabled, or: d.enabled)
        lagBuckets = try c.value(.lagBuckets, or: d.lagBuckets)
        k = try c.value(.k, or: d.k)
        minRatio = try c.value(.minRatio, or: d.minRatio)
        minEvents = try c.value(.minEvents, or: d.minEvents)
        warmUpBuckets = try c.value(.warmUpBuckets, or: d.warmUpBuckets)
        alpha = try c.value(.alpha, or: d.alpha)
        minDeviation = try c.value(.minDeviation, or: d.minDeviation)
        maxTrackedFeedPorts = try c.value(.maxTrackedFeedPorts, or: d.maxTrackedFeedPorts)
        maxWaitBuckets = try c.value(.maxWaitBuckets, or: d.maxWaitBuckets)
        maxPending = try c.value(.maxPending, or: d.maxPending)
        correlatedSeverity = try c.value(.correlatedSeverity, or: d.correlatedSeverity)
        sensorOnlySeverity = try c.value(.sensorOnlySeverity, or: d.sensorOnlySeverity)
        feedOnlySeverity = try c.value(.feedOnlySeverity, or: d.feedOnlySeverity)
    }
}

/// One feed port in one feed bucket, judged against the baseline learned before it.
public struct FeedFigure: Sendable, Equatable {
    public var events: UInt64
    public var baseline: Double
    public var deviation: Double
    public var surge: Bool
}

public struct Correlator: Sendable {
    public let config: CorrelationConfig
    var feedBaselines: [UInt16: Baseline] = [:]
    /// Recent feed buckets: port → figure, for tracked ports.
    var feedHistory: [Int64: [UInt16: FeedFigure]] = [:]
    /// Recent sensor buckets: ports with a sensor surge (any protocol).
    var sensorHistory: [Int64: Set<UInt16>] = [:]
    var pendingSensor: [SurgeFinding] = []
    var pendingFeed: [(index: Int64, startNs: Int64, port: UInt16, figure: FeedFigure)] = []
    public internal(set) var gridNs: Int64?
    public internal(set) var sensorLatest: Int64?
    public internal(set) var feedLatest: Int64?
    public internal(set) var sensorBuckets = 0
    public internal(set) var feedBuckets = 0
    /// Verdicts dropped because the other side fell more than `maxWaitBuckets` behind.
    public internal(set) var expired: UInt64 = 0
    /// Verdicts dropped because more than `maxPending` were waiting.
    public internal(set) var overflow: UInt64 = 0
    /// Sensor surges with no verdict because the feed was not warm yet (and vice versa).
    public internal(set) var undecided: UInt64 = 0
    /// Feed buckets ignored: off the grid, not after the last one, or bad length.
    public internal(set) var rejectedFeedBuckets: UInt64 = 0
    public internal(set) var feedEvictions: UInt64 = 0

    public init(config: CorrelationConfig = CorrelationConfig()) {
        self.config = config
    }

    public var pendingCount: Int { pendingSensor.count + pendingFeed.count }
    public var trackedFeedPortCount: Int { feedBaselines.count }
    public var historyBucketCount: Int { feedHistory.count + sensorHistory.count }

    private var lag: Int64 { Int64(max(0, config.lagBuckets)) }
    private var wait: Int64 { Int64(max(0, config.maxWaitBuckets)) }
    /// Buckets of history kept behind the newest bucket of either side.
    private var horizon: Int64 { 2 * lag + wait + 2 }

    /// Takes the sensor surges of one sensor bucket (all of them, before any gate).
    public mutating func observeSensor(bucketIndex index: Int64, bucketLengthNs: Int64,
                                       findings: [SurgeFinding]) -> [Alert] {
        guard config.enabled else { return [] }
        if let grid = gridNs, grid != bucketLengthNs { return [] }
        gridNs = bucketLengthNs
        if let last = sensorLatest, index <= last { return [] }
        sensorLatest = index
        sensorBuckets += 1
        if !findings.isEmpty {
            sensorHistory[index] = Set(findings.map(\.port))
            pendingSensor += findings
            let excess = pendingSensor.count - max(1, config.maxPending)
            if excess > 0 {
                pendingSensor.removeFirst(excess)
                overflow += UInt64(excess)
            }
        }
        return resolve(final: false)
    }

    /// Takes one feed bucket: judges each port against the feed's baseline, then learns it.
    public mutating func observeFeed(_ bucket: FeedBucketObservation) -> [Alert] {
        guard config.enabled else { return [] }
        guard bucket.bucketSeconds > 0, bucket.bucketSeconds <= Int64.max / 1_000_000_000 else {
            rejectedFeedBuckets += 1
            return []
        }
        let lengthNs = bucket.bucketSeconds * 1_000_000_000
        if let grid = gridNs, grid != lengthNs {
            rejectedFeedBuckets += 1
            return []
        }
        let index = bucketIndex(bucket.startNs, lengthNs)
        if let last = feedLatest, index <= last {
            rejectedFeedBuckets += 1
            return []
        }
        gridNs = lengthNs
        feedLatest = index
        let globallyWarm = feedBuckets >= config.warmUpBuckets
        feedBuckets += 1

        var events: [UInt16: UInt64] = [:]
        for p in bucket.ports { events[p.port, default: 0] &+= p.events }
        let p = config.feedBaseline
        for port in events.keys where feedBaselines[port] == nil {
            // A port the feed starts reporting once warm had zero events so far.
            feedBaselines[port] = globallyWarm ? Baseline(warmAtZero: p) : Baseline()
        }
        var figures: [UInt16: FeedFigure] = [:]
        for port in feedBaselines.keys.sorted() {
            var b = feedBaselines[port]!
            let n = events[port] ?? 0
            let surge = b.isSurge(Double(n), minimum: Double(config.minEvents), p)
            let figure = FeedFigure(events: n, baseline: b.mean, deviation: b.deviation, surge: surge)
            figures[port] = figure
            if surge { pendingFeed.append((index, bucket.startNs, port, figure)) }
            b.learn(Double(n), p)
            feedBaselines[port] = b
        }
        feedHistory[index] = figures
        let excessPending = pendingFeed.count - max(1, config.maxPending)
        if excessPending > 0 {
            pendingFeed.removeFirst(excessPending)
            overflow += UInt64(excessPending)
        }
        let excess = feedBaselines.count - max(0, config.maxTrackedFeedPorts)
        if excess > 0 {
            let victims = feedBaselines
                .sorted { a, b in
                    if a.value.mean != b.value.mean { return a.value.mean < b.value.mean }
                    if a.value.samples != b.value.samples { return a.value.samples < b.value.samples }
                    return a.key < b.key
                }
                .prefix(excess)
            for v in victims { feedBaselines[v.key] = nil }
            feedEvictions += UInt64(excess)
        }
        return resolve(final: false)
    }

    /// End of input: judges every waiting verdict on the data seen so far.
    public mutating func finish() -> [Alert] {
        guard config.enabled else { return [] }
        return resolve(final: true)
    }

    private mutating func resolve(final: Bool) -> [Alert] {
        var alerts: [Alert] = []
        let feedWarm = feedBuckets >= config.warmUpBuckets
        let sensorWarm = sensorBuckets >= config.warmUpBuckets

        var stillSensor: [SurgeFinding] = []
        for f in pendingSensor {
            let t = f.bucketIndex
            let ready = final || (feedLatest.map { $0 >= t + lag } ?? false)
            if !ready {
                if let s = sensorLatest, s - t > lag + wait {
                    expired += 1
                } else {
                    stillSensor.append(f)
                }
                continue
            }
            var match: (lag: Int64, figure: FeedFigure)?
            for d in (-lag)...lag {
                guard let figure = feedHistory[t + d]?[f.port], figure.surge else { continue }
                if let m = match, abs(m.lag) < abs(d) || (abs(m.lag) == abs(d) && m.lag < d) { continue }
                match = (d, figure)
            }
            if let match {
                var a = SurgeRules.alert(for: f)
                a.rule = .correlatedSurge
                a.severity = config.correlatedSeverity
                // One sign everywhere (reports, docs): positive when the feed leads, i.e. the
                // feed's surge bucket is before the sensor's.
                let feedLeads = Int(-match.lag)
                a.correlation = CorrelationFigures(feedObserved: Double(match.figure.events),
                                                   feedBaseline: match.figure.baseline, lagBuckets: feedLeads)
                a.message = "\(SurgeRules.portLabel(f.ipProtocol, f.port)) surge seen by the sensor and the feed"
                    + " (feed \(match.figure.events) events vs baseline \(AlertNumber.format(match.figure.baseline)),"
                    + " \(CorrelationFigures.lagText(feedLeads))): \(f.packets) packets from \(f.sources) sources"
                    + " (baseline \(AlertNumber.format(f.packetBaseline)))"
                alerts.append(a)
            } else if feedWarm {
                let figure = feedHistory[t]?[f.port] ?? FeedFigure(events: 0, baseline: 0, deviation: 0, surge: false)
                var a = SurgeRules.alert(for: f)
                a.rule = .sensorOnlySurge
                a.severity = config.sensorOnlySeverity
                a.correlation = CorrelationFigures(feedObserved: Double(figure.events), feedBaseline: figure.baseline,
                                                   lagBuckets: nil)
                a.message = "\(SurgeRules.portLabel(f.ipProtocol, f.port)) surge at this sensor only"
                    + " (feed at baseline within ±\(lag) buckets): \(f.packets) packets from \(f.sources) sources"
                    + " (baseline \(AlertNumber.format(f.packetBaseline)))"
                alerts.append(a)
            } else {
                undecided += 1
            }
        }
        pendingSensor = stillSensor

        var stillFeed: [(index: Int64, startNs: Int64, port: UInt16, figure: FeedFigure)] = []
        for s in pendingFeed {
            let t = s.index
            let ready = final || (sensorLatest.map { $0 >= t + lag } ?? false)
            if !ready {
                if let f = feedLatest, f - t > lag + wait {
                    expired += 1
                } else {
                    stillFeed.append(s)
                }
                continue
            }
            var sensorSurged = false
            for d in (-lag)...lag where sensorHistory[t + d]?.contains(s.port) == true {
                sensorSurged = true
            }
            if sensorSurged { continue }
            guard sensorWarm else {
                undecided += 1
                continue
            }
            alerts.append(Alert(
                rule: .feedOnlySurge, severity: config.feedOnlySeverity, timeNs: s.startNs, key: "port/\(s.port)",
                port: s.port, metric: "feed_events", observed: Double(s.figure.events), baseline: s.figure.baseline,
                deviation: s.figure.deviation,
                correlation: CorrelationFigures(feedObserved: Double(s.figure.events), feedBaseline: s.figure.baseline,
                                                lagBuckets: nil),
                message: "port \(s.port) surge in the feed only (\(s.figure.events) events vs baseline"
                    + " \(AlertNumber.format(s.figure.baseline))); the sensor stayed at baseline within ±\(lag) buckets"))
        }
        pendingFeed = stillFeed
        prune()
        return alerts.sorted { ($0.timeNs, $0.rule, $0.key) < ($1.timeNs, $1.rule, $1.key) }
    }

    private mutating func prune() {
        let latest = max(sensorLatest ?? Int64.min, feedLatest ?? Int64.min)
        guard latest != Int64.min else { return }
        var floor = latest - horizon
        for f in pendingSensor { floor = min(floor, f.bucketIndex - lag) }
        for f in pendingFeed { floor = min(floor, f.index - lag) }
        // Pending verdicts never reach further back than lag + wait behind their own side,
        // so the history stays within a few horizons even when one side stalls.
        floor = max(floor, latest - 4 * horizon)
        for key in feedHistory.keys where key < floor { feedHistory[key] = nil }
        for key in sensorHistory.keys where key < floor { sensorHistory[key] = nil }
    }
}
