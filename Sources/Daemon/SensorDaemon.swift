import Aggregation
import Alerts
import Capture
import Configuration
import Decoding
import Feed
import Fleet
import Foundation
import GeoIP
import Interchange
import Logging
import Pipeline
import Reporting
import Ring
import ServiceLifecycle
import Sketches
import StatsWire
import Synchronization
import UnixSignals

/// `darknetd run`: opens the capture handles, drops privileges, restores
/// state, starts the capture threads, the aggregation thread and the stats
/// socket, tells systemd it is ready, then runs its long-lived parts under
/// swift-service-lifecycle until SIGTERM/SIGINT (graceful: capture stopped,
/// ring drained, state saved, socket removed). SIGHUP re-reads the feed and
/// the alert rules without touching the windows; SIGUSR1 saves a snapshot now.
public final class SensorDaemon: Sendable {
    public let configuration: SensorConfiguration
    public let configurationPath: String?
    let logger: Logger
    let notifier: SystemdNotifier
    /// The configuration in force: `configuration` plus what reloads applied (`ReloadPlan`).
    let running: Mutex<SensorConfiguration>

    public init(configuration: SensorConfiguration, configurationPath: String?, logger: Logger,
                notifier: SystemdNotifier = SystemdNotifier()) {
        self.configuration = configuration
        self.configurationPath = configurationPath
        self.logger = logger
        self.notifier = notifier
        self.running = Mutex(configuration)
    }

    public struct StartupError: Error, CustomStringConvertible {
        public var description: String
    }

