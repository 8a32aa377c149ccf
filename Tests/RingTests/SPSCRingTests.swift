import Foundation
import Synchronization
import Testing
@testable import Ring

/// Runs `body` on a new thread; returns a function that waits for it.
func spawn(_ body: @escaping @Sendable () -> Void) -> () -> Void {
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        body()
        done.signal()
    }
    thread.stackSize = 1 << 20
    thread.start()
    return { done.wait() }
}

@Suite struct SPSCRingTests {
    @Test func capacityIsRoundedToPowerOfTwo() {
        #expect(SPSCRing<UInt64>(capacity: 1).capacity == 2)
        #expect(SPSCRing<UInt64>(capacity: 1000).capacity == 1024)
        #expect(SPSCRing<UInt64>(capacity: 4096).capacity == 4096)
    }

    @Test func dropsAndCountsWhenFull() {
        let ring = SPSCRing<UInt64>(capacity: 8)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        var accepted = 0
        for i in 0..<20 {
            if producer.stage(policy: .drop, { $0 = UInt64(i) }) { accepted += 1 }
        }
        producer.publish()
        #expect(accepted == 8)
        #expect(ring.counters() == RingCounters(captured: 20, consumed: 0, ringDropped: 12, inFlight: 8))

        var seen: [UInt64] = []
        consumer.drain(limit: 5) { span in for i in span.indices { seen.append(span[i]) } }
        #expect(seen == [0, 1, 2, 3, 4])
        #expect(ring.counters() == RingCounters(captured: 20, consumed: 5, ringDropped: 12, inFlight: 3))

        // Wrap around: 5 free slots again.
        for i in 100..<106 { producer.stage(policy: .drop) { $0 = UInt64(i) } }
        producer.publish()
        seen.removeAll()
        var runs = 0
        consumer.drain { span in
            runs += 1
            for i in span.indices { seen.append(span[i]) }
        }
        #expect(seen == [5, 6, 7, 100, 101, 102, 103, 104])
        #expect(runs == 2)  // the batch straddles the end of the storage
        let c = ring.counters()
        #expect(c == RingCounters(captured: 26, consumed: 13, ringDropped: 13, inFlight: 0))
        #expect(c.captured == c.consumed + c.ringDropped + c.inFlight)
    }

    /// An idle consumer backs off to 1 ms sleeps (an idle daemon used 14 % of a
    /// core polling every 50 µs), but only after ~100 ms of idleness, and the
    /// first sleeps stay at 50 µs so a busy pipeline's waits stay short.
    @Test func backoffSleepGrowsToItsCap() {
        #expect(backoffSleepMicroseconds(64) == 50)
        #expect(backoffSleepMicroseconds(127) == 50)
        #expect(backoffSleepMicroseconds(128) == 100)
        #expect(backoffSleepMicroseconds(192) == 200)
        #expect(backoffSleepMicroseconds(320) == 800)
        #expect(backoffSleepMicroseconds(384) == 1_000)
        #expect(backoffSleepMicroseconds(Int.max) == 1_000)
        // Time asleep before the sleeps reach the cap: 64 of each step.
        let asleep = (64..<384).reduce(0) { $0 + Int(backoffSleepMicroseconds($1)) }
        #expect(asleep == 64 * (50 + 100 + 200 + 400 + 800))
    }

    @Test func unpublishedRecordsAreInvisible() {
        let ring = SPSCRing<UInt64>(capacity: 4)
        var producer = ring.makeProducer()
        var consumer = ring.makeConsumer()
        producer.stage(policy: .drop) { $0 = 1 }
        let beforePublish = consumer.drain { _ in }
        #expect(beforePublish == 0)
        producer.publish()
        let afterPublish = consumer.drain { _ in }
        #expect(afterPublish == 1)
        let finishedEarly = consumer.isFinished
        #expect(!finishedEarly)
        producer.finish()
        let finished = consumer.isFinished
        #expect(finished)
        #expect(ring.isDrained)
    }

