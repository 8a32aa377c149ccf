import Capture
import Decoding
import Foundation
import TestSupport
import Glibc
import Ring
import Pipeline
import Synchronization
import Testing

/// Issue 6's slow-consumer case on a real interface: the aggregation side
/// stalls for seconds while tcpreplay pushes traffic onto a veth in
/// namespaces the test creates. The capture thread must keep reading (the
/// kernel never backs up), the ring must drop and count what does not fit,
/// and afterwards `captured == consumed + ring_dropped + in_flight` exactly.
@Suite(.serialized) struct SlowConsumerTests {
    static var available: Bool { VethNamespaces.available && Executables.system("tcpreplay") != nil }

    /// A consumer that sleeps `stall` on its first batch, sampling how many
    /// packets the capture thread delivered meanwhile.
    final class StallingConsumer: RecordConsumer, @unchecked Sendable {
        // @unchecked: touched only by the pipeline's consumer thread, except
        // `engine`, set once by `onStart` before the first batch.
        let stall: Duration
        var engine: CaptureEngine?
        var consumed = 0
        var stalled = false
        var deliveredDuringStall: [UInt64] = []

        init(stall: Duration) { self.stall = stall }

        func consume(_ records: Span<PacketRecord>) {
            consumed += records.count
            guard !stalled else { return }
            stalled = true
            let end = ContinuousClock.now + stall
            while ContinuousClock.now < end {
                deliveredDuringStall.append(engine?.packetsDelivered ?? 0)
                Thread.sleep(forTimeInterval: 0.1)
            }
            deliveredDuringStall.append(engine?.packetsDelivered ?? 0)
        }
    }

    /// Opens a live handle on `interface` inside the network namespace `name`:
    /// a socket belongs to the namespace it was created in, so a short-lived
    /// thread enters the namespace (setns is per thread), opens, and exits.
    static func openLive(interface: String, namespace name: String, ringBuffer: Int32) throws -> PcapHandle {
        typealias SetNS = @convention(c) (Int32, Int32) -> Int32
        let symbol = try #require(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns"), "setns not found")
        let setns = unsafeBitCast(symbol, to: SetNS.self)
        let result = Mutex<Result<PcapHandle, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { done.signal() }
            let fd = open("/var/run/netns/\(name)", O_RDONLY)
            guard fd >= 0, setns(fd, 0x4000_0000 /* CLONE_NEWNET */) == 0 else {
                result.withLock { $0 = .failure(VethNamespaces.NamespaceError(description: "setns \(name): errno \(errno)")) }
                return
            }
            close(fd)
            var options = LiveCaptureOptions(interface: interface)
            options.bufferSize = ringBuffer
            options.timeoutMilliseconds = 20
            do {
                let handle = try PcapHandle.openLive(options)
                result.withLock { $0 = .success(handle) }
            } catch {
                result.withLock { $0 = .failure(error) }
            }
        }
        thread.start()
        done.wait()
        return try result.withLock { $0! }.get()
    }

    @Test(.enabled(if: SlowConsumerTests.available, "needs root, iproute2 and tcpreplay"))
    func ringDropsAndCountsWhileCaptureKeepsReading() throws {
        let net = try VethNamespaces(tag: "w")
        defer { net.tearDown() }
        let capture = "/tmp/dns-slow-\(getpid()).pcap"
        defer { unlink(capture) }
        let sent = 100_000
        let generated = try Subprocess.run(Executables.darknetd, ["generate", "--out", capture, "--packets", "\(sent)", "--seed", "9"])
        #expect(generated.status == 0, "\(generated.output)")

        // A 64 MiB kernel buffer: the kernel never needs to drop, so every
        // loss must show up as a ring drop, counted.
        let handle = try Self.openLive(interface: net.receiverInterface, namespace: net.receiver, ringBuffer: 64 << 20)
        let consumer = StallingConsumer(stall: .seconds(3))
        var configured = Pipeline()
        configured.ringCapacity = 1024
        let pipeline = configured
        let engineBox = Mutex<CaptureEngine?>(nil)
        let finished = DispatchSemaphore(value: 0)
        let runBox = Mutex<Pipeline.Run?>(nil)
        let runner = Thread {
            var c = consumer
            let run = pipeline.run(source: .live(handle), consumer: &c, onStart: { engine in
                consumer.engine = engine
                engineBox.withLock { $0 = engine }
            })
            runBox.withLock { $0 = run }
            finished.signal()
        }
        runner.start()
        while engineBox.withLock({ $0 }) == nil { Thread.sleep(forTimeInterval: 0.01) }

        let (replayExe, replayArgs) = net.inNamespace(net.sender, [Executables.system("tcpreplay")!, "-q", "--topspeed",
                                                                  "-i", net.senderInterface, capture])
        let replay = try Subprocess.run(replayExe, replayArgs)
        #expect(replay.status == 0, "\(replay.output)")
        // Let the stall end and the ring drain, then stop.
        Thread.sleep(forTimeInterval: 4)
        engineBox.withLock { $0 }!.stop()
        #expect(finished.wait(timeout: .now() + 30) == .success, "pipeline did not stop")
        let run = try #require(runBox.withLock { $0 })

        let ring = run.ring
        let kernel = try #require(run.kernel)
        let delivered = run.sources.first?.packets ?? 0
        print("slow consumer: sent \(sent), delivered \(delivered), ring \(ring), kernel \(kernel), "
              + "delivered during the 3 s stall: \(consumer.deliveredDuringStall.first ?? 0) -> \(consumer.deliveredDuringStall.last ?? 0)")
        // Exact accounting, and nothing left in flight after the stop.
        #expect(ring.captured == ring.consumed + ring.ringDropped + ring.inFlight)
        #expect(ring.inFlight == 0)
        #expect(ring.captured == delivered)
        #expect(UInt64(consumer.consumed) == ring.consumed)
        // Everything replayed reached the capture thread (the veth's own IPv6
        // neighbour/MLD packets may add a few), none was lost in the kernel...
        #expect(delivered >= UInt64(sent))
        #expect(kernel.dropped == 0)
        // ...while the consumer slept: capture never waited for it.
        let stallSamples = consumer.deliveredDuringStall
        #expect(stallSamples.count >= 20)
        #expect((stallSamples.last ?? 0) >= UInt64(sent), "capture stalled with the consumer: \(stallSamples)")
        // The ring (1,024 slots) could not hold 100,000 records: the rest was dropped and counted.
        #expect(ring.ringDropped >= UInt64(sent - 2 * 1024))
    }
}
