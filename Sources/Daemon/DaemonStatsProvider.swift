import Aggregation
import Alerts
import Feed
import Foundation
import Interchange
import Pipeline
import Reporting
import Sketches
import StatsWire

/// What `darknetd run` keeps across restarts: the rolling windows and the
/// alert baselines/dedup state (docs/operations.md).
public struct DaemonSnapshot: Codable, Sendable {
    public static let payloadVersion: UInt32 = 1
    public var savedNs: Int64
    public var windows: [RollingWindow]
    public var alerts: AlertEngine
    public var gate: AlertGate
    /// `SeededHash.keyID` of the key the windows' sketches were made with;
    /// nil in snapshots from before it was recorded (made with the default key).
    public var hashKeyID: UInt64?

    public init(savedNs: Int64, windows: [RollingWindow], alerts: AlertEngine, gate: AlertGate, hashKeyID: UInt64? = nil) {
        self.savedNs = savedNs
        self.windows = windows
        self.alerts = alerts
        self.gate = gate
        self.hashKeyID = hashKeyID
    }
}

/// Serves the stats socket from the state the aggregation thread publishes:
/// encodes on the server's own thread, never touches the aggregator.
public struct DaemonStatsProvider: StatsProvider {
    let live: LiveAggregation
    /// Whose datagram counts the metrics show, when systemd supervises.
    let notifier: SystemdNotifier?
    let startedNs: Int64
    let version = SensorVersion.string
    /// The alert sinks, whose delivery counters the metrics show (their own locks: read from any thread).
    let sinks: AlertSinks?

    public init(live: LiveAggregation, notifier: SystemdNotifier? = nil, sinks: AlertSinks? = nil) {
        self.live = live
        self.notifier = notifier
        self.startedNs = live.startedNs
        self.sinks = sinks
    }

    public func respond(to command: String, arguments: [String: Int]) -> StatsReply {
        let state = live.published.withLock { $0 }
        let n = max(1, min(arguments["n"] ?? 20, 1000))
        switch command {
        case "status":
            return .data(encode(Status(version: version, uptimeSeconds: Double(LiveAggregation.now() - startedNs) / 1e9,
                                       started: RFC3339.format(startedNs), interfaces: state.interfaces, shards: state.shards,
                                       packets: state.packets, feed: state.feed, alerts: state.alerts?.count ?? 0,
                                       snapshotsSaved: live.snapshotsSaved,
                                       pendingRestart: live.pendingRestart.withLock { $0 },
                                       export: live.export.map(ExportStatus.init))))
        case "stats":
            return .data(encode(Stats(bucketSeconds: state.bucketSeconds, window: state.window, sinceStart: state.packets,
                                      classes: state.classes, sources: state.sourcesEstimate, scans: state.scans,
                                      attacks: state.attacks, alerts: state.alerts?.count ?? 0, alertsByRule: state.alertsByRule)))
        case "top-ports":
            return .data(encode(Rows(rows: Array(state.ports.prefix(n)))))
        case "top-sources":
            return .data(encode(Rows(rows: Array(state.topSources.prefix(n)))))
        case "countries":
            return .data(encode(Rows(rows: Array((state.countries?.rows ?? []).prefix(n)))))
        case "series":
            return .data(encode(Series(bucketSeconds: state.bucketSeconds, buckets: Array(state.series.suffix(n)))))
        case "alerts":
            return .data(DaemonStatsProvider.alerts(count: state.alerts?.count ?? 0, rows: state.alertRecords.suffix(n)))
        case "correlation":
            return .data(encode(Rows(rows: state.correlation)))
        case "feed":
            return .data(encode(FeedReply(configured: state.feed != nil, status: state.feed)))
        case "metrics":
            return .text(DaemonStatsProvider.metrics(state, notifier: notifier, snapshots: live.snapshots?.counters,
                                                           sinks: sinks?.all.map { ($0.name, $0.counters) } ?? [],
                                                           export: live.export.map(ExportStatus.init)))
        default:
            return .unknown
        }
    }

    func encode<T: Encodable>(_ value: T) -> Data { Data(StreamingJSON.encode(value).utf8) }

