import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What the producer does when the ring is full.
public enum FullRingPolicy: Sendable {
    /// Live capture: never block the capture thread; drop the record and count it.
    case drop
    /// Offline replay: wait for the consumer, so a replay loses nothing and
    /// gives the same numbers every time.
    case wait
}

/// A consistent view of the ring's counters. `captured == consumed +
/// ringDropped + inFlight` holds for every snapshot (see `SPSCRing.counters()`).
public struct RingCounters: Sendable, Equatable, Codable {
    /// Records offered to the ring by the producer.
    public var captured: UInt64
    /// Records the consumer has taken out.
    public var consumed: UInt64
    /// Records the producer dropped because the ring was full.
    public var ringDropped: UInt64
    /// Published records not yet consumed.
    public var inFlight: UInt64

    public init(captured: UInt64, consumed: UInt64, ringDropped: UInt64, inFlight: UInt64) {
        self.captured = captured
        self.consumed = consumed
        self.ringDropped = ringDropped
        self.inFlight = inFlight
    }

    enum CodingKeys: String, CodingKey {
        case captured, consumed
        case ringDropped = "ring_dropped"
        case inFlight = "in_flight"
    }

    /// Several rings' counters added: the identity holds for the sum as it
    /// does for each (the shards' rings, in total).
    public static func sum(_ parts: [RingCounters]) -> RingCounters {
        parts.reduce(RingCounters(captured: 0, consumed: 0, ringDropped: 0, inFlight: 0)) {
            RingCounters(captured: $0.captured &+ $1.captured, consumed: $0.consumed &+ $1.consumed,
                         ringDropped: $0.ringDropped &+ $1.ringDropped, inFlight: $0.inFlight &+ $1.inFlight)
        }
    }
}

/// 64 bytes of padding: keeps the indices that the two threads write on
/// separate cache lines (no false sharing). Swift lays out a final class's
/// stored properties in declaration order.
@usableFromInline
struct CacheLinePad: Sendable {
    @usableFromInline var a: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    @usableFromInline init() {}
}

/// Lock-free single-producer / single-consumer ring of trivially copyable
/// elements (rigtorp's design): power-of-two capacity, free-running indices
/// masked on access, each index written by one side only, the other side's
/// index cached locally, one release store per published batch.
///
/// Obtain the one `Producer` and the one `Consumer` with `makeProducer()`
/// and `makeConsumer()`;
/// they are non-copyable, so the type system keeps the "single" in SPSC.
public final class SPSCRing<Element: BitwiseCopyable>: @unchecked Sendable {
    // @unchecked Sendable: slots are written only by the producer between its
    // tail and the consumer's head, read only by the consumer between head and
    // tail; the acquire/release pairs on `tail` and `head` order those accesses.

    public let capacity: Int
    @usableFromInline let mask: Int
    @usableFromInline let slots: UnsafeMutablePointer<Element>

    @usableFromInline let _pad0 = CacheLinePad()
    /// Written by the producer only (release), read by the consumer (acquire).
    @usableFromInline let tail = Atomic<Int>(0)
    /// Producer-side counters, published together with `tail` under `sequence`.
    @usableFromInline let captured = Atomic<UInt64>(0)
    @usableFromInline let dropped = Atomic<UInt64>(0)
    /// Seqlock over (tail, captured, dropped): odd while the producer writes.
    @usableFromInline let sequence = Atomic<UInt64>(0)
    @usableFromInline let finished = Atomic<Bool>(false)
    @usableFromInline let _pad1 = CacheLinePad()
    /// Written by the consumer only (release), read by the producer (acquire).
    @usableFromInline let head = Atomic<Int>(0)
    @usableFromInline let _pad2 = CacheLinePad()

    private let producerTaken = Atomic<Bool>(false)
    private let consumerTaken = Atomic<Bool>(false)

    /// - Parameter capacity: rounded up to a power of two, at least 2.
    public init(capacity: Int) {
        var size = 2
        while size < capacity { size <<= 1 }
        self.capacity = size
        self.mask = size - 1
        self.slots = UnsafeMutablePointer<Element>.allocate(capacity: size)
    }

    deinit {
        slots.deallocate()
    }

    /// The ring's single producer. Traps if called twice.
    public func makeProducer() -> Producer {
        precondition(!producerTaken.exchange(true, ordering: .relaxed), "SPSCRing producer already taken")
        return Producer(ring: self)
    }

    /// The ring's single consumer. Traps if called twice.
    public func makeConsumer() -> Consumer {
        precondition(!consumerTaken.exchange(true, ordering: .relaxed), "SPSCRing consumer already taken")
        return Consumer(ring: self)
    }

