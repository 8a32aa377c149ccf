import Aggregation
import Alerts
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One spool entry: a closed merged bucket and the alerts raised since the
/// previous entry (the bucket's own, and those the one-second timer raised
/// before it, such as a rate-limit summary). At a stop, alerts raised after
/// the last bucket go alone (`bucket` nil).
public struct SpoolEntry: Codable, Sendable, Equatable {
    public static let payloadVersion: UInt32 = 1
    public var bucket: BucketSummary?
    public var alerts: [Alert]

    public init(bucket: BucketSummary?, alerts: [Alert]) {
        self.bucket = bucket
        self.alerts = alerts
    }
}

/// The live export's durable queue: one file per entry in its own directory
/// (`STATE/spool/`), named by a sequence number that only grows
/// (`00000000000000000042.entry`), so the directory's order is the order the
/// buckets closed. Each file is a `SnapshotStore` frame (magic, versions,
/// length, CRC-32C) of a `SpoolEntry`, written to a temporary file, fsynced,
/// renamed into place and the directory fsynced before `append` returns: an
/// entry is either whole on disk or absent. An entry leaves the spool when the
/// database transaction storing it has committed (`remove`).
///
/// Bounded: once the entries' bytes pass `maxBytes`, the oldest are deleted
/// and counted (`dropped`), never the newest and never the one being written
/// to the database (so the bound may be passed by that one entry). A file
/// that does not check (damaged on disk) is moved to `spool/corrupt/`, logged
/// by the caller and counted; temporary files of a write a crash interrupted
/// are deleted at start. Nothing here traps or throws past its caller.
public final class ExportSpool: Sendable {
    public let directory: String
    public let maxBytes: Int
    /// Where entries that fail their checks are moved.
    public var corruptDirectory: String { directory + "/corrupt" }
    static let suffix = ".entry"
    static let temporaryPrefix = ".tmp."

    struct State {
        /// Entries on disk, oldest first: sequence number and size.
        var entries: [(sequence: UInt64, bytes: Int)] = []
        var head = 0
        var bytes = 0
        var nextSequence: UInt64 = 1
        /// The entry being written to the database: not dropped.
        var inFlight: UInt64?
        var counters = Counters()

        var count: Int { entries.count - head }
        mutating func compact() {
            if head > 1024 && head * 2 > entries.count {
                entries.removeFirst(head)
                head = 0
            }
        }
    }

    public struct Counters: Sendable, Equatable {
        /// Entries found in the spool at start (left by the previous run).
        public var recovered: UInt64 = 0
        /// Incomplete writes (temporary files) deleted at start.
        public var incompleteRemoved: UInt64 = 0
        /// Entries appended since start, and the bytes.
        public var appended: UInt64 = 0
        public var appendedBytes: UInt64 = 0
        /// Appends that failed (disk full, permissions): those entries are not exported.
        public var appendFailures: UInt64 = 0
        /// The oldest entries deleted because the spool was full.
        public var dropped: UInt64 = 0
        /// Entries that did not check, moved to `corrupt/`.
        public var corrupt: UInt64 = 0
        /// Entries the database refused for their content (a data or constraint error), moved to `corrupt/`.
        public var rejected: UInt64 = 0
        /// Entries removed after their transaction committed.
        public var committed: UInt64 = 0
        /// The last append's encode + write + fsync + rename + directory fsync, in seconds.
        public var lastAppendSeconds: Double = 0
        /// The longest append since start, in seconds.
        public var maxAppendSeconds: Double = 0
        /// Entries and bytes in the spool now.
        public var backlog: Int = 0
        public var backlogBytes: Int = 0
    }

    /// A spooled entry as read back for the flusher.
    public enum Read: Sendable {
        case entry(sequence: UInt64, SpoolEntry)
        /// The oldest file did not check: moved aside; `reason` says why.
        case corrupt(sequence: UInt64, reason: String)
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    let state = Mutex(State())

    /// Opens (creating, mode 0700) the spool directory and lists what a previous run left.
    public init(directory: String, maxBytes: Int) throws(Failure) {
        self.directory = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        self.maxBytes = maxBytes
        if mkdir(self.directory, 0o700) != 0 && errno != EEXIST {
            throw Failure(description: "spool directory \(self.directory): \(String(cString: strerror(errno)))")
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: self.directory)
        } catch {
            throw Failure(description: "spool directory \(self.directory): \((error as NSError).localizedDescription)")
        }
        var found: [(UInt64, Int)] = []
        var incomplete: UInt64 = 0
        for name in names {
            let path = self.directory + "/" + name
            if name.hasPrefix(ExportSpool.temporaryPrefix) {
                unlink(path)
                incomplete += 1
                continue
            }
            guard name.hasSuffix(ExportSpool.suffix), let sequence = UInt64(name.dropLast(ExportSpool.suffix.count)) else { continue }
            var status = stat()
            guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { continue }
            found.append((sequence, Int(status.st_size)))
        }
        found.sort { $0.0 < $1.0 }
        state.withLock { s in
            s.entries = found.map { (sequence: $0.0, bytes: $0.1) }
            s.bytes = found.reduce(0) { $0 + $1.1 }
            s.nextSequence = (found.last?.0 ?? 0) + 1
            s.counters.recovered = UInt64(found.count)
            s.counters.incompleteRemoved = incomplete
        }
    }

    func path(_ sequence: UInt64) -> String {
        let digits = String(sequence)
        return directory + "/" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ExportSpool.suffix
    }