    struct Status: Encodable {
        var version: String
        var uptimeSeconds: Double
        var started: String
        var interfaces: [PublishedState.InterfaceStatus]
        /// The aggregation shards: each one's rings (all interfaces) and packets.
        var shards: [PublishedState.ShardStatus]
        var packets: PacketsSection
        var feed: FeedStatusBox?
        var alerts: UInt64
        var snapshotsSaved: Int
        /// Keys a reload found changed that take effect only at the next start.
        var pendingRestart: [String]
        /// The live export to the fleet database, when configured.
        var export: ExportStatus?

        init(version: String, uptimeSeconds: Double, started: String, interfaces: [PublishedState.InterfaceStatus],
             shards: [PublishedState.ShardStatus], packets: PacketsSection, feed: FeedStatus?, alerts: UInt64, snapshotsSaved: Int,
             pendingRestart: [String], export: ExportStatus? = nil) {
            self.export = export
            self.version = version
            self.uptimeSeconds = uptimeSeconds
            self.started = started
            self.interfaces = interfaces
            self.shards = shards
            self.packets = packets
            self.feed = feed.map(FeedStatusBox.init)
            self.alerts = alerts
            self.snapshotsSaved = snapshotsSaved
            self.pendingRestart = pendingRestart
        }

        enum CodingKeys: String, CodingKey {
            case version, started, interfaces, shards, packets, feed, alerts, export
            case uptimeSeconds = "uptime_seconds"
            case snapshotsSaved = "snapshots_saved"
            case pendingRestart = "pending_restart"
        }
    }

    /// The live export's state as `status` shows it (docs/fleet.md, "Live export"). The
    /// spool's counters add up: `recovered_entries + spooled_entries = committed_entries +
    /// dropped_entries + corrupt_entries + rejected_entries + spool_entries`.
    struct ExportStatus: Encodable {
        /// The database URL as it may be shown (it never holds a password).
        var database: String
        var sensor: String
        /// `writing` (the last attempt succeeded), `failing`, or `starting` (no attempt yet).
        var state: String
        var spoolEntries: Int
        var spoolBytes: Int
        var spoolMaxBytes: Int
        var recoveredEntries: UInt64
        var spooledEntries: UInt64
        var spoolWriteFailures: UInt64
        var droppedEntries: UInt64
        var corruptEntries: UInt64
        var rejectedEntries: UInt64
        var committedEntries: UInt64
        var bucketsWritten: UInt64
        var bucketsAlreadyStored: UInt64
        var alertsWritten: UInt64
        var failures: UInt64
        var lastSuccess: String?
        var lastError: String?
        var lastErrorTime: String?
        var lastAppendSeconds: Double
        var maxAppendSeconds: Double
        var lastWriteSeconds: Double

        init(_ export: LiveExport) {
            let status = export.status
            let spool = export.spool.counters
            database = export.settings.redactedURL
            sensor = export.sensor
            state = status.up.map { $0 ? "writing" : "failing" } ?? "starting"
            spoolEntries = spool.backlog
            spoolBytes = spool.backlogBytes
            spoolMaxBytes = export.spool.maxBytes
            recoveredEntries = spool.recovered
            spooledEntries = spool.appended
            spoolWriteFailures = spool.appendFailures
            droppedEntries = spool.dropped
            corruptEntries = spool.corrupt
            rejectedEntries = spool.rejected
            committedEntries = spool.committed
            bucketsWritten = status.bucketsWritten
            bucketsAlreadyStored = status.bucketsAlreadyStored
            alertsWritten = status.alertsWritten
            failures = status.failures
            lastSuccess = status.lastSuccessNs.map { RFC3339.format($0) }
            lastError = status.lastError
            lastErrorTime = status.lastErrorNs.map { RFC3339.format($0) }
            lastAppendSeconds = spool.lastAppendSeconds
            maxAppendSeconds = spool.maxAppendSeconds
            lastWriteSeconds = status.lastWriteSeconds
            lastSuccessNs = status.lastSuccessNs
        }
        /// For the metrics only.
        var lastSuccessNs: Int64?

