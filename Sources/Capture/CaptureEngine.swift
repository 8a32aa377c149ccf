import CPcap
import Decoding
import Foundation
import Ring
import Synchronization

/// Where packets come from. Live and offline sources feed the same decoder
/// and the same ring; only the reading call differs (`pcap_dispatch` for an
/// interface, `pcap_next_ex` merged by timestamp across files).
public enum PacketSource: Sendable {
    case live(PcapHandle)
    /// One or more files, read in timestamp order (a k-way merge).
    case files([PcapHandle])

    /// Opens every file up front, so a missing or unreadable one fails
    /// before any work starts.
    public static func openFiles(_ paths: [String]) throws(PcapError) -> PacketSource {
        var handles: [PcapHandle] = []
        for path in paths {
            handles.append(try PcapHandle.openOffline(path: path))
        }
        return .files(handles)
    }

    public var handles: [PcapHandle] {
        switch self {
        case .live(let handle): [handle]
        case .files(let handles): handles
        }
    }
}

/// What one handle delivered.
public struct SourceReport: Sendable, Codable, Equatable {
    /// Interface name or file path.
    public var source: String
    /// libpcap's name of the link type.
    public var linkType: String
    /// Packets libpcap delivered from this source.
    public var packets: UInt64
    /// Set when reading stopped early (truncated or corrupt file, device error).
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case source, packets, error
        case linkType = "link_type"
    }
}

/// The end of a capture run.
public struct CaptureOutcome: Sendable {
    public var sources: [SourceReport]
    /// The run ended because `stop()` was called (or the packet limit was reached).
    public var stopped: Bool
}

/// Runs the capture side: reads packets, decodes each into its ring slot
/// while the bytes are still borrowed, publishes a batch per read, and keeps
/// the kernel counters. Runs on its own thread (`start()`).
public final class CaptureEngine: @unchecked Sendable {
    // @unchecked Sendable: `context` is touched only by the capture thread
    // (inside `run`); other threads use the atomics and `stop()`.

    public let source: PacketSource
    private let context: DispatchContext
    private let stopRequested = Atomic<Bool>(false)
    private let kernelReceived = Atomic<UInt64>(0)
    private let kernelDropped = Atomic<UInt64>(0)
    private let kernelInterfaceDropped = Atomic<UInt64>(0)
    private let delivered = Atomic<UInt64>(0)
    /// Packets per `pcap_dispatch` call at most (one ring publish each).
    public let batchSize: Int32
    private let packetLimit: UInt64?

    /// - Parameters:
    ///   - policy: `.drop` for live capture (never block), `.wait` for files.
    ///   - packetLimit: stop after this many packets (like `tcpdump -c`).
    ///   - darknet: records that are not darknet traffic are marked (and so
    ///     counted, not aggregated) before they enter the ring.
    public init(
        source: PacketSource,
        producer: consuming SPSCRing<PacketRecord>.Producer,
        policy: FullRingPolicy,
        batchSize: Int32 = 256,
        packetLimit: UInt64? = nil,
        darknet: DarknetPrefixes = .everything
    ) {
        self.source = source
        self.context = DispatchContext(producer: ShardedProducer(producer), router: nil, policy: policy, darknet: darknet)
        self.batchSize = batchSize
        self.packetLimit = packetLimit
    }

    /// A capture thread dealing records to several rings, one per aggregation
    /// shard, by `router` (which must have as many shards as `producer` has rings).
    /// After each batch it publishes the latest timestamp it has delivered
    /// (`clockNs`): the shards' common clock, so an idle shard still closes its buckets.
    public init(
        source: PacketSource,
        producer: consuming ShardedProducer<PacketRecord>,
        router: ShardRouter,
        policy: FullRingPolicy,
        batchSize: Int32 = 256,
        packetLimit: UInt64? = nil,
        darknet: DarknetPrefixes = .everything
    ) {
        precondition(router.shards == producer.count, "one ring per shard")
        self.source = source
        self.context = DispatchContext(producer: producer, router: router, policy: policy, darknet: darknet)
        self.batchSize = batchSize
        self.packetLimit = packetLimit
    }