    /// Counters, with the backlog as of now.
    public var counters: Counters {
        state.withLock { s in
            var c = s.counters
            c.backlog = s.count
            c.backlogBytes = s.bytes
            return c
        }
    }

    /// Entries waiting, oldest first (their sequence numbers).
    public var sequences: [UInt64] { state.withLock { s in s.entries[s.head...].map(\.sequence) } }

    /// Writes `entry` durably (see the type's comment), then drops the oldest
    /// entries beyond the bound. Returns the entry's sequence number and how
    /// many entries were dropped to make room.
    @discardableResult
    public func append(_ entry: SpoolEntry) throws(Failure) -> (sequence: UInt64, dropped: Int) {
        let clock = ContinuousClock()
        let started = clock.now
        let body: Data
        do {
            let encoder = PropertyListEncoder()
            encoder.outputFormat = .binary
            body = try encoder.encode(entry)
        } catch {
            state.withLock { $0.counters.appendFailures += 1 }
            throw Failure(description: "spool: cannot encode an entry: \(error)")
        }
        let bytes = SnapshotStore<SpoolEntry>.frame(payload: body, payloadVersion: SpoolEntry.payloadVersion)
        let sequence = state.withLock { s -> UInt64 in
            defer { s.nextSequence += 1 }
            return s.nextSequence
        }
        do {
            try AtomicFile.replace(bytes, to: path(sequence), directory: directory,
                                   temporaryPrefix: ExportSpool.temporaryPrefix + "\(sequence).")
        } catch {
            state.withLock { $0.counters.appendFailures += 1 }
            throw Failure(description: "spool: \(error)")
        }
        let took = clock.now - started
        let seconds = Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
        let dropped = state.withLock { s -> Int in
            s.entries.append((sequence, bytes.count))
            s.bytes += bytes.count
            s.counters.appended += 1
            s.counters.appendedBytes += UInt64(bytes.count)
            s.counters.lastAppendSeconds = seconds
            s.counters.maxAppendSeconds = max(s.counters.maxAppendSeconds, seconds)
            return dropOldest(&s)
        }
        return (sequence, dropped)
    }

    /// Deletes the oldest entries while the spool is over its bound, keeping
    /// the newest and the one in flight.
    func dropOldest(_ s: inout State) -> Int {
        var dropped = 0
        var index = s.head
        while s.bytes > maxBytes && s.count - dropped > 1 && index < s.entries.count - 1 {
            let victim = s.entries[index]
            if victim.sequence == s.inFlight {
                index += 1
                continue
            }
            unlink(path(victim.sequence))
            s.bytes -= victim.bytes
            s.entries.remove(at: index)
            dropped += 1
        }
        s.counters.dropped += UInt64(dropped)
        return dropped
    }

    /// The oldest entry, read and checked, marked in flight (not dropped until
    /// `remove` or `release`); nil when the spool is empty. A file that does
    /// not check is moved to `corrupt/` and reported, and leaves the queue.
    public func oldest() -> Read? {
        guard let (sequence, _) = state.withLock({ s -> (UInt64, Int)? in
            guard s.head < s.entries.count else { return nil }
            let first = s.entries[s.head]
            s.inFlight = first.sequence
            return (first.sequence, first.bytes)
        }) else { return nil }
        let store = SnapshotStore<SpoolEntry>(directory: directory, name: String(path(sequence).split(separator: "/").last!),
                                              payloadVersion: SpoolEntry.payloadVersion, maxBytes: 1 << 30)
        switch store.load() {
        case .restored(let entry):
            return .entry(sequence: sequence, entry)
        case .missing:
            forget(sequence)
            return .corrupt(sequence: sequence, reason: "the file is gone")
        case .rejected(let why):
            moveAside(sequence)
            return .corrupt(sequence: sequence, reason: why.description)
        }
    }

    /// The entry's transaction has committed: delete it.
    public func remove(_ sequence: UInt64) {
        unlink(path(sequence))
        state.withLock { s in
            if s.inFlight == sequence { s.inFlight = nil }
            if let index = s.entries[s.head...].firstIndex(where: { $0.sequence == sequence }) {
                s.bytes -= s.entries[index].bytes
                if index == s.head { s.head += 1 } else { s.entries.remove(at: index) }
                s.counters.committed += 1
                s.compact()
            }
        }
    }

    /// The entry could not be written now: it stays, first in line.
    public func release(_ sequence: UInt64) {
        state.withLock { s in
            if s.inFlight == sequence { s.inFlight = nil }
            _ = dropOldest(&s)
        }
    }

    func forget(_ sequence: UInt64) {
        state.withLock { s in
            if s.inFlight == sequence { s.inFlight = nil }
            if let index = s.entries[s.head...].firstIndex(where: { $0.sequence == sequence }) {
                s.bytes -= s.entries[index].bytes
                if index == s.head { s.head += 1 } else { s.entries.remove(at: index) }
            }
        }
    }

    func moveAside(_ sequence: UInt64, rejected: Bool = false) {
        let source = path(sequence)
        _ = mkdir(corruptDirectory, 0o700)
        if rename(source, corruptDirectory + "/" + String(source.split(separator: "/").last!)) != 0 { unlink(source) }
        forget(sequence)
        state.withLock { s in
            if rejected { s.counters.rejected += 1 } else { s.counters.corrupt += 1 }
        }
    }
}