    /// Two threads, `.wait` policy: every record arrives once, in order, and a
    /// third thread reading counters meanwhile always sees the invariant hold.
    @Test func waitPolicyLosesNothingAcrossThreads() {
        let total: UInt64 = 300_000
        let ring = SPSCRing<UInt64>(capacity: 1024)
        let violations = Atomic<Int>(0)
        let reads = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)

        let joinProducer = spawn {
            var producer = ring.makeProducer()
            var next: UInt64 = 0
            while next < total {
                for _ in 0..<64 where next < total {
                    producer.stage(policy: .wait) { $0 = next }
                    next += 1
                }
                producer.publish()
            }
            producer.finish()
        }
        let joinReader = spawn {
            while !stop.load(ordering: .relaxed) {
                let c = ring.counters()
                if c.captured != c.consumed + c.ringDropped + c.inFlight {
                    violations.add(1, ordering: .relaxed)
                }
                reads.add(1, ordering: .relaxed)
            }
        }
        let outOfOrder = Atomic<Int>(0)
        let received = Atomic<UInt64>(0)
        let joinConsumer = spawn {
            var consumer = ring.makeConsumer()
            var expected: UInt64 = 0
            var idle = 0
            while !consumer.isFinished {
                let n = consumer.drain { span in
                    for i in span.indices {
                        if span[i] != expected { outOfOrder.add(1, ordering: .relaxed) }
                        expected = span[i] &+ 1
                    }
                }
                if n == 0 { idle += 1; backoffPause(idle) } else { idle = 0 }
            }
            received.store(expected, ordering: .relaxed)
        }
        joinProducer()
        joinConsumer()
        stop.store(true, ordering: .relaxed)
        joinReader()

        #expect(outOfOrder.load(ordering: .relaxed) == 0)
        #expect(received.load(ordering: .relaxed) == total)
        #expect(violations.load(ordering: .relaxed) == 0)
        #expect(reads.load(ordering: .relaxed) > 0)
        #expect(ring.counters() == RingCounters(captured: total, consumed: total, ringDropped: 0, inFlight: 0))
    }

    /// `.drop` policy against a consumer that stalls: the producer never
    /// blocks, drops are counted, what arrives is in order, and the counters
    /// add up exactly afterwards.
    @Test func dropPolicyWithStalledConsumerAddsUp() {
        let total: UInt64 = 200_000
        let ring = SPSCRing<UInt64>(capacity: 256)
        let received = Atomic<UInt64>(0)
        let outOfOrder = Atomic<Int>(0)

        let joinProducer = spawn {
            var producer = ring.makeProducer()
            var next: UInt64 = 0
            while next < total {
                for _ in 0..<32 where next < total {
                    producer.stage(policy: .drop) { $0 = next }
                    next += 1
                }
                producer.publish()
            }
            producer.finish()
        }
        let joinConsumer = spawn {
            var consumer = ring.makeConsumer()
            var last: UInt64? = nil
            var count: UInt64 = 0
            var batches = 0
            while !consumer.isFinished {
                batches += 1
                if batches % 50 == 0 { usleep(2_000) }  // the stall
                consumer.drain(limit: 64) { span in
                    for i in span.indices {
                        if let l = last, span[i] <= l { outOfOrder.add(1, ordering: .relaxed) }
                        last = span[i]
                        count += 1
                    }
                }
            }
            received.store(count, ordering: .relaxed)
        }
        joinProducer()
        joinConsumer()
        let c = ring.counters()
        #expect(outOfOrder.load(ordering: .relaxed) == 0)
        #expect(c.captured == total)
        #expect(c.consumed == received.load(ordering: .relaxed))
        #expect(c.inFlight == 0)
        #expect(c.ringDropped > 0)
        #expect(c.captured == c.consumed + c.ringDropped + c.inFlight)
    }
}