    /// The latest packet timestamp delivered to the rings and published (any
    /// thread; acquire: every record published before it is visible). `Int64.min` before the first.
    public var clockNs: Int64 { context.clock.load(ordering: .acquiring) }

    /// Packets delivered by libpcap so far (any thread).
    public var packetsDelivered: UInt64 { delivered.load(ordering: .relaxed) }

    /// Kernel counters of a live source, widened to 64 bits (any thread).
    public var kernelStatistics: KernelStatistics {
        KernelStatistics(received: kernelReceived.load(ordering: .relaxed),
                         dropped: kernelDropped.load(ordering: .relaxed),
                         interfaceDropped: kernelInterfaceDropped.load(ordering: .relaxed))
    }

    /// Asks the run to end promptly; safe from any thread.
    public func stop() {
        stopRequested.store(true, ordering: .relaxed)
        if case .live(let handle) = source { handle.breakLoop() }
    }

    /// Starts `run()` on a new thread.
    public func start() -> CaptureThread {
        let thread = CaptureThread()
        let worker = Thread { [self] in
            let outcome = self.run()
            thread.finish(outcome)
        }
        worker.name = "darknet-capture"
        worker.start()
        return thread
    }

    /// Reads until the source ends, `stop()` is called or the limit is
    /// reached; then publishes the last batch and finishes the ring.
    public func run() -> CaptureOutcome {
        let outcome: CaptureOutcome
        switch source {
        case .live(let handle):
            outcome = runLive(handle)
        case .files(let handles):
            outcome = runFiles(handles)
        }
        context.finish()
        return outcome
    }

    private func remaining() -> UInt64? {
        guard let packetLimit else { return nil }
        let done = context.delivered
        return packetLimit > done ? packetLimit - done : 0
    }

    // MARK: live

    private func runLive(_ handle: PcapHandle) -> CaptureOutcome {
        var widener = KernelCounterWidener()
        var lastStats = ContinuousClock.now
        var failure: String?
        context.decoder = PacketDecoder(linkType: handle.linkType)
        context.subsecondMultiplier = handle.subsecondToNanoseconds
        let user = Unmanaged.passUnretained(context).toOpaque().assumingMemoryBound(to: UInt8.self)
        while !stopRequested.load(ordering: .relaxed) {
            var count = batchSize
            if let left = remaining() {
                if left == 0 { break }
                count = Int32(min(UInt64(batchSize), left))
            }
            do {
                let result = try handle.dispatch(count: count, callback: dispatchCallback, user: user)
                context.publish()
                delivered.store(context.delivered, ordering: .relaxed)
                if result == nil { break }  // pcap_breakloop
            } catch {
                context.publish()
                failure = error.description
                break
            }
            let now = ContinuousClock.now
            if now - lastStats >= .seconds(1) {
                lastStats = now
                pollKernel(handle, &widener)
            }
        }
        pollKernel(handle, &widener)
        delivered.store(context.delivered, ordering: .relaxed)
        let report = SourceReport(source: handle.subject, linkType: handle.linkTypeName,
                                  packets: context.delivered, error: failure)
        return CaptureOutcome(sources: [report], stopped: stopRequested.load(ordering: .relaxed) || remaining() == 0)
    }

    private func pollKernel(_ handle: PcapHandle, _ widener: inout KernelCounterWidener) {
        guard let raw = try? handle.rawStatistics() else { return }
        widener.update(received: raw.received, dropped: raw.dropped, interfaceDropped: raw.interfaceDropped)
        kernelReceived.store(widener.totals.received, ordering: .relaxed)
        kernelDropped.store(widener.totals.dropped, ordering: .relaxed)
        kernelInterfaceDropped.store(widener.totals.interfaceDropped, ordering: .relaxed)
    }

    // MARK: files

