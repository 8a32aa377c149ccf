import Dispatch
import Foundation
import Synchronization
import Testing
@testable import Daemon

/// The daemon's background snapshot writer: saves land on disk, a newer
/// payload replaces one still waiting, failures are counted, and `submit`
/// never waits for a save in progress.
@Suite(.timeLimit(.minutes(1))) struct SnapshotWriterTests {
    func payload(_ n: Int) -> SampleState {
        var s = sample
        s.bucket = Int64(n)
        s.note = "payload \(n)"
        return s
    }

    @Test func savedPayloadLoadsBack() throws {
        let dir = StateDirectory()
        let outcomes = Mutex<[Int]>([])
        let writer = SnapshotWriter(store: dir.store()) { result in
            if case .success(let bytes) = result { outcomes.withLock { $0.append(bytes) } }
        }
        writer.submit(payload(1))
        writer.flush()
        #expect(dir.store().load() == .restored(payload(1)))
        let c = writer.counters
        #expect(c.saved == 1 && c.failed == 0 && c.superseded == 0)
        let size = try bytes(of: dir.store().path).count
        #expect(c.lastBytes == size)
        #expect(outcomes.withLock { $0 } == [size])
        #expect(c.lastSaveSeconds > 0)
        #expect(dir.files == ["aggregator.snapshot"])
    }

    /// While one save is held in progress, `submit` returns at once, and of
    /// three payloads submitted meanwhile only the newest is written.
    @Test func newerPayloadReplacesOneStillWaiting() {
        let dir = StateDirectory()
        let firstDone = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let calls = Atomic<Int>(0)
        let writer = SnapshotWriter(store: dir.store()) { _ in
            if calls.add(1, ordering: .relaxed).newValue == 1 {
                firstDone.signal()
                release.wait()  // hold the writer thread inside the first save
            }
        }
        writer.submit(payload(1))
        firstDone.wait()
        // The writer thread is busy: these return without waiting for it.
        writer.submit(payload(2))
        writer.submit(payload(3))
        writer.submit(payload(4))
        #expect(writer.counters.superseded == 2)
        #expect(writer.counters.saved == 1)
        #expect(dir.store().load() == .restored(payload(1)))
        release.signal()
        writer.flush()
        #expect(writer.counters.saved == 2)
        #expect(calls.load(ordering: .relaxed) == 2)
        #expect(dir.store().load() == .restored(payload(4)))
    }

    @Test func failedSaveIsCountedAndReported() {
        let store = SnapshotStore<SampleState>(directory: "/nonexistent/darknetd-test", name: "s", payloadVersion: 1)
        let failures = Mutex<[SnapshotError]>([])
        let writer = SnapshotWriter(store: store) { result in
            if case .failure(let error) = result { failures.withLock { $0.append(error) } }
        }
        writer.submit(payload(1))
        writer.flush()
        writer.submit(payload(2))
        writer.flush()
        let c = writer.counters
        #expect(c.saved == 0 && c.failed == 2)
        #expect(c.lastError?.operation == "open")
        #expect(failures.withLock { $0.count } == 2)
        #expect(store.load() == .missing)
    }

    /// `flush` with nothing submitted returns; after a flush the writer still takes payloads.
    @Test func flushWhenIdle() {
        let dir = StateDirectory()
        let writer = SnapshotWriter(store: dir.store())
        writer.flush()
        #expect(writer.counters == SnapshotWriter<SampleState>.Counters())
        writer.submit(payload(7))
        writer.flush()
        #expect(dir.store().load() == .restored(payload(7)))
    }
}
