import Aggregation
import Alerts
import Decoding
import Feed
import Interchange
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Turns closed bucket summaries (and the feed's buckets) into alerts: the
/// adapter between the aggregator's types and the alert engine's neutral
/// inputs, then dedup/rate limiting, then the sinks. The same code runs
/// offline (alerts that would have fired) and in the daemon.
public struct AlertStage: Sendable {
    public private(set) var engine: AlertEngine
    public private(set) var gate: AlertGate
    /// Feed buckets not yet handed to the engine, oldest first.
    var pendingFeed: [FeedBucketObservation] = []
    var nextFeed = 0
    /// Alerts that passed the gate, oldest first (the last `keep` of them).
    public private(set) var alerts: [Alert] = []
    public private(set) var alertCount: UInt64 = 0
    public let keep: Int
    let sinks: AlertSinks?
    /// Rule ids switched off in the configuration: their alerts are counted, not sent.
    public private(set) var disabledRules: Set<String> = []
    public private(set) var disabledCount: UInt64 = 0
    /// Where the ends of windows whose closing alerts went out are written (the daemon's
    /// state directory), so a restart from an older snapshot does not send them again.
    var ledger: WindowLedger?

    public init(engine: AlertEngineConfig = AlertEngineConfig(), gate: AlertGateConfig = AlertGateConfig(),
                sinks: AlertSinks? = nil, keep: Int = 10_000) {
        self.engine = AlertEngine(config: engine)
        self.gate = AlertGate(config: gate)
        self.sinks = sinks
        self.keep = keep
    }

    /// Loads a whole feed for offline analysis (buckets on the sensor's grid).
    public mutating func setFeed(_ series: FeedSeries) {
        let seconds = series.timeBuckets.lengthSeconds
        pendingFeed = series.orderedBuckets.map { AlertStage.observation($0, bucketSeconds: seconds) }
        nextFeed = 0
    }

    /// Adds feed buckets as they close (live).
    public mutating func addFeedBucket(_ bucket: FeedBucket, bucketSeconds: Int64) {
        pendingFeed.append(AlertStage.observation(bucket, bucketSeconds: bucketSeconds))
    }

    static func observation(_ b: FeedBucket, bucketSeconds: Int64) -> FeedBucketObservation {
        FeedBucketObservation(startNs: b.startNs, bucketSeconds: bucketSeconds,
                              ports: b.ports.sorted { $0.key < $1.key }.map { FeedPortObservation(port: $0.key, events: $0.value) })
    }

    /// One closed sensor bucket: feed buckets up to its start first, then
    /// the bucket's port figures, then the scans and attacks that qualified in it.
    public mutating func process(_ s: BucketSummary) {
        while nextFeed < pendingFeed.count && pendingFeed[nextFeed].startNs <= s.startNs {
            deliver(engine.observe(feed: pendingFeed[nextFeed]))
            nextFeed += 1
        }
        if nextFeed > 1024 {
            pendingFeed.removeFirst(nextFeed)
            nextFeed = 0
        }
        let ports = s.ports.filter { $0.scanPackets > 0 }.map { figures -> PortObservation in
            let top = figures.key.ipProtocol == IPProtocolNumber.udp ? (s.watchedTopSources[figures.key.port] ?? []) : []
            return PortObservation(ipProtocol: figures.key.ipProtocol, port: figures.key.port, scanPackets: figures.scanPackets,
                                   sources: figures.scanSources, topSources: top.map { ($0.address, $0.packets) })
        }
        deliver(engine.observe(BucketObservation(startNs: s.startNs, bucketSeconds: s.lengthNs / 1_000_000_000, ports: ports)))
        for e in s.newScans {
            deliver(engine.observe(ScanEpisodeEvent(source: e.source, ipProtocol: e.ipProtocol, port: e.port, startNs: e.startNs,
                                                    packets: e.packets, destinations: UInt64(e.destinations),
                                                    internetRate: e.internetRate,
                                                    fingerprint: e.fingerprint == .none ? nil : e.fingerprint.name)))
        }
        for a in s.newAttacks {
            deliver(engine.observe(BackscatterVictimEvent(victim: a.victim, ipProtocol: a.ipProtocol, startNs: a.startNs,
                                                          packets: a.packets, peakRate: a.peakRate,
                                                          estimatedAttackRate: a.estimatedAttackRate)))
        }
        deliver(engine.closeWindows(throughNs: s.startNs + s.lengthNs))
        if let summary = gate.advance(toTimeNs: s.startNs + s.lengthNs) { emit(summary) }
    }

    /// The daemon's one-second timer (the aggregation thread's tick, with the wall clock):
    /// a rate-limit window that has ended gets its summary now, not with the next alert;
    /// then alerts waiting in a sink's retry queue are retried once their backoff is over.
    public mutating func tick(nowNs: Int64) {
        if let summary = gate.advance(toTimeNs: nowNs) { emit(summary) }
        retryDeliveries()
    }

    /// Keeps the window ledger in `directory` (the daemon's state directory). Call before
    /// `restore`. Returns why it cannot, if it cannot (the daemon runs on without one).
    public mutating func keepWindowLedger(in directory: String) -> String? {
        do {
            ledger = try WindowLedger(directory: directory)
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// The input has ended: remaining feed buckets, verdicts still waiting, the last rate-limit summary.
    public mutating func finish() {
        while nextFeed < pendingFeed.count {
            deliver(engine.observe(feed: pendingFeed[nextFeed]))
            nextFeed += 1
        }
        deliver(engine.finish())
        if let summary = gate.flush() { emit(summary) }
    }

    mutating func deliver(_ candidates: [Alert]) {
        for candidate in candidates {
            if candidate.rule == .scanCampaign, candidate.address == nil {
                // A window's scan summary: done from now on, whatever the gate decides.
                ledger?.record(.scanCampaign, windowStartNs: candidate.timeNs)
            }
            for alert in gate.submit(candidate) { emit(alert) }
        }
    }

    /// New thresholds (SIGHUP) without losing what the baselines learned.
    public mutating func reconfigure(engine config: AlertEngineConfig, gate gateConfig: AlertGateConfig, disabledRules: Set<String>) {
        engine = AlertEngine.restoring(state: engine, config: config)
        gate = AlertGate.restoring(state: gate, config: gateConfig)
        self.disabledRules = disabledRules
    }

    /// Puts back baselines and the dedup state from a snapshot, under the current configuration.
    /// Windows whose closing alerts the window ledger says were sent (by the process that
    /// ran after the snapshot was saved) are not summarized again.
    public mutating func restore(engine saved: AlertEngine, gate savedGate: AlertGate, engineConfig: AlertEngineConfig, gateConfig: AlertGateConfig) {
        engine = AlertEngine.restoring(state: saved, config: engineConfig)
        gate = AlertGate.restoring(state: savedGate, config: gateConfig)
        if let sent = ledger?.recorded {
            if let ns = sent.rateLimit { gate.forgetSummary(ofWindowStartingAtOrBefore: ns) }
            if let ns = sent.scanCampaign { engine.forgetScanWindow(startingAtOrBefore: ns) }
        }
    }

    public mutating func disable(_ rules: Set<String>) { disabledRules = rules }

    /// The daemon's timer: alerts waiting in a sink's retry queue are retried once its
    /// backoff is over, even when no new alert comes. Call it about once a second.
    public func retryDeliveries() { sinks?.retry() }

    /// At a stop: one last attempt at every queued alert, then one line per
    /// sink that still holds some, so that none is lost without a word
    /// (they are not persisted; docs/alerts.md). Returns the lines.
    public func undeliveredAtStop() -> [String] {
        guard let sinks else { return [] }
        sinks.retry()
        return sinks.all.compactMap { sink in
            let queued = sink.counters.queued
            guard queued > 0 else { return nil }
            return "alerts: \(queued) alert\(queued == 1 ? "" : "s") still queued for the \(sink.name) sink at stop, not delivered"
                + (sink.counters.lastError.map { " (last error: \($0))" } ?? "")
        }
    }

    mutating func emit(_ alert: Alert) {
        if alert.rule == .alertRateLimited { ledger?.record(.rateLimit, windowStartNs: alert.timeNs) }
        if disabledRules.contains(alert.rule.rawValue) {
            disabledCount += 1
            return
        }
        alertCount += 1
        if alerts.count >= keep { alerts.removeFirst(alerts.count - keep + 1) }
        alerts.append(alert)
        sinks?.send(alert)
    }
}

/// The start of the last window whose closing alerts went out, per kind: the rate limit's
/// summary and the `scan-campaign` window summaries. One fixed-size record, rewritten in
/// place by one `pwrite(2)` BEFORE the alerts are handed to the sinks: the kernel has it
/// once the call returns, so a daemon killed with SIGKILL right after still finds it
/// (a power loss may lose it; the snapshot may then be older and a summary be sent twice).
/// File `alert-windows` in the state directory, mode 0600:
/// `darknetd alert windows v1 rate_limit=NS scan_campaign=NS` padded with spaces to 128
/// bytes, `-` for a kind never recorded.
public final class WindowLedger: Sendable {
    public enum Kind: Sendable { case rateLimit, scanCampaign }
    public struct Recorded: Sendable, Equatable {
        public var rateLimit: Int64?
        public var scanCampaign: Int64?
    }
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    public let path: String
    let fd: Int32
    let state: Mutex<Recorded>
    static let recordSize = 128
    static let name = "alert-windows"

    init(directory: String) throws {
        let path = directory.hasSuffix("/") ? directory + WindowLedger.name : directory + "/" + WindowLedger.name
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw Failure(description: "\(path): \(String(cString: strerror(errno)))") }
        var bytes = [UInt8](repeating: 0, count: WindowLedger.recordSize)
        let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        self.path = path
        self.fd = fd
        state = Mutex(got > 0 ? WindowLedger.parse(Array(bytes.prefix(got))) : Recorded())
    }

    deinit { close(fd) }

    /// What the file said at start-up, updated by `record`.
    public var recorded: Recorded { state.withLock { $0 } }

    /// Notes that the closing alerts of the window starting at `windowStartNs` go out now.
    /// A failed write is not retried: the alert is sent all the same (at worst a restart
    /// from an older snapshot repeats it).
    func record(_ kind: Kind, windowStartNs: Int64) {
        let record = state.withLock { r -> [UInt8] in
            switch kind {
            case .rateLimit: r.rateLimit = max(r.rateLimit ?? .min, windowStartNs)
            case .scanCampaign: r.scanCampaign = max(r.scanCampaign ?? .min, windowStartNs)
            }
            return WindowLedger.format(r)
        }
        _ = record.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    static func format(_ r: Recorded) -> [UInt8] {
        let text = "darknetd alert windows v1 rate_limit=\(r.rateLimit.map(String.init) ?? "-")"
            + " scan_campaign=\(r.scanCampaign.map(String.init) ?? "-")"
        var bytes = Array(text.utf8.prefix(recordSize - 1))
        bytes += [UInt8](repeating: 0x20, count: recordSize - 1 - bytes.count)
        bytes.append(0x0A)
        return bytes
    }

    /// A record this code did not write (another version, damage) reads as nothing recorded.
    static func parse(_ bytes: [UInt8]) -> Recorded {
        let words = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard words.starts(with: ["darknetd", "alert", "windows", "v1"]) else { return Recorded() }
        var r = Recorded()
        for word in words.dropFirst(4) {
            let parts = word.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "rate_limit": r.rateLimit = Int64(parts[1])
            case "scan_campaign": r.scanCampaign = Int64(parts[1])
            default: continue
            }
        }
        return r
    }
}

/// Where alerts go besides the report: syslog and/or a JSON-lines file, each behind its own
/// retry queue (`AlertSink`): an alert a sink cannot take now waits there, in order, and is
/// retried by the next alert or by `retry` (the daemon's one-second tick).
public final class AlertSinks: Sendable {
    public let syslog: AlertSink?
    public let jsonLines: AlertSink?

    public init(syslog: AlertSink?, jsonLines: AlertSink?) {
        self.syslog = syslog
        self.jsonLines = jsonLines
    }

    /// The sinks with their metric labels, in a fixed order.
    public var all: [AlertSink] { [syslog, jsonLines].compactMap { $0 } }

    func send(_ alert: Alert) {
        let now = AlertSink.monotonicNs()
        for sink in all { sink.submit(alert, nowNs: now) }
    }

    /// Retries every sink whose backoff is over; cheap when nothing waits.
    public func retry(nowNs: Int64 = AlertSink.monotonicNs()) {
        for sink in all { sink.retry(nowNs: nowNs) }
    }
}