    /// One file: `pcap_dispatch` in batches, exactly like a live handle (no
    /// merge to do, and libpcap's callback loop is cheaper than a
    /// `pcap_next_ex` call per packet).
    private func runSingleFile(_ handle: PcapHandle) -> CaptureOutcome {
        var report = SourceReport(source: handle.subject, linkType: handle.linkTypeName, packets: 0, error: nil)
        context.decoder = PacketDecoder(linkType: handle.linkType)
        context.subsecondMultiplier = handle.subsecondToNanoseconds
        let user = Unmanaged.passUnretained(context).toOpaque().assumingMemoryBound(to: UInt8.self)
        var stopped = false
        while true {
            if stopRequested.load(ordering: .relaxed) {
                stopped = true
                break
            }
            var count = batchSize
            if let left = remaining() {
                if left == 0 {
                    stopped = true
                    break
                }
                count = Int32(min(UInt64(batchSize), left))
            }
            do {
                let result = try handle.dispatch(count: count, callback: dispatchCallback, user: user)
                context.publish()
                delivered.store(context.delivered, ordering: .relaxed)
                guard let read = result else {  // pcap_breakloop
                    stopped = true
                    break
                }
                if read == 0 { break }  // end of file
            } catch {
                context.publish()
                report.error = error.description
                break
            }
        }
        delivered.store(context.delivered, ordering: .relaxed)
        report.packets = context.delivered
        return CaptureOutcome(sources: [report], stopped: stopped)
    }

    /// K-way merge by timestamp over `pcap_next_ex`: each handle's current
    /// packet stays valid until that handle is read again, so nothing is copied.
    private func runFiles(_ handles: [PcapHandle]) -> CaptureOutcome {
        if handles.count == 1 { return runSingleFile(handles[0]) }
        var reports = handles.map { SourceReport(source: $0.subject, linkType: $0.linkTypeName, packets: 0, error: nil) }
        let decoders = handles.map { PacketDecoder(linkType: $0.linkType) }
        var heads: [(header: UnsafePointer<pcap_pkthdr>, bytes: UnsafePointer<UInt8>, timestamp: Int64)?] =
            Array(repeating: nil, count: handles.count)

        func advance(_ i: Int) {
            do {
                if let packet = try handles[i].next() {
                    heads[i] = (packet.header, packet.bytes, handles[i].timestampNanoseconds(packet.header))
                } else {
                    heads[i] = nil
                }
            } catch {
                heads[i] = nil
                reports[i].error = error.description
            }
        }
        for i in handles.indices { advance(i) }

        var sinceLastPublish: Int32 = 0
        var stopped = false
        while true {
            if sinceLastPublish >= batchSize {
                context.publish()
                delivered.store(context.delivered, ordering: .relaxed)
                sinceLastPublish = 0
                if stopRequested.load(ordering: .relaxed) || remaining() == 0 {
                    stopped = true
                    break
                }
            }
            // The earliest head; ties go to the earlier file, so merging is stable.
            var best = -1
            var bestTime = Int64.max
            for i in heads.indices {
                if let head = heads[i], best < 0 || head.timestamp < bestTime {
                    best = i
                    bestTime = head.timestamp
                }
            }
            guard best >= 0, let head = heads[best] else { break }
            context.deliver(head.header, head.bytes, timestampNs: head.timestamp, decoder: decoders[best])
            reports[best].packets += 1
            sinceLastPublish += 1
            if remaining() == 0 {
                stopped = true
                break
            }
            advance(best)
        }
        context.publish()
        delivered.store(context.delivered, ordering: .relaxed)
        return CaptureOutcome(sources: reports, stopped: stopped)
    }
}

/// Waits for a capture thread's outcome.
public final class CaptureThread: Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let result = Mutex<CaptureOutcome?>(nil)

    func finish(_ outcome: CaptureOutcome) {
        result.withLock { $0 = outcome }
        done.signal()
    }

    /// Blocks until the capture thread has finished (and finished the ring).
    public func wait() -> CaptureOutcome {
        done.wait()
        done.signal()  // later waits return at once
        return result.withLock { $0! }
    }
}