    /// A consistent snapshot, safe from any thread. The consumer's index is
    /// read first and the producer's after it, so `inFlight` never goes
    /// negative; the producer's three counters are read under its seqlock.
    public func counters() -> RingCounters {
        let consumedIndex = head.load(ordering: .acquiring)
        while true {
            let before = sequence.load(ordering: .acquiring)
            if before & 1 == 1 {
                backoffPause()
                continue
            }
            let published = tail.load(ordering: .relaxed)
            let offered = captured.load(ordering: .relaxed)
            let lost = dropped.load(ordering: .relaxed)
            atomicMemoryFence(ordering: .acquiring)
            if sequence.load(ordering: .relaxed) == before {
                return RingCounters(
                    captured: offered,
                    consumed: UInt64(consumedIndex),
                    ringDropped: lost,
                    inFlight: UInt64(published - consumedIndex))
            }
        }
    }

    /// True once the producer has called `finish()` and every record is consumed.
    public var isDrained: Bool {
        finished.load(ordering: .acquiring) && head.load(ordering: .acquiring) == tail.load(ordering: .acquiring)
    }

    // MARK: producer

    /// The producing side. Stage records into free slots (no copy: the decoder
    /// writes in place), then `publish()` makes the whole batch visible with
    /// one release store.
    public struct Producer: ~Copyable, @unchecked Sendable {
        @usableFromInline let ring: SPSCRing<Element>
        /// Next index to publish (the ring's tail as this side knows it).
        @usableFromInline var tail: Int
        /// Records staged since the last publish.
        @usableFromInline var staged: Int = 0
        /// The consumer's head as last read; refreshed only when the ring looks full.
        @usableFromInline var cachedHead: Int
        @usableFromInline var offered: UInt64 = 0
        @usableFromInline var lost: UInt64 = 0

        init(ring: SPSCRing<Element>) {
            self.ring = ring
            self.tail = ring.tail.load(ordering: .relaxed)
            self.cachedHead = ring.head.load(ordering: .relaxed)
        }

        /// Free slots as of the cached head (refreshes it when zero).
        @inlinable
        public mutating func freeSlots() -> Int {
            var free = ring.capacity - (tail + staged - cachedHead)
            if free == 0 {
                cachedHead = ring.head.load(ordering: .acquiring)
                free = ring.capacity - (tail + staged - cachedHead)
            }
            return free
        }

        /// Lets `fill` write the next record directly into its slot. When the
        /// ring is full: with `.drop` the record is counted as dropped and
        /// `fill` is not called; with `.wait` the producer publishes what it
        /// staged and waits for the consumer. Returns whether the record was staged.
        @inlinable
        @discardableResult
        public mutating func stage(policy: FullRingPolicy, _ fill: (inout Element) -> Void) -> Bool {
            if freeSlots() == 0 {
                switch policy {
                case .drop:
                    offered &+= 1
                    lost &+= 1
                    return false
                case .wait:
                    publish()
                    var spins = 0
                    while freeSlots() == 0 {
                        spins += 1
                        backoffPause(spins)
                    }
                }
            }
            fill(&ring.slots[(tail &+ staged) & ring.mask])
            staged &+= 1
            offered &+= 1  // counted with the record, so a publish while waiting stays consistent
            return true
        }

        /// Publishes the staged batch and the producer's counters: one release
        /// store of `tail`, inside the counters' seqlock.
        @inlinable
        public mutating func publish() {
            tail &+= staged
            staged = 0
            let seq = ring.sequence.load(ordering: .relaxed)
            ring.sequence.store(seq &+ 1, ordering: .relaxed)
            atomicMemoryFence(ordering: .releasing)
            ring.captured.store(offered, ordering: .relaxed)
            ring.dropped.store(lost, ordering: .relaxed)
            ring.tail.store(tail, ordering: .releasing)
            ring.sequence.store(seq &+ 2, ordering: .releasing)
        }

        /// Publishes what is staged and tells the consumer no more will come.
        public mutating func finish() {
            publish()
            ring.finished.store(true, ordering: .releasing)
        }
    }

    // MARK: consumer

    /// The consuming side: takes published records in contiguous runs.
    public struct Consumer: ~Copyable, @unchecked Sendable {
        @usableFromInline let ring: SPSCRing<Element>
        @usableFromInline var head: Int
        /// The producer's tail as last read; refreshed only when this side catches up.
        @usableFromInline var cachedTail: Int

        init(ring: SPSCRing<Element>) {
            self.ring = ring
            self.head = ring.head.load(ordering: .relaxed)
            self.cachedTail = ring.tail.load(ordering: .relaxed)
        }

