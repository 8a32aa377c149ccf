import Aggregation
import Alerts
import Fleet
import Foundation
import Interchange
import Logging
import Synchronization

/// `darknetd run`'s export to the fleet database: the merging thread appends
/// each closed bucket and its alerts to the durable `ExportSpool` (`submit`),
/// and a flusher task writes the spool's entries in order through
/// `BucketStore`, one transaction an entry, removing each once it has
/// committed. While the database is away the flusher retries with a capped
/// exponential backoff (0.25 s doubling up to `maxBackoff`) on a new
/// connection, and the spool keeps the entries; capture and aggregation never
/// wait for it. One log line when the export starts failing, one when it
/// recovers; the rest is in `status` and the metrics (docs/fleet.md, "Live export").
public final class LiveExport: Sendable {
    public let settings: ConnectionSettings
    public let sensor: String
    public let spool: ExportSpool
    let maxBackoff: Duration
    let logger: Logger
    let state = Mutex(Status())
    let stopRequested = Atomic<Bool>(false)
    /// Once set, the flusher gives up at this instant even if entries remain (they stay spooled).
    let drainDeadline = Mutex<ContinuousClock.Instant?>(nil)
    let task = Mutex<Task<Void, Never>?>(nil)

    /// What `status` and the metrics show besides the spool's own counters.
    public struct Status: Sendable {
        /// Whether the flusher's last attempt succeeded (nil before the first attempt).
        public var up: Bool?
        public var bucketsWritten: UInt64 = 0
        public var bucketsAlreadyStored: UInt64 = 0
        public var alertsWritten: UInt64 = 0
        /// Attempts (connect or write) that failed.
        public var failures: UInt64 = 0
        public var lastSuccessNs: Int64?
        public var lastError: String?
        public var lastErrorNs: Int64?
        /// The last committed entry's transaction, in seconds.
        public var lastWriteSeconds: Double = 0
    }

    public init(settings: ConnectionSettings, sensor: String, spool: ExportSpool, maxBackoff: Duration, logger: Logger) {
        self.settings = settings
        self.sensor = sensor
        self.spool = spool
        self.maxBackoff = maxBackoff
        self.logger = logger
    }

    public var status: Status { state.withLock { $0 } }

    // MARK: the merging thread's side

    /// Appends a closed bucket with the alerts raised since the last entry
    /// (`bucket` nil: alerts alone, at a stop). Called on the merging thread:
    /// a file write and two fsyncs, no database work. A failed append is
    /// logged and counted; the aggregation goes on.
    public func submit(bucket: BucketSummary?, alerts: [Alert]) {
        let entry = SpoolEntry(bucket: bucket, alerts: alerts)
        if entry.bucket == nil && entry.alerts.isEmpty { return }
        do {
            let (_, dropped) = try spool.append(entry)
            if dropped > 0 {
                logger.warning("export: spool full (\(spool.maxBytes) bytes): dropped the \(dropped) oldest entr\(dropped == 1 ? "y" : "ies") (\(spool.counters.dropped) since start)")
            }
        } catch {
            let failures = spool.counters.appendFailures
            // One line for the first failure, then one every 100.
            if failures == 1 || failures % 100 == 0 {
                logger.error("export: \(error) (\(failures) entr\(failures == 1 ? "y" : "ies") not spooled since start)")
            }
        }
    }

    // MARK: the flusher

    /// Starts the flusher task.
    public func start() {
        let work = Task.detached { [self] in await flush() }
        task.withLock { $0 = work }
    }

    /// Stops the flusher: with the database up it first writes what the spool
    /// holds, for at most `grace`; whatever is left stays for the next start.
    public func stop(grace: Duration) async {
        drainDeadline.withLock { $0 = ContinuousClock.now + grace }
        stopRequested.store(true, ordering: .relaxed)
        let work = task.withLock { $0 }
        await work?.value
    }

    func flush() async {
        var store: BucketStore?
        var backoff: Duration = .milliseconds(250)
        var failing = false
        while true {
            if stopRequested.load(ordering: .relaxed) {
                let deadline = drainDeadline.withLock { $0 } ?? .now
                if failing || spool.counters.backlog == 0 || ContinuousClock.now >= deadline { break }
            }
            guard let read = spool.oldest() else {
                try? await Task.sleep(for: .milliseconds(50))
                continue
            }
            let sequence: UInt64, entry: SpoolEntry
            switch read {
            case .corrupt(let number, let reason):
                logger.error("export: spool entry \(number) unreadable, moved to \(spool.corruptDirectory): \(reason)")
                continue
            case .entry(let number, let value):
                sequence = number
                entry = value
            }
            let clock = ContinuousClock()
            let started = clock.now
            do {
                if store == nil { store = try await BucketStore.connectWriter(settings, sensor: sensor) }
                let outcome = try await store!.write(sensor: sensor, bucket: entry.bucket, alerts: entry.alerts)
                spool.remove(sequence)
                let took = clock.now - started
                state.withLock { s in
                    s.up = true
                    if let isNew = outcome.bucketIsNew {
                        if isNew { s.bucketsWritten += 1 } else { s.bucketsAlreadyStored += 1 }
                    }
                    s.alertsWritten += UInt64(outcome.alerts)
                    s.lastSuccessNs = LiveAggregation.now()
                    s.lastWriteSeconds = Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
                }
                if failing {
                    failing = false
                    let failures = state.withLock { $0.failures }
                    logger.notice("export: writing to \(settings.redactedURL) again (\(failures) failed attempts since start; \(spool.counters.backlog) entries still spooled)")
                }
                backoff = .milliseconds(250)
            } catch {
                if case .server(let sqlState, _) = error, sqlState.hasPrefix("22") || sqlState.hasPrefix("23") {
                    // The database refuses this entry's content: retrying cannot help; keep it aside.
                    spool.moveAside(sequence, rejected: true)
                    logger.error("export: the database refused spool entry \(sequence), moved to \(spool.corruptDirectory): \(error)")
                    continue
                }
                spool.release(sequence)
                if let open = store { await open.close() }
                store = nil
                let text = "\(error)"
                state.withLock { s in
                    s.up = false
                    s.failures += 1
                    s.lastError = text
                    s.lastErrorNs = LiveAggregation.now()
                }
                if !failing {
                    failing = true
                    logger.error("export: cannot write to the fleet database, keeping buckets in the spool and retrying (up to every \(maxBackoff)): \(text)")
                }
                await pause(backoff)
                backoff = min(backoff * 2, maxBackoff)
            }
        }
        if let store { await store.close() }
    }

    /// Sleeps `duration` in short steps, ending early once a stop is requested.
    func pause(_ duration: Duration) async {
        let end = ContinuousClock.now + duration
        while ContinuousClock.now < end && !stopRequested.load(ordering: .relaxed) {
            try? await Task.sleep(for: min(.milliseconds(100), end - ContinuousClock.now))
        }
    }

}
