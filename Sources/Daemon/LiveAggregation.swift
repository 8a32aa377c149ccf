import Aggregation
import Alerts
import Capture
import Configuration
import Correlation
import Decoding
import Feed
import Foundation
import GeoIP
import Interchange
import Pipeline
import Reporting
import Ring
import Synchronization

/// The capture side of the daemon's aggregation: one capture engine per
/// interface, each dealing records to one ring per aggregation shard by a
/// keyed hash of the source (`ShardRouter`). `rings[e][s]` is engine e's ring
/// to shard s.
public struct CaptureShards: Sendable {
    public let engines: [CaptureEngine]
    public let rings: [[SPSCRing<PacketRecord>]]
    public let shards: Int

    /// Engines for `handles` dealing to `shards` shards, with rings of
    /// `ringCapacity` slots each.
    public init(handles: [PcapHandle], shards: Int, config: AggregationConfig, darknet: DarknetPrefixes,
                ringCapacity: Int = 1 << 16) {
        precondition(shards >= 1, "at least one shard")
        self.shards = shards
        var engines: [CaptureEngine] = []
        var rings: [[SPSCRing<PacketRecord>]] = []
        for handle in handles {
            let own = (0..<shards).map { _ in SPSCRing<PacketRecord>(capacity: ringCapacity) }
            let router = ShardRouter(shards: shards, seed: config.hashSeed, bySourcePrefix: config.aggregateSourcePrefixes)
            engines.append(CaptureEngine(source: .live(handle), producer: ShardedProducer(rings: own), router: router,
                                         policy: .drop, darknet: darknet))
            rings.append(own)
        }
        self.engines = engines
        self.rings = rings
    }

    /// Shard `shard`'s rings, one per engine.
    func rings(ofShard shard: Int) -> [SPSCRing<PacketRecord>] { rings.map { $0[shard] } }
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
    /// Each aggregation shard's rings (all interfaces together) and packets.
    public var shards: [ShardStatus] = []
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

    public struct ShardStatus: Codable, Sendable {
        public var shard: Int
        /// Records the shard's aggregator has counted.
        public var packets: UInt64
        /// The shard's rings, one per interface, added up.
        public var ring: RingCounters
    }
}

/// The daemon's aggregation side: N shard threads (`ShardWorker`, the same
/// drain loop `analyze` runs) each drain their rings into their own
/// aggregator; this class's thread merges their closed buckets once every
/// shard has passed them (`BucketMerger`), follows the feed, runs the alert
/// stage, publishes state, and saves snapshots. An idle shard closes its
/// buckets by the wall clock. Other threads talk to it only through atomics
/// and mutex-guarded slots.
public final class LiveAggregation: @unchecked Sendable {
    // @unchecked Sendable: everything below `published` is touched by the
    // merging thread only (inside `loop`); other threads use the atomics,
    // `published` and the request slots.

    /// The merging view: no packet goes through it; it records the merged
    /// buckets (windows, series) and shows the shards' merged tables.
    var aggregator: Aggregator
    var stage: AlertStage
    var feedSeries: FeedSeries?
    let follower: FeedFollower?
    let capture: CaptureShards
    /// The shard workers, their merged buckets, counters and finished aggregators.
    var group: ShardGroup
    var workers: [ShardWorker] { group.workers }
    /// Per shard: its latest tables, its latest full tables, and whether
    /// each kind arrived since last asked.
    var latestTables: [ShardTables?]
    var latestFullTables: [ShardTables?]
    var lightArrived: [Bool]
    var fullArrived: [Bool]
    var lightOutstanding = false
    var fullOutstanding = false
    var finished: [Aggregator?] { group.finished }
    /// The merged light figures and the merged full tables last shown.
    var lightFigures = ShardTables()
    var fullFigures = ShardTables()
    var feedPushedIndex: Int64 = .min
    /// `stage.alertCount` already counted in `alertsByRule`.
    var alertsCounted: UInt64 = 0
    /// The live export (nil: none configured), and `stage.alertCount` already spooled.
    public let export: LiveExport?
    var alertsExported: UInt64 = 0
    var alertsByRule: [String: UInt64] = [:]
    /// Saves on its own thread (see `SnapshotWriter`); nil: no state directory.
    public let snapshots: SnapshotWriter<DaemonSnapshot>?
    let snapshotInterval: Duration
    let startedNs: Int64
    /// Busiest sources and ports the published state keeps.
    static let publishedRows = 1000

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

