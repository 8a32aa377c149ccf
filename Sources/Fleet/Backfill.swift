import Aggregation
import Dispatch
import Synchronization

/// Runs `body` on the concurrency pool and waits for it on the calling
/// thread: for synchronous callers (the `analyze` command and its pipeline's
/// consumer thread). Never call it from inside an async context.
public func waitFor<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws(FleetError) -> T {
    let result = Mutex<Result<T, FleetError>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let outcome: Result<T, FleetError>
        do {
            outcome = .success(try await body())
        } catch {
            outcome = .failure(error as? FleetError ?? .server(sqlState: "", message: "\(error)"))
        }
        result.withLock { $0 = outcome }
        done.signal()
    }
    done.wait()
    return try result.withLock { $0! }.get()
}

/// `darknetd analyze --db`: writes every closed bucket of an offline run,
/// one at a time from the thread that closes them (the analysis waits for
/// each write, so memory stays flat however long the capture). The first
/// failure stops the writing; the caller reports it after the run.
public final class BackfillWriter: Sendable {
    public let sensor: String
    public var settings: ConnectionSettings { store.settings }
    let store: BucketStore
    struct Counts {
        var written = 0
        var alreadyStored = 0
        var failure: FleetError?
        var writeTime = Duration.zero
    }
    let counts = Mutex(Counts())

    /// Connects and checks that the schema is migrated (it does not migrate: that is `darknetd db migrate`).
    public init(settings: ConnectionSettings, sensor: String) throws(FleetError) {
        self.sensor = sensor
        let store = try waitFor { () async throws -> BucketStore in try await BucketStore.connectWriter(settings, sensor: sensor) }
        self.store = store
    }

    /// Buckets written as new, already there, and the failure that stopped the writing.
    public var written: Int { counts.withLock { $0.written } }
    public var alreadyStored: Int { counts.withLock { $0.alreadyStored } }
    public var failure: FleetError? { counts.withLock { $0.failure } }
    /// Time spent in the writes (each bucket's transaction, waited for), all together.
    public var writeSeconds: Double {
        let time = counts.withLock { $0.writeTime }
        return Double(time.components.seconds) + Double(time.components.attoseconds) / 1e18
    }

    /// Writes one bucket (skipped once a write has failed).
    public func write(_ bucket: BucketSummary) {
        guard failure == nil else { return }
        let store = self.store, sensor = self.sensor
        let clock = ContinuousClock()
        let started = clock.now
        do {
            let isNew = try waitFor { () async throws -> Bool in try await store.write(sensor: sensor, bucket: bucket) }
            let took = clock.now - started
            counts.withLock {
                if isNew { $0.written += 1 } else { $0.alreadyStored += 1 }
                $0.writeTime += took
            }
        } catch {
            counts.withLock { $0.failure = error }
        }
    }

    public func close() {
        let store = self.store
        _ = try? waitFor { () async throws in await store.close() }
    }
}