    public func run() async throws {
        let c = configuration
        try c.validateForRun()
        // SIGTERM/SIGINT during start-up (before the service group traps them)
        // are remembered, and the group shuts down gracefully as soon as it runs.
        let handler: @convention(c) (Int32) -> Void = { _ in earlyStopSignal.store(true, ordering: .relaxed) }
        signal(SIGTERM, handler)
        signal(SIGINT, handler)
        // SIGHUP and SIGUSR1 would end the process (their default action) until
        // the service group traps them: ignored meanwhile, as there is nothing
        // to reload or save yet that start-up is not doing anyway.
        signal(SIGHUP, SIG_IGN)
        signal(SIGUSR1, SIG_IGN)

        // 1. Capture handles first: they need CAP_NET_RAW, which is dropped below.
        var handles: [PcapHandle] = []
        for interface in c.capture.interfaces {
            do {
                let handle = try PcapHandle.openLive(c.liveCaptureOptions(interface: interface))
                for warning in handle.warnings { logger.warning("\(warning.description)") }
                handles.append(handle)
            } catch {
                throw StartupError(description: error.description)
            }
        }
        let geoip: GeoIPDatabase?
        do {
            geoip = try c.geoip.database.map { try GeoIPDatabase(path: $0) }
        } catch {
            throw StartupError(description: "\(error)")
        }

        // The export's database settings and password, read before privileges are dropped
        // (the password file may be root's); a file that cannot be read stops the start.
        var exportSettings: ConnectionSettings?
        if let url = c.export.database.url {
            do {
                var settings = try ConnectionSettings(url: url)
                settings.password = try PasswordSource.read(file: c.export.database.passwordFile)
                exportSettings = settings
            } catch {
                throw StartupError(description: "export.database: \(error)")
            }
        }

        // 2. Privileges: before any other thread exists (capabilities are per thread).
        if let user = c.service.user {
            if geteuid() == 0 {
                do {
                    let report = try PrivilegeDrop.drop(to: user)
                    logger.info("dropped privileges", metadata: ["user": "\(user)", "uid": "\(report.uid)"])
                } catch {
                    throw StartupError(description: "\(error)")
                }
            } else {
                logger.notice("service.user is set but the daemon is not root; running as uid \(geteuid())")
            }
        }

        // 3. Aggregation, alerts, feed, restored state.
        let stateDirectoryReady: Bool
        do {
            try FileManager.default.createDirectory(atPath: c.state.directory, withIntermediateDirectories: true)
            stateDirectoryReady = true
        } catch {
            logger.warning("state directory unusable, snapshots disabled: \(error)")
            stateDirectoryReady = false
        }
        let hashKey = SensorDaemon.hashKey(c, stateDirectoryReady: stateDirectoryReady, logger: logger)
        var aggregationConfig = c.aggregationConfig(seedIfUnset: hashKey)
        aggregationConfig.closedBucketQueue = 4096
        // The daemon reads windows, not a whole-period series: keep the series to the longest window.
        aggregationConfig.maxSeriesBuckets = aggregationConfig.windowBuckets.max() ?? 1440
        var aggregator = Aggregator.mergingView(config: aggregationConfig, geoip: geoip)
        let (engineConfig, gateConfig, disabled) = c.alertConfigs()
        let sinks = try SensorDaemon.sinks(c, logger: logger)
        var stage = AlertStage(engine: engineConfig, gate: gateConfig, sinks: sinks)
        stage.disable(disabled)
        if stateDirectoryReady, let why = stage.keepWindowLedger(in: c.state.directory) {
            logger.warning("alert window ledger unusable; a restart may repeat a window's summary: \(why)")
        }

        var snapshots: SnapshotStore<DaemonSnapshot>?
        if stateDirectoryReady {
            let store = SnapshotStore<DaemonSnapshot>(directory: c.state.directory, name: "darknetd.state",
                                                      payloadVersion: DaemonSnapshot.payloadVersion)
            snapshots = store
            switch store.load() {
            case .restored(let saved) where (saved.hashKeyID ?? AggregationConfig().hashSeed.keyID) != aggregationConfig.hashSeed.keyID:
                logger.warning("saved state ignored: it was made under another hash key", metadata: [
                    "saved": "\(RFC3339.format(saved.savedNs))"])
            case .restored(let saved):
                let windowsRestored = aggregator.restoreWindows(saved.windows)
                stage.restore(engine: saved.alerts, gate: saved.gate, engineConfig: engineConfig, gateConfig: gateConfig)
                logger.info("state restored", metadata: ["saved": "\(RFC3339.format(saved.savedNs))",
                                                         "windows": "\(windowsRestored ? "restored" : "ignored (window settings changed)")"])
            case .missing:
                logger.info("no saved state; starting fresh", metadata: ["directory": "\(c.state.directory)"])
            case .rejected(let why):
                logger.warning("saved state ignored: \(why)")
            }
        }

        var follower: FeedFollower?
        var feedSeries: FeedSeries?
        if let path = c.feed.path {
            do {
                let format = try FeedFormat.named(c.feed.format.rawValue)
                let f = try FeedFollower(path: path, format: format,
                                         options: FeedReadOptions(maxLineLength: c.feed.maxLineBytes),
                                         pollInterval: .milliseconds(c.feed.pollMilliseconds))
                var series = FeedSeries(timeBuckets: aggregator.buckets, hasher: aggregationConfig.hashSeed)
                series.add(f.poll())
                follower = f
                feedSeries = series
                logger.info("feed loaded", metadata: ["path": "\(path)", "events": "\(f.status.events)"])
            } catch {
                throw StartupError(description: "feed: \(error)")
            }
        }

        // The live export: its spool in the state directory (durability needs one).
        var export: LiveExport?
        if let settings = exportSettings, let sensor = c.export.database.sensor {
            guard stateDirectoryReady else {
                throw StartupError(description: "export.database: the spool needs a usable state.directory (\(c.state.directory))")
            }
            let spool: ExportSpool
            do {
                spool = try ExportSpool(directory: c.state.directory + "/spool", maxBytes: c.export.database.spoolMaxBytes)
            } catch {
                throw StartupError(description: "export.database: \(error)")
            }
            let found = spool.counters
            if found.incompleteRemoved > 0 {
                logger.notice("export: removed \(found.incompleteRemoved) incomplete spool write\(found.incompleteRemoved == 1 ? "" : "s") left by a crash")
            }
            export = LiveExport(settings: settings, sensor: sensor, spool: spool,
                                maxBackoff: .seconds(c.export.database.retryMaxBackoffSeconds), logger: logger)
            logger.info("export to the fleet database", metadata: [
                "db": "\(settings.redactedURL)", "sensor": "\(sensor)", "spool": "\(spool.directory)",
                "recovered": "\(found.recovered) entries, \(found.backlogBytes) bytes"])
        }

        // 4. Capture threads, the aggregation shards and the merging thread.
        let shards = c.aggregation.threads.resolved(captureThreads: handles.count)
        let capture = CaptureShards(handles: handles, shards: shards, config: aggregationConfig, darknet: c.darknet.filter)
        let live = LiveAggregation(view: aggregator, config: aggregationConfig, geoip: geoip, capture: capture, stage: stage,
                                   feedSeries: feedSeries, follower: follower,
                                   snapshots: snapshots, snapshotInterval: .seconds(c.state.snapshotIntervalSeconds),
                                   export: export)
        logger.info("aggregation", metadata: ["threads": "\(shards)", "configured": "\(c.aggregation.threads)"])
        let captureThreads = capture.engines.map { $0.start() }
        export?.start()
        live.start()

        // 5. The stats socket.
        let server = StatsServer()
        do {
            try await server.start(path: c.stats.socket, mode: mode_t(c.stats.mode), group: c.stats.group,
                                   maxClients: c.stats.maxClients, idleTimeout: .seconds(c.stats.idleTimeoutSeconds),
                                   maxRequestBytes: c.stats.maxRequestBytes, provider: DaemonStatsProvider(live: live, notifier: notifier, sinks: sinks))
        } catch {
            live.stopAndWait()
            await export?.stop(grace: .zero)
            throw StartupError(description: "stats socket \(c.stats.socket): \(error)")
        }

        let interfaces = c.capture.interfaces.joined(separator: ",")
        // SIGHUP/SIGUSR1 are trapped (and queued until the service group reads them) before
        // READY=1: from the moment systemd may send a reload, none is lost.
        let operatorSignals = await UnixSignalsSequence(trapping: .sighup, .sigusr1)
        _ = notifier.ready(status: "capturing on \(interfaces)" + (follower != nil ? "; feed loaded" : ""))
        logger.info("darknetd running", metadata: ["interfaces": "\(interfaces)", "socket": "\(c.stats.socket)"])

        // 6. Long-lived parts under ServiceLifecycle until SIGTERM/SIGINT.
        let services: [any Service] = [
            HeartbeatService(live: live, notifier: notifier, watchdog: c.service.watchdog),
            OperatorSignalService(daemon: self, live: live, signals: operatorSignals),
        ]
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) },
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()

        // 7. Graceful shutdown.
        _ = notifier.stopping(status: "stopping: draining the ring and saving state")
        logger.info("stopping")
        live.stopAndWait()
        for thread in captureThreads { _ = thread.wait() }
        if let export {
            // What the database can take in a few seconds goes now; the rest stays spooled for the next start.
            await export.stop(grace: .seconds(5))
            let spooled = export.spool.counters
            logger.info("export stopped", metadata: ["written": "\(export.status.bucketsWritten) buckets",
                                                     "spooled": "\(spooled.backlog) entries left for the next start"])
        }
        await server.shutdown()
        logger.info("stopped", metadata: ["snapshots": "\(live.snapshotsSaved)"])
    }

    /// The alert engine's and gate's settings, and the disabled rules, from the configuration.
    /// The hashing key: `aggregation.hash_seed` if set, else the key kept in
    /// the state directory (made at the first start). Without a usable state
    /// directory, a random key for this run only (snapshots are off then anyway).
    static func hashKey(_ c: SensorConfiguration, stateDirectoryReady: Bool, logger: Logger) -> SeededHash {
        if let configured = c.aggregation.hashSeed { return configured }
        guard stateDirectoryReady else { return SeededHash.random() }
        do throws(SnapshotError) {
            switch try HashKeyFile.loadOrCreate(directory: c.state.directory) {
            case .loaded(let key):
                return key
            case .created(let key):
                logger.notice("made a new random hash key", metadata: ["path": "\(c.state.directory)/\(HashKeyFile.name)"])
                return key
            }
        } catch {
            logger.error("hash key unusable, using a random key for this run: \(error)")
            return SeededHash.random()
        }
    }

    static func sinks(_ c: SensorConfiguration, logger: Logger,
                      environment: [String: String] = ProcessInfo.processInfo.environment) throws -> AlertSinks {
        let delivery = DeliveryConfig(queueLimit: c.alerts.queueLimit,
                                      maxBackoffNs: c.alerts.retryMaxBackoffSeconds * 1_000_000_000)
        // One line when a sink goes down (at most one a minute) and one when it is back.
        let log: @Sendable (SinkEvent) -> Void = { event in
            switch event {
            case .down: logger.warning("\(event.text)")
            case .up: logger.notice("\(event.text)")
            }
        }
        var syslog: AlertSink?
        if c.alerts.syslog.enabled {
            let config = c.alerts.syslog.resolved(environment: environment)
            syslog = AlertSink(name: "syslog", transport: SyslogWriter(config: config), config: delivery, onEvent: log)
            logger.info("alerts to syslog", metadata: ["format": "\(config.format.rawValue)", "target": "\(config.target)"])
        }
        var json: AlertSink?
        if let path = c.alerts.jsonFile {
            do {
                json = AlertSink(name: "json_file", transport: try JSONLinesWriter(path: path), config: delivery, onEvent: log)
            } catch {
                throw StartupError(description: "alerts.json_file \(path): \(error)")
            }
        }
        return AlertSinks(syslog: syslog, jsonLines: json)
    }

    /// SIGHUP: re-read the feed, and the configuration file's alert rules
    /// (`ReloadPlan` says which keys a reload applies). A file that does not
    /// load is rejected as a whole: one error line, and the running
    /// configuration stays as it was. Changed keys that need a restart are
    /// named in the log, in the notify STATUS and in `darknetctl status`.
    func reload(_ live: LiveAggregation) {
        _ = notifier.reloading()
        guard let path = configurationPath else {
            live.requestReload(alerts: nil)
            logger.info("reloaded feed (no configuration file to re-read)")
            _ = notifier.ready(status: "reloaded")
            return
        }
        let fresh: SensorConfiguration
        do {
            fresh = try ConfigurationLoader.load(file: path)
        } catch {
            let problems = error.issues.count
            // One line, however many problems: `; ` between them.
            let problemsText = error.issues.map(\.description).joined(separator: "; ")
            logger.error("reload rejected, running configuration kept: \(path): \(problemsText)")
            _ = notifier.ready(status: "reload rejected (\(problems) problem\(problems == 1 ? "" : "s") in \(path)); running configuration kept"
                                 + SensorDaemon.pendingText(live.pendingRestart.withLock { $0 }))
            return
        }
        let plan = running.withLock { current in
            let plan = ReloadPlan(running: current, fresh: fresh)
            current = plan.running
            return plan
        }
        live.pendingRestart.withLock { $0 = plan.pendingRestart }
        live.requestReload(alerts: plan.running.alertConfigs())
        logger.info("reloaded feed and alert rules", metadata: [
            "changed": "\(plan.applied.isEmpty ? "none" : plan.applied.joined(separator: ","))"])
        if !plan.pendingRestart.isEmpty {
            logger.warning("pending restart: \(plan.pendingRestart.joined(separator: ", ")) changed in \(path) but take effect only when darknetd restarts")
        }
        _ = notifier.ready(status: "reloaded" + SensorDaemon.pendingText(plan.pendingRestart))
    }

    /// `; pending restart: a, b` for STATUS lines, empty when nothing waits.
    static func pendingText(_ keys: [String]) -> String {
        keys.isEmpty ? "" : "; pending restart: " + keys.joined(separator: ", ")
    }

    /// SIGUSR1: save the state now (before maintenance, or for a backup),
    /// on the snapshot writer's thread as every save.
    func saveSnapshotNow(_ live: LiveAggregation) {
        guard live.snapshots != nil else {
            logger.warning("snapshot requested, but no usable state directory: nothing saved")
            return
        }
        live.requestSnapshot()
        logger.info("snapshot requested")
    }
}

