import Aggregation
import Alerts
import Capture
import Configuration
import Correlation
import Decoding
import Feed
import Foundation
import Interchange
import Pipeline
import Reporting
import Ring
import Synchronization

/// One capture ring's consumer end (a class, so an array can hold the
/// non-copyable `Consumer`).
final class RingDrain {
    var consumer: SPSCRing<PacketRecord>.Consumer
    let ring: SPSCRing<PacketRecord>
    let engine: CaptureEngine

    init(ring: SPSCRing<PacketRecord>, engine: CaptureEngine) {
        self.ring = ring
        self.consumer = ring.makeConsumer()
        self.engine = engine
    }
}

/// What the aggregation thread publishes for readers (the stats socket,
/// notify STATUS lines): immutable values, replaced as a whole. Readers
/// never touch the aggregator.
public struct PublishedState: Sendable {
    public var publishedNs: Int64 = 0
    public var packets = PacketsSection(PacketCounters())
    public var classes = ClassCounts()
    public var sourcesEstimate: UInt64 = 0
    public var window = WindowFigures()
    public var interfaces: [InterfaceStatus] = []
    public var ports: [PortRow] = []
    public var topSources: [SourceRow] = []
    public var countries: CountriesSection?
    public var series: [SeriesSection.Bucket] = []
    public var alerts: AlertsSection?
    /// The last alerts raised (at most 1000), as the JSON-lines sink writes them: what `alerts` answers.
    public var alertRecords: [Alert] = []
    public var correlation: [SeriesCorrelation] = []
    public var feed: FeedStatus?
    /// Scan episodes and backscatter attacks found since start (counted when they qualify).
    public var scans: UInt64 = 0
    public var attacks: UInt64 = 0
    /// Alerts raised since start (past dedup and the rate limit), by rule id; every rule, zero or not.
    public var alertsByRule: [String: UInt64] = Dictionary(uniqueKeysWithValues: AlertRuleID.allCases.map { ($0.rawValue, 0) })
    public var bucketSeconds: Int64 = 60

    public struct WindowFigures: Codable, Sendable {
        public var buckets = 0
        public var packets: UInt64 = 0
        public var bytes: UInt64 = 0
        public var decoded: UInt64 = 0
        public var sources: UInt64 = 0
        public var classes = ClassCounts()
    }

    public struct InterfaceStatus: Codable, Sendable {
        public var name: String
        public var linkType: String
        public var packets: UInt64
        public var kernel: KernelStatistics
        public var ring: RingCounters
        enum CodingKeys: String, CodingKey { case name, packets, kernel, ring; case linkType = "link_type" }
    }
}

/// The daemon's aggregation side on its own thread: drains every capture
/// ring, follows the feed, closes buckets on the clock, runs the alert
/// stage, publishes state, and saves snapshots. Other threads talk to it
/// only through atomics and one mutex-guarded request slot.
public final class LiveAggregation: @unchecked Sendable {
    // @unchecked Sendable: everything below `state` is touched by the
    // aggregation thread only (inside `loop`); other threads use the
    // atomics, `requests` and `published`.
    var aggregator: Aggregator
    var stage: AlertStage
    var feedSeries: FeedSeries?
    let follower: FeedFollower?
    let drains: [RingDrain]
    var feedPushedIndex: Int64 = .min
    /// `stage.alertCount` already counted in `alertsByRule`.
    var alertsCounted: UInt64 = 0
    var alertsByRule: [String: UInt64] = [:]
    /// Saves on its own thread (see `SnapshotWriter`); nil: no state directory.
    public let snapshots: SnapshotWriter<DaemonSnapshot>?
    let snapshotInterval: Duration
    let startedNs: Int64

    public let published = Mutex(PublishedState())
    let stopRequested = Atomic<Bool>(false)
    let reloadRequested = Atomic<Bool>(false)
    let snapshotRequested = Atomic<Bool>(false)
    /// Bumped by every loop turn: the watchdog only pings while it moves.
    public let heartbeat = Atomic<UInt64>(0)
    /// Configuration keys changed by a reload that take effect only at the next start (`ReloadPlan`).
    public let pendingRestart = Mutex<[String]>([])
    let pendingAlertConfig = Mutex<(AlertEngineConfig, AlertGateConfig, Set<String>)?>(nil)
    private let done = DispatchSemaphore(value: 0)
    /// Snapshots written so far (0 without a state directory).
    public var snapshotsSaved: Int { snapshots?.counters.saved ?? 0 }