        /// Hands up to `limit` published records to `body` as at most two
        /// contiguous spans (the ring wraps), then releases their slots with
        /// one store. Returns the number consumed (0 when the ring is empty).
        @inlinable
        @discardableResult
        public mutating func drain(limit: Int = .max, _ body: (Span<Element>) -> Void) -> Int {
            if cachedTail - head < limit {
                // Refresh only when the cached run cannot fill this batch: one
                // acquire load per batch, none per record.
                cachedTail = ring.tail.load(ordering: .acquiring)
                if head == cachedTail { return 0 }
            }
            let count = min(cachedTail - head, limit)
            let start = head & ring.mask
            let firstRun = min(count, ring.capacity - start)
            let first = UnsafeBufferPointer(start: ring.slots + start, count: firstRun)
            body(first.span)
            if firstRun < count {
                let second = UnsafeBufferPointer(start: ring.slots, count: count - firstRun)
                body(second.span)
            }
            head &+= count
            ring.head.store(head, ordering: .releasing)
            return count
        }

        /// True when the producer has finished and everything it published is consumed.
        public var isFinished: Bool {
            ring.finished.load(ordering: .acquiring) && head == ring.tail.load(ordering: .acquiring)
        }
    }
}

/// Progressive back-off for a side that has to wait: spin briefly, then
/// yield the core, then sleep 50 µs (on 2 cores the other side needs one),
/// doubling the sleep every 64 further attempts up to
/// `backoffMaxSleepMicroseconds`.
///
/// The doubling is for a consumer that is idle for long (a live daemon on a
/// quiet darknet): with a fixed 50 µs an idle daemon made 8,017 context
/// switches a second and used 14 % of a core doing nothing (Benchmarks/idle.sh). It reaches 1 ms after about 100 ms of
/// idleness, when a millisecond's latency no longer matters; a ring of 65,536
/// records takes 4.4 ms to fill even at 10 Gb/s line rate (14.88 M packets/s).
@inlinable
public func backoffPause(_ attempt: Int = 64) {
    if attempt < 16 {
        // busy spin
    } else if attempt < 64 {
        sched_yield()
    } else {
        usleep(backoffSleepMicroseconds(attempt))
    }
}

/// The longest sleep of `backoffPause`.
@inlinable public var backoffMaxSleepMicroseconds: UInt32 { 1_000 }

/// The sleep `backoffPause` takes at `attempt` (≥ 64): 50 µs doubled every
/// 64 attempts, at most `backoffMaxSleepMicroseconds`.
@inlinable
public func backoffSleepMicroseconds(_ attempt: Int) -> UInt32 {
    let doublings = min(max(attempt - 64, 0) / 64, 16)
    return min(UInt32(50) << UInt32(doublings), backoffMaxSleepMicroseconds)
}

/// The producing side of several rings at once: one capture thread dealing
/// records to N consumers (the aggregation shards), each through its own
/// ring. Each ring keeps its own exact counters; `publish()` publishes every
/// ring's staged batch.
public struct ShardedProducer<Element: BitwiseCopyable>: ~Copyable, @unchecked Sendable {
    // @unchecked Sendable: like `SPSCRing.Producer`, used by one thread at a time.

    /// One ring's producer in a box, so an array can hold the non-copyable
    /// producers. Only the producing thread touches it, so the dynamic
    /// exclusivity check on each access (a runtime call per record) is dropped.
    @usableFromInline
    final class Box {
        @usableFromInline @exclusivity(unchecked) var producer: SPSCRing<Element>.Producer
        init(_ producer: consuming SPSCRing<Element>.Producer) { self.producer = producer }
    }

    public let count: Int
    @usableFromInline let boxes: [Box]

    /// Takes the one producer of each ring (traps if one was taken already).
    public init(rings: [SPSCRing<Element>]) {
        precondition(!rings.isEmpty, "a sharded producer needs at least one ring")
        count = rings.count
        boxes = rings.map { Box($0.makeProducer()) }
    }

    /// One ring's producer, as a set of one.
    public init(_ producer: consuming SPSCRing<Element>.Producer) {
        count = 1
        boxes = [Box(producer)]
    }

    /// `SPSCRing.Producer.stage` on ring `shard` (0 ..< count).
    @inlinable
    @discardableResult
    public mutating func stage(shard: Int, policy: FullRingPolicy, _ fill: (inout Element) -> Void) -> Bool {
        boxes[shard].producer.stage(policy: policy, fill)
    }

    /// Publishes every ring's staged batch.
    @inlinable
    public mutating func publish() {
        for box in boxes { box.producer.publish() }
    }

    /// Publishes and finishes every ring.
    public mutating func finish() {
        for box in boxes { box.producer.finish() }
    }
}