/// Set by SIGTERM/SIGINT before the service group took the signals over.
let earlyStopSignal = Atomic<Bool>(false)

/// WATCHDOG=1 at half of WatchdogSec while the aggregation thread moves,
/// STATUS= with the packet rate every few seconds.
struct HeartbeatService: Service {
    let live: LiveAggregation
    let notifier: SystemdNotifier
    let watchdog: Bool

    func run() async throws {
        // A stop requested during start-up: returning shuts the group down gracefully.
        if earlyStopSignal.load(ordering: .relaxed) { return }
        let watchdogInterval = watchdog ? notifier.watchdogInterval() : nil
        let tick: Duration = min(watchdogInterval ?? .seconds(5), .seconds(5))
        var lastBeat = live.heartbeat.load(ordering: .relaxed)
        var lastPackets: UInt64 = 0
        var lastStatus = ContinuousClock.now
        var lastWatchdog = ContinuousClock.now
        while !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: tick) }
            } catch {
                break
            }
            if Task.isShuttingDownGracefully { break }
            let now = ContinuousClock.now
            if let watchdogInterval, now - lastWatchdog >= watchdogInterval {
                let beat = live.heartbeat.load(ordering: .relaxed)
                if beat != lastBeat { _ = notifier.watchdog() }  // a stuck aggregation thread gets no ping
                lastBeat = beat
                lastWatchdog = now
            }
            if now - lastStatus >= .seconds(5) {
                let state = live.published.withLock { $0 }
                let seconds = Double((now - lastStatus).components.seconds) + Double((now - lastStatus).components.attoseconds) / 1e18
                let rate = Double(state.packets.total &- lastPackets) / max(seconds, 0.001)
                lastPackets = state.packets.total
                lastStatus = now
                let drops = state.interfaces.reduce(UInt64(0)) { $0 + $1.kernel.dropped + $1.ring.ringDropped }
                _ = notifier.status(String(format: "%.0f packets/s, %llu packets, %llu dropped, %llu alerts",
                                           rate, state.packets.total, drops, state.alerts?.count ?? 0)
                                    + SensorDaemon.pendingText(live.pendingRestart.withLock { $0 }))
            }
        }
    }
}

/// SIGHUP → reload; SIGUSR1 → save a snapshot now; until graceful shutdown.
struct OperatorSignalService: Service {
    let daemon: SensorDaemon
    let live: LiveAggregation
    /// Trapped before READY=1 (see `SensorDaemon.run`).
    let signals: UnixSignalsSequence

    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await signal in signals {
                if signal == .sigusr1 {
                    daemon.saveSnapshotNow(live)
                } else {
                    daemon.reload(live)
                }
            }
        }
    }
}