    init(aggregator: Aggregator, stage: AlertStage, feedSeries: FeedSeries?, follower: FeedFollower?, drains: [RingDrain],
         snapshots: SnapshotStore<DaemonSnapshot>?, snapshotInterval: Duration) {
        self.aggregator = aggregator
        self.stage = stage
        self.feedSeries = feedSeries
        self.follower = follower
        self.drains = drains
        self.snapshots = snapshots.map { store in
            SnapshotWriter(store: store) { result in
                if case .failure(let error) = result {
                    FileHandle.standardError.write(Data("darknetd: snapshot not saved: \(error)\n".utf8))
                }
                // The encoding's freed blocks back to the kernel (MemoryPolicy).
                MemoryPolicy.releaseFreedMemory()
            }
        }
        self.snapshotInterval = snapshotInterval
        self.startedNs = LiveAggregation.now()
    }

    static func now() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }

    func start() {
        let thread = Thread { [self] in
            loop()
            done.signal()
        }
        thread.name = "darknet-aggregation"
        thread.start()
    }

    /// Stops the capture engines, drains what they captured, saves the state
    /// (and waits for the save to reach the disk); blocks until done.
    public func stopAndWait() {
        for d in drains { d.engine.stop() }
        stopRequested.store(true, ordering: .relaxed)
        done.wait()
    }

    public func requestReload(alerts: (AlertEngineConfig, AlertGateConfig, Set<String>)?) {
        if let alerts { pendingAlertConfig.withLock { $0 = alerts } }
        reloadRequested.store(true, ordering: .relaxed)
    }

    public func requestSnapshot() { snapshotRequested.store(true, ordering: .relaxed) }

    // MARK: the loop

    func loop() {
        var idle = 0
        var lastTick = ContinuousClock.now
        var lastSnapshot = ContinuousClock.now
        var lastFeedPoll = ContinuousClock.now - .seconds(10)
        let feedInterval = follower?.pollInterval ?? .milliseconds(200)
        publish(full: true)
        while true {
            heartbeat.add(1, ordering: .relaxed)
            var took = 0
            for d in drains {
                took += d.consumer.drain(limit: 4096) { aggregator.consume($0) }
            }
            processClosedBuckets()
            let now = ContinuousClock.now
            if let follower, now - lastFeedPoll >= feedInterval {
                lastFeedPoll = now
                let events = follower.poll()
                if !events.isEmpty { feedSeries?.add(events) }
            }
            if reloadRequested.exchange(false, ordering: .relaxed) { reload() }
            if now - lastTick >= .seconds(1) {
                lastTick = now
                aggregator.advance(to: LiveAggregation.now())
                processClosedBuckets()
                stage.tick(nowNs: LiveAggregation.now())
                publish(full: false)
            }
            if snapshotRequested.exchange(false, ordering: .relaxed) || now - lastSnapshot >= snapshotInterval {
                lastSnapshot = now
                saveSnapshot()
            }
            if took == 0 {
                if stopRequested.load(ordering: .relaxed) && drains.allSatisfy({ $0.consumer.isFinished }) { break }
                idle += 1
                backoffPause(idle)
            } else {
                idle = 0
            }
        }
        aggregator.finish()
        processClosedBuckets()
        for line in stage.undeliveredAtStop() {
            FileHandle.standardError.write(Data("darknetd: \(line)\n".utf8))
        }
        publish(full: true)
        saveSnapshot()
        snapshots?.flush()
    }

    /// Closed sensor buckets go to the alert stage, after the feed buckets that ended before them.
    func processClosedBuckets() {
        let closed = aggregator.takeClosedBuckets()
        guard !closed.isEmpty else { return }
        for summary in closed {
            if let series = feedSeries {
                let seconds = series.timeBuckets.lengthSeconds
                for bucket in series.orderedBuckets where bucket.index > feedPushedIndex && bucket.startNs <= summary.startNs {
                    stage.addFeedBucket(bucket, bucketSeconds: seconds)
                    feedPushedIndex = bucket.index
                }
                // Keep the feed's buckets for the longest window only.
                let keep = Int64(aggregator.config.windowBuckets.max() ?? 1440) * aggregator.buckets.lengthNs
                feedSeries?.removeBuckets(before: summary.startNs - keep)
            }
            stage.process(summary)
        }
        publish(full: true)
    }

    func reload() {
        follower?.requestReread()
        if feedSeries != nil {
            feedSeries = FeedSeries(timeBuckets: aggregator.buckets, hasher: aggregator.config.hashSeed)
            feedPushedIndex = .min
        }
        if let (engine, gate, disabled) = pendingAlertConfig.withLock({ value -> (AlertEngineConfig, AlertGateConfig, Set<String>)? in
            defer { value = nil }
            return value
        }) {
            stage.reconfigure(engine: engine, gate: gate, disabledRules: disabled)
        }
    }

    // MARK: publishing

    func publish(full: Bool) {
        let a = aggregator
        var state = published.withLock { $0 }
        state.publishedNs = LiveAggregation.now()
        state.packets = PacketsSection(a.counters)
        state.classes = a.classes
        state.sourcesEstimate = UInt64(a.distinctSources.estimate.rounded())
        state.bucketSeconds = a.buckets.lengthSeconds
        state.interfaces = drains.map { d in
            let handle = d.engine.source.handles.first
            return PublishedState.InterfaceStatus(name: handle?.subject ?? "?", linkType: handle?.linkTypeName ?? "?",
                                                  packets: d.engine.packetsDelivered, kernel: d.engine.kernelStatistics,
                                                  ring: d.ring.counters())
        }
        state.feed = follower?.status
        state.scans = a.scans.episodeCount
        state.attacks = a.backscatter.attackCount
        countNewAlerts()
        for (rule, count) in alertsByRule { state.alertsByRule[rule] = count }
        if full {
            if let window = a.windows.first {
                let totals = window.totals()
                state.window = .init(buckets: window.summaries.count, packets: totals.counters.total, bytes: totals.counters.bytes,
                                     decoded: totals.counters.decoded, sources: UInt64(totals.sources.estimate.rounded()),
                                     classes: totals.classes)
                state.series = window.summaries.map { s in
                    SeriesSection.Bucket(start: RFC3339.format(s.startNs), packets: s.counters.total, bytes: s.counters.bytes,
                                         decoded: s.counters.decoded, tcp: s.counters.tcp, udp: s.counters.udp, icmp: s.counters.icmp,
                                         icmpv6: s.counters.icmpv6, sources: UInt64(s.sources.estimate.rounded()), classes: s.classes,
                                         ports: s.ports.prefix(a.config.seriesTopPorts).map {
                                             SeriesSection.Bucket.Port(proto: ProtocolName.name($0.key.ipProtocol), port: $0.key.port, packets: $0.packets)
                                         },
                                         portCount: s.portCount)
                }
            }
            state.ports = a.ports.nonEmptyRows().prefix(1000).map { PortRow(key: $0.key, row: $0.row) }
            state.topSources = a.topSourceRows(1000).map { SourceRow(entry: $0.entry, detail: $0.detail) }
            state.countries = CountriesSection(a)
            state.alerts = AlertsSection(stage, last: 1000)
            state.alertRecords = Array(stage.alerts.suffix(1000))
            if let series = feedSeries, let status = follower?.status {
                var options = FeedComparison.Options()
                options.listLimit = 20
                state.correlation = FeedComparison(aggregator: a, feed: series, status: status, options: options).correlation
            }
        }
        published.withLock { $0 = state }
    }

    /// Adds the alerts the stage raised since the last call to `alertsByRule`
    /// (the stage keeps its last `keep` alerts, far more than pass the rate limit between two calls).
    func countNewAlerts() {
        let fresh = stage.alertCount &- alertsCounted
        guard fresh > 0 else { return }
        for alert in stage.alerts.suffix(Int(min(fresh, UInt64(stage.alerts.count)))) {
            alertsByRule[alert.rule.rawValue, default: 0] &+= 1
        }
        alertsCounted = stage.alertCount
    }

    // MARK: snapshots

    /// Hands the state to the snapshot writer: the windows and the alert
    /// state are values, so this copies no table (see `SnapshotWriter`).
    func saveSnapshot() {
        guard let snapshots else { return }
        snapshots.submit(DaemonSnapshot(savedNs: LiveAggregation.now(), windows: aggregator.windows,
                                        alerts: stage.engine, gate: stage.gate, hashKeyID: aggregator.config.hashSeed.keyID))
    }
}
