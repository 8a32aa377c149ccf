import Dispatch
import Synchronization

/// Saves snapshots on a thread of its own, so the aggregation thread never
/// waits for an encoding or an fsync.
///
/// With the 24-hour window full, one save encodes and writes about 14.7 MB
/// and took 0.81 s in a release build (`darknet-stages`, docs/benchmarks.md).
/// Done inline, that stalled the ring's only consumer for 0.81 s every
/// `snapshot_interval`; a 65,536-record ring overflows in that time from
/// 81 kpps on. Building the payload takes microseconds (the windows and
/// alert state are values whose buffers are shared until next written), so
/// the aggregation thread only builds it and calls `submit`.
///
/// One save runs at a time. A payload submitted while another waits
/// replaces it (`superseded` counts those): only the newest state is worth
/// writing. `flush()` waits for the save in progress and the one waiting,
/// which the daemon does before it exits so the final state is on disk.
public final class SnapshotWriter<Payload: Codable & Sendable>: Sendable {
    public let store: SnapshotStore<Payload>
    let queue: DispatchQueue
    let pending = Mutex<Payload?>(nil)
    let state = Mutex(Counters())
    /// Runs after every save attempt with its outcome (bytes written, or
    /// the error), on the writer's thread: the daemon reports failures and
    /// returns the encoding's freed pages to the kernel there.
    let afterSave: @Sendable (Result<Int, SnapshotError>) -> Void

    /// What the writer has done, for logs and metrics.
    public struct Counters: Sendable, Equatable {
        public var saved = 0
        public var failed = 0
        /// Payloads replaced by a newer one before their save started.
        public var superseded = 0
        /// Duration and size of the last successful save (encode, write, fsync, rename).
        public var lastSaveSeconds: Double = 0
        public var lastBytes = 0
        public var lastError: SnapshotError?
    }

    public init(store: SnapshotStore<Payload>, afterSave: @escaping @Sendable (Result<Int, SnapshotError>) -> Void = { _ in }) {
        self.store = store
        self.afterSave = afterSave
        self.queue = DispatchQueue(label: "darknet-snapshot-writer", qos: .utility)
    }

    public var counters: Counters { state.withLock { $0 } }

    /// Queues `payload` for saving and returns at once.
    public func submit(_ payload: Payload) {
        let replaced = pending.withLock { slot -> Bool in
            defer { slot = payload }
            return slot != nil
        }
        if replaced {
            // The save already scheduled for the old payload takes this one.
            state.withLock { $0.superseded += 1 }
        } else {
            queue.async { self.saveWaiting() }
        }
    }

    /// Blocks until every submitted payload has been saved or superseded.
    public func flush() {
        queue.sync {}
    }

    func saveWaiting() {
        guard let payload = pending.withLock({ slot -> Payload? in
            defer { slot = nil }
            return slot
        }) else { return }
        let start = ContinuousClock.now
        let result: Result<Int, SnapshotError>
        do throws(SnapshotError) {
            result = .success(try store.save(payload))
        } catch {
            result = .failure(error)
        }
        let elapsed = ContinuousClock.now - start
        state.withLock { c in
            switch result {
            case .success(let bytes):
                c.saved += 1
                c.lastBytes = bytes
                c.lastSaveSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            case .failure(let error):
                c.failed += 1
                c.lastError = error
            }
        }
        afterSave(result)
    }
}