        enum CodingKeys: String, CodingKey {
            case database, sensor, state, failures
            case spoolEntries = "spool_entries", spoolBytes = "spool_bytes", spoolMaxBytes = "spool_max_bytes"
            case recoveredEntries = "recovered_entries", spooledEntries = "spooled_entries", spoolWriteFailures = "spool_write_failures"
            case droppedEntries = "dropped_entries", corruptEntries = "corrupt_entries", rejectedEntries = "rejected_entries"
            case committedEntries = "committed_entries", bucketsWritten = "buckets_written"
            case bucketsAlreadyStored = "buckets_already_stored", alertsWritten = "alerts_written"
            case lastSuccess = "last_success", lastError = "last_error", lastErrorTime = "last_error_time"
            case lastAppendSeconds = "last_append_seconds", maxAppendSeconds = "max_append_seconds"
            case lastWriteSeconds = "last_write_seconds"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(database, forKey: .database)
            try c.encode(sensor, forKey: .sensor)
            try c.encode(state, forKey: .state)
            try c.encode(spoolEntries, forKey: .spoolEntries)
            try c.encode(spoolBytes, forKey: .spoolBytes)
            try c.encode(spoolMaxBytes, forKey: .spoolMaxBytes)
            try c.encode(recoveredEntries, forKey: .recoveredEntries)
            try c.encode(spooledEntries, forKey: .spooledEntries)
            try c.encode(spoolWriteFailures, forKey: .spoolWriteFailures)
            try c.encode(droppedEntries, forKey: .droppedEntries)
            try c.encode(corruptEntries, forKey: .corruptEntries)
            try c.encode(rejectedEntries, forKey: .rejectedEntries)
            try c.encode(committedEntries, forKey: .committedEntries)
            try c.encode(bucketsWritten, forKey: .bucketsWritten)
            try c.encode(bucketsAlreadyStored, forKey: .bucketsAlreadyStored)
            try c.encode(alertsWritten, forKey: .alertsWritten)
            try c.encode(failures, forKey: .failures)
            // Explicit nulls: "never" is an answer an operator should see.
            if let lastSuccess { try c.encode(lastSuccess, forKey: .lastSuccess) } else { try c.encodeNil(forKey: .lastSuccess) }
            if let lastError { try c.encode(lastError, forKey: .lastError) } else { try c.encodeNil(forKey: .lastError) }
            if let lastErrorTime { try c.encode(lastErrorTime, forKey: .lastErrorTime) } else { try c.encodeNil(forKey: .lastErrorTime) }
            try c.encode(lastAppendSeconds, forKey: .lastAppendSeconds)
            try c.encode(maxAppendSeconds, forKey: .maxAppendSeconds)
            try c.encode(lastWriteSeconds, forKey: .lastWriteSeconds)
        }
    }

    struct FeedStatusBox: Encodable {
        var status: FeedStatus
        init(_ status: FeedStatus) { self.status = status }
        func encode(to encoder: any Encoder) throws { try status.encode(to: encoder) }
    }

    struct Stats: Encodable {
        var bucketSeconds: Int64
        var window: PublishedState.WindowFigures
        var sinceStart: PacketsSection
        var classes: ClassCounts
        var sources: UInt64
        var scans: UInt64
        var attacks: UInt64
        var alerts: UInt64
        var alertsByRule: [String: UInt64]
        enum CodingKeys: String, CodingKey {
            case window, classes, sources, scans, attacks, alerts
            case bucketSeconds = "bucket_seconds"
            case sinceStart = "since_start"
            case alertsByRule = "alerts_by_rule"
        }
    }

    struct Rows<T: Encodable>: Encodable { var rows: [T] }

    struct Series: Encodable {
        var bucketSeconds: Int64
        var buckets: [SeriesSection.Bucket]
        enum CodingKeys: String, CodingKey { case buckets; case bucketSeconds = "bucket_seconds" }
    }