    /// - Parameters:
    ///   - view: the merging view (`Aggregator.mergingView`) under the run's
    ///     configuration, with any restored windows.
    ///   - config: the run's aggregation configuration; each shard runs
    ///     `config.shardConfiguration(shards:)`.
    init(view: Aggregator, config: AggregationConfig, geoip: GeoIPDatabase?, capture: CaptureShards, stage: AlertStage,
         feedSeries: FeedSeries?, follower: FeedFollower?, snapshots: SnapshotStore<DaemonSnapshot>?, snapshotInterval: Duration,
         export: LiveExport? = nil) {
        self.aggregator = view
        self.export = export
        self.stage = stage
        self.feedSeries = feedSeries
        self.follower = follower
        self.capture = capture
        let n = capture.shards
        let shardConfig = config.shardConfiguration(shards: n)
        let workers = (0..<n).map { i in
            ShardWorker(index: i, rings: capture.rings(ofShard: i), idleClock: { LiveAggregation.now() },
                        aggregator: Aggregator(config: shardConfig, geoip: geoip))
        }
        self.group = ShardGroup(workers: workers, config: config)
        self.latestTables = Array(repeating: nil, count: n)
        self.latestFullTables = Array(repeating: nil, count: n)
        self.lightArrived = Array(repeating: false, count: n)
        self.fullArrived = Array(repeating: false, count: n)
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

    /// Stops the capture engines, lets the shards drain what they captured,
    /// saves the state (and waits for the save to reach the disk); blocks until done.
    public func stopAndWait() {
        for engine in capture.engines { engine.stop() }
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
        var lastTick = ContinuousClock.now
        var lastSnapshot = ContinuousClock.now
        var lastFeedPoll = ContinuousClock.now - .seconds(10)
        let feedInterval = follower?.pollInterval ?? .milliseconds(200)
        publish(full: true)
        requestTables(full: true)
        while true {
            heartbeat.add(1, ordering: .relaxed)
            let handedIn = collect()
            processClosedBuckets(group.takeReady())
            showArrivedTables()
            let now = ContinuousClock.now
            if let follower, now - lastFeedPoll >= feedInterval {
                lastFeedPoll = now
                let events = follower.poll()
                if !events.isEmpty { feedSeries?.add(events) }
            }
            if reloadRequested.exchange(false, ordering: .relaxed) { reload() }
            if now - lastTick >= .seconds(1) {
                lastTick = now
                stage.tick(nowNs: LiveAggregation.now())
                requestTables(full: false)
                publish(full: false)
            }
            if snapshotRequested.exchange(false, ordering: .relaxed) || now - lastSnapshot >= snapshotInterval {
                lastSnapshot = now
                saveSnapshot()
            }
            if stopRequested.load(ordering: .relaxed) && group.allFinished { break }
            // The shards do the per-packet work; this thread merges at most
            // once a bucket and publishes once a second.
            if !handedIn { usleep(2_000) }
        }
        processClosedBuckets(group.takeAll())
        // Alerts raised after the last bucket (the timer's) go to the spool alone.
        export?.submit(bucket: nil, alerts: alertsToExport())
        // The final figures, from the finished shards themselves.
        let tables = finished.map { $0!.tables(topSources: LiveAggregation.publishedRows) }
        show(ShardTables.merging(tables, topSources: LiveAggregation.publishedRows))
        lightFigures = fullFigures
        for line in stage.undeliveredAtStop() {
            FileHandle.standardError.write(Data("darknetd: \(line)\n".utf8))
        }
        publish(full: true)
        saveSnapshot()
        snapshots?.flush()
    }

    /// Takes what every shard handed over; true if any shard handed in anything.
    func collect() -> Bool {
        let turn = group.collect()
        for (i, tables) in turn.tables {
            latestTables[i] = tables
            lightArrived[i] = true
            if tables.isFull {
                latestFullTables[i] = tables
                fullArrived[i] = true
            }
        }
        return turn.any
    }

    /// Asks every running shard for a copy of its tables: full (ports,
    /// countries, busiest sources) or light (counters and sketches). One
    /// request of a kind at a time.
    func requestTables(full: Bool) {
        if full {
            guard !fullOutstanding else { return }
            fullOutstanding = true
            for i in workers.indices { fullArrived[i] = finished[i] != nil }
        } else {
            guard !lightOutstanding else { return }
            lightOutstanding = true
            for i in workers.indices { lightArrived[i] = finished[i] != nil }
        }
        for (i, worker) in workers.enumerated() where finished[i] == nil {
            worker.requestTables(topSources: full ? LiveAggregation.publishedRows : 0)
        }
    }

    /// Merges the shards' copies once every shard has answered a request;
    /// a finished shard answers from its final aggregator.
    func showArrivedTables() {
        if fullOutstanding && !fullArrived.contains(false) {
            fullOutstanding = false
            let parts = workers.indices.map { i in
                finished[i]?.tables(topSources: LiveAggregation.publishedRows) ?? latestFullTables[i] ?? ShardTables()
            }
            show(ShardTables.merging(parts, topSources: LiveAggregation.publishedRows))
            publish(full: true)
        }
        if lightOutstanding && !lightArrived.contains(false) {
            lightOutstanding = false
            let parts = workers.indices.map { i in finished[i]?.tables(topSources: 0) ?? latestTables[i] ?? ShardTables() }
            lightFigures = ShardTables.merging(parts, topSources: 0)
            publish(full: false)
        }
    }

    func show(_ merged: ShardTables) {
        fullFigures = merged
        lightFigures = merged
        aggregator.show(merged)
    }

    /// Merged closed buckets go to the windows, then to the alert stage after
    /// the feed buckets that ended before them; then fresh tables are asked for.
    func processClosedBuckets(_ closed: [BucketSummary]) {
        guard !closed.isEmpty else { return }
        for summary in closed {
            aggregator.recordMerged(summary)
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
            // To the export's spool, with the alerts raised since the last entry: a file
            // write and its fsyncs; the database work is the flusher's, on its own task.
            export?.submit(bucket: summary, alerts: alertsToExport())
        }
        // Windows and alerts now; the tables as of this bucket once every shard has copied them.
        publish(full: true)
        requestTables(full: true)
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
        var total = PacketCounters()
        for (i, counters) in group.counters.enumerated() { total.merge(finished[i]?.counters ?? counters) }
        state.packets = PacketsSection(total)
        state.classes = lightFigures.classes
        state.sourcesEstimate = UInt64(lightFigures.distinctSources.estimate.rounded())
        state.bucketSeconds = a.buckets.lengthSeconds
        state.interfaces = capture.engines.enumerated().map { e, engine in
            let handle = engine.source.handles.first
            return PublishedState.InterfaceStatus(name: handle?.subject ?? "?", linkType: handle?.linkTypeName ?? "?",
                                                  packets: engine.packetsDelivered, kernel: engine.kernelStatistics,
                                                  ring: RingCounters.sum(capture.rings[e].map { $0.counters() }))
        }
        state.shards = (0..<capture.shards).map { i in
            PublishedState.ShardStatus(shard: i, packets: (finished[i]?.counters ?? group.counters[i]).total,
                                       ring: RingCounters.sum(capture.rings(ofShard: i).map { $0.counters() }))
        }
        state.feed = follower?.status
        state.scans = lightFigures.scans
        state.attacks = lightFigures.attacks
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
            if fullFigures.isFull {
                state.ports = a.ports.nonEmptyRows().prefix(LiveAggregation.publishedRows).map { PortRow(key: $0.key, row: $0.row) }
                state.topSources = fullFigures.topSources.map { SourceRow(entry: $0.entry, detail: $0.detail) }
                state.countries = CountriesSection(a)
            }
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

    /// The alerts the stage raised since the last call (of the last `keep` it holds).
    func alertsToExport() -> [Alert] {
        let fresh = stage.alertCount &- alertsExported
        alertsExported = stage.alertCount
        guard fresh > 0 else { return [] }
        return Array(stage.alerts.suffix(Int(min(fresh, UInt64(stage.alerts.count)))))
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