/// The state the libpcap callback needs, reached through its `user` pointer.
final class DispatchContext {
    /// Only the capture thread touches the producer (inside `pcap_dispatch`'s
    /// callback, and to publish and finish around it), so the dynamic
    /// exclusivity check Swift makes on every mutating access to a class's
    /// property is dropped here: it was one `swift_beginAccess`/`endAccess`
    /// pair per packet, about 120 instructions (callgrind).
    @exclusivity(unchecked) var producer: ShardedProducer<PacketRecord>
    /// Deals records to shards; nil: one ring, records decoded in place.
    let router: ShardRouter?
    let policy: FullRingPolicy
    /// Latest timestamp delivered, and the published copy of it (see `CaptureEngine.clockNs`).
    var latestNs: Int64 = .min
    let clock = Atomic<Int64>(.min)
    /// The darknet's prefixes, checked after decoding while the record is
    /// still in its ring slot; a buffer of its own (freed in `deinit`) so the
    /// per-packet check retains and releases nothing.
    let darknet: UnsafeMutableBufferPointer<DarknetPrefixes.Prefix>
    /// Live handles carry one link type: the decoder and the timestamp unit
    /// are set from the handle before dispatching.
    var decoder: PacketDecoder?
    /// 1 when the handle gives nanoseconds, 1000 for microseconds.
    var subsecondMultiplier: Int64 = 1
    var delivered: UInt64 = 0

    init(producer: consuming ShardedProducer<PacketRecord>, router: ShardRouter?, policy: FullRingPolicy, darknet: DarknetPrefixes) {
        self.producer = consume producer
        self.router = router
        self.policy = policy
        self.darknet = .allocate(capacity: darknet.prefixes.count)
        _ = self.darknet.initialize(from: darknet.prefixes)
    }

    deinit {
        darknet.deallocate()
    }

    /// Decodes one packet straight into the next ring slot. The bytes are
    /// borrowed from libpcap: they are read here and never kept.
    @inline(__always)
    func deliver(_ header: UnsafePointer<pcap_pkthdr>, _ bytes: UnsafePointer<UInt8>, timestampNs: Int64, decoder: PacketDecoder) {
        delivered &+= 1
        let captured = UnsafeBufferPointer(start: bytes, count: Int(header.pointee.caplen))
        let span = captured.span
        let wireLength = header.pointee.len
        if timestampNs > latestNs { latestNs = timestampNs }
        let darknet = UnsafeBufferPointer(darknet)
        guard let router else {
            producer.stage(shard: 0, policy: policy) { record in
                decoder.decode(span, wireLength: wireLength, timestampNs: timestampNs, into: &record)
                DarknetPrefixes.classify(&record, in: darknet)
            }
            return
        }
        // The shard depends on the decoded source: decode here, then copy the
        // 64-byte record into that shard's ring.
        var decoded = PacketRecord()
        decoder.decode(span, wireLength: wireLength, timestampNs: timestampNs, into: &decoded)
        DarknetPrefixes.classify(&decoded, in: darknet)
        producer.stage(shard: router.shard(of: decoded), policy: policy) { $0 = decoded }
    }

    func publish() {
        producer.publish()
        if router != nil { clock.store(latestNs, ordering: .releasing) }
    }

    func finish() {
        producer.finish()
        clock.store(latestNs, ordering: .releasing)
    }
}

/// The `pcap_dispatch` callback: a C function pointer, so it reaches its
/// context through `user`.
private let dispatchCallback: pcap_handler = { user, header, bytes in
    guard let user, let header, let bytes else { return }
    let context = Unmanaged<DispatchContext>.fromOpaque(UnsafeRawPointer(user)).takeUnretainedValue()
    guard let decoder = context.decoder else { return }
    let handleTimestamp = Int64(header.pointee.ts.tv_sec) &* 1_000_000_000 &+ Int64(header.pointee.ts.tv_usec) &* context.subsecondMultiplier
    context.deliver(header, bytes, timestampNs: handleTimestamp, decoder: decoder)
}