    /// `{"count":N,"rows":[...]}`, each row exactly the object the JSON-lines
    /// alert file holds (`AlertJSON`): one shape for an alert wherever it is read.
    static func alerts(count: UInt64, rows: some Collection<Alert>) -> Data {
        let encoder = AlertJSON.encoder()
        var out = Data("{\"count\":\(count),\"rows\":[".utf8)
        for (i, alert) in rows.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append((try? encoder.encode(alert)) ?? Data("null".utf8))
        }
        out.append(contentsOf: "]}".utf8)
        return out
    }

    struct FeedReply: Encodable {
        var configured: Bool
        var status: FeedStatusBox?
        init(configured: Bool, status: FeedStatus?) {
            self.configured = configured
            self.status = status.map(FeedStatusBox.init)
        }
    }

    /// Prometheus text exposition of the counters (node_exporter textfile collector or a scrape).
    static func metrics(_ s: PublishedState, notifier: SystemdNotifier? = nil,
                        snapshots: SnapshotWriter<DaemonSnapshot>.Counters? = nil,
                        sinks: [(name: String, counters: SinkCounters)] = [],
                        export: ExportStatus? = nil) -> String {
        var m = PrometheusText()
        m.single("darknet_packets_total", .counter, help: "Records read from the capture, decodable or not.", value: Double(s.packets.total))
        m.single("darknet_packets_decoded_total", .counter, help: "Records with an IP header decoded.", value: Double(s.packets.decoded))
        m.single("darknet_bytes_total", .counter, help: "Wire bytes of all records.", value: Double(s.packets.bytes))
        m.family("darknet_decode_errors_total", .counter, help: "Records not decoded, or not darknet traffic (dst-outside-darknet, src-inside-darknet), by reason.",
                 samples: s.packets.decodeErrors.sorted { $0.key < $1.key }.map { ([("reason", $0.key)], Double($0.value)) })
        m.family("darknet_class_packets_total", .counter, help: "Decoded packets by traffic class.",
                 samples: TrafficClass.allCases.map { ([("class", $0.name)], Double(s.classes[$0])) })
        m.family("darknet_kernel_received_total", .counter, help: "Packets the kernel delivered to the capture socket.",
                 samples: s.interfaces.map { ([("interface", $0.name)], Double($0.kernel.received)) })
        m.family("darknet_kernel_dropped_total", .counter, help: "Packets the kernel dropped for lack of buffer.",
                 samples: s.interfaces.map { ([("interface", $0.name)], Double($0.kernel.dropped)) })
        m.family("darknet_interface_dropped_total", .counter, help: "Packets the interface or driver dropped.",
                 samples: s.interfaces.map { ([("interface", $0.name)], Double($0.kernel.interfaceDropped)) })
        m.family("darknet_ring_dropped_total", .counter, help: "Records dropped because the ring was full.",
                 samples: s.interfaces.map { ([("interface", $0.name)], Double($0.ring.ringDropped)) })
        m.family("darknet_shard_packets_total", .counter, help: "Records counted by each aggregation shard.",
                 samples: s.shards.map { ([("shard", "\($0.shard)")], Double($0.packets)) })
        m.family("darknet_shard_ring_dropped_total", .counter, help: "Records dropped because a shard's ring was full (all interfaces).",
                 samples: s.shards.map { ([("shard", "\($0.shard)")], Double($0.ring.ringDropped)) })
        m.single("darknet_sources_estimate", .gauge, help: "Distinct sources since start (HyperLogLog, 0.81% standard error).",
                 value: Double(s.sourcesEstimate))
        m.single("darknet_window_packets", .gauge, help: "Packets in the first rolling window.", value: Double(s.window.packets))
        m.single("darknet_scan_episodes_total", .counter, help: "Scan episodes found.", value: Double(s.scans))
        m.single("darknet_backscatter_attacks_total", .counter, help: "DoS attacks inferred from backscatter.", value: Double(s.attacks))
        m.single("darknet_alerts_total", .counter,
                 help: "Alerts raised (past dedup and the rate limit); deliveries: darknet_alert_sink_sent_total.",
                 value: Double(s.alerts?.count ?? 0))
        m.family("darknet_alerts_by_rule_total", .counter, help: "Alerts raised (past dedup and the rate limit), by rule.",
                 samples: s.alertsByRule.sorted { $0.key < $1.key }.map { ([("rule", $0.key)], Double($0.value)) })
        if !sinks.isEmpty {
            func family(_ name: String, _ type: PrometheusText.MetricType, _ help: String, _ value: (SinkCounters) -> Double) {
                m.family(name, type, help: help, samples: sinks.map { ([("sink", $0.name)], value($0.counters)) })
            }
            family("darknet_alert_sink_sent_total", .counter, "Alerts the sink's destination accepted.") { Double($0.sent) }
            family("darknet_alert_sink_failed_attempts_total", .counter,
                   "Delivery attempts that failed (the alert stays queued and is retried).") { Double($0.failedAttempts) }
            family("darknet_alert_sink_queued", .gauge, "Alerts waiting in the sink's retry queue.") { Double($0.queued) }
            family("darknet_alert_sink_dropped_total", .counter,
                   "Alerts given up: the oldest of a full retry queue, or refused for good (too large).") { Double($0.dropped) }
            family("darknet_alert_sink_up", .gauge, "1 while the sink's last attempt succeeded, 0 while it is down.") { $0.down ? 0 : 1 }
        }
        if let feed = s.feed {
            m.single("darknet_feed_events_total", .counter, help: "Feed events imported.", value: Double(feed.events))
            m.single("darknet_feed_skipped_lines_total", .counter, help: "Feed lines skipped as bad.", value: Double(feed.skippedTotal))
        }
        if let e = export {
            m.single("darknet_export_up", .gauge, help: "1 while the export's last database attempt succeeded, 0 while it fails or before the first.",
                     value: e.state == "writing" ? 1 : 0)
            m.single("darknet_export_spool_entries", .gauge, help: "Entries (a bucket and its alerts) waiting in the export spool.",
                     value: Double(e.spoolEntries))
            m.single("darknet_export_spool_bytes", .gauge, help: "Bytes of the entries waiting in the export spool.", value: Double(e.spoolBytes))
            m.single("darknet_export_spool_recovered_entries", .gauge, help: "Entries found in the spool at start (left by the previous run).",
                     value: Double(e.recoveredEntries))
            m.single("darknet_export_spooled_total", .counter, help: "Entries appended to the spool (written and fsynced) since start.",
                     value: Double(e.spooledEntries))
            m.single("darknet_export_spool_write_failures_total", .counter, help: "Entries that could not be written to the spool (not exported).",
                     value: Double(e.spoolWriteFailures))
            m.single("darknet_export_dropped_total", .counter, help: "Oldest spool entries deleted because the spool was full (not exported).",
                     value: Double(e.droppedEntries))
            m.single("darknet_export_corrupt_total", .counter, help: "Spool entries that did not check (moved to spool/corrupt).",
                     value: Double(e.corruptEntries))
            m.single("darknet_export_rejected_total", .counter, help: "Spool entries the database refused for their content (moved to spool/corrupt).",
                     value: Double(e.rejectedEntries))
            m.single("darknet_export_committed_total", .counter, help: "Spool entries whose database transaction committed.",
                     value: Double(e.committedEntries))
            m.single("darknet_export_buckets_written_total", .counter, help: "Buckets stored as new in the fleet database.",
                     value: Double(e.bucketsWritten))
            m.single("darknet_export_buckets_already_stored_total", .counter,
                     help: "Buckets the fleet database already held (a rewrite after a restart).", value: Double(e.bucketsAlreadyStored))
            m.single("darknet_export_alerts_written_total", .counter, help: "Alerts in committed spool entries.", value: Double(e.alertsWritten))
            m.single("darknet_export_failures_total", .counter, help: "Failed attempts to connect to or write to the fleet database.",
                     value: Double(e.failures))
            m.single("darknet_export_last_success_timestamp_seconds", .gauge,
                     help: "Unix time of the last committed entry (0: none since start).", value: Double(e.lastSuccessNs ?? 0) / 1e9)
            m.single("darknet_export_last_append_seconds", .gauge, help: "Encode, write, fsync and rename time of the last spool append.",
                     value: e.lastAppendSeconds)
        }
        if let notifier, notifier.isEnabled {
            m.single("darknet_systemd_notify_sent_total", .counter, help: "sd_notify datagrams sent.", value: Double(notifier.sentCount))
            m.single("darknet_systemd_notify_failed_total", .counter,
                     help: "sd_notify datagrams not sent (socket full or gone).", value: Double(notifier.errorCount))
        }
        if let snapshots {
            m.single("darknet_snapshots_saved_total", .counter, help: "State snapshots written.", value: Double(snapshots.saved))
            m.single("darknet_snapshot_failures_total", .counter, help: "State snapshots that could not be written.",
                     value: Double(snapshots.failed))
            m.single("darknet_snapshots_superseded_total", .counter,
                     help: "Snapshots replaced by a newer one before their save began.", value: Double(snapshots.superseded))
            m.single("darknet_snapshot_last_save_seconds", .gauge,
                     help: "Encode, write and fsync time of the last snapshot (on the writer thread).", value: snapshots.lastSaveSeconds)
            m.single("darknet_snapshot_last_bytes", .gauge, help: "Size of the last snapshot written.", value: Double(snapshots.lastBytes))
        }
        return m.text
    }
}
