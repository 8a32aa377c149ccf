import Foundation
import Interchange
import NIOCore
import NIOPosix
import StatsWire
import Synchronization

/// Why the stats server would not start; one line each, naming the path.
public enum StatsServerError: Error, Sendable, Equatable, CustomStringConvertible {
    case alreadyStarted
    case symlink(path: String)
    case notASocket(path: String)
    case inUse(path: String)
    case pathTooLong(path: String)
    case unknownGroup(String)
    case system(operation: String, path: String, errno: Int32)

    public var description: String {
        switch self {
        case .alreadyStarted: return "stats server already started"
        case .symlink(let path): return "refusing to use \(path): it is a symbolic link"
        case .notASocket(let path): return "refusing to use \(path): it exists and is not a socket"
        case .inUse(let path): return "\(path) is in use: another process answers on it"
        case .pathTooLong(let path): return "socket path too long (\(path.utf8.count) bytes, at most 107): \(path)"
        case .unknownGroup(let name): return "no such group: \(name)"
        case .system(let operation, let path, let code): return "\(operation) \(path): \(String(cString: strerror(code)))"
        }
    }
}

/// Running totals of the stats server, readable at any time.
public struct StatsServerCounters: Sendable, Equatable {
    /// Connections open now (served clients only).
    public var activeClients: Int
    public var acceptedClients: Int
    /// Connections turned away with `busy`.
    public var rejectedBusy: Int
    /// Connections closed for being idle (silent, or stuck not reading).
    public var closedIdle: Int
    /// Request lines answered (errors included).
    public var requests: Int
    public var errorResponses: Int
    /// Response bytes queued in the server and not yet taken by the kernel, now and at most.
    public var queuedBytes: Int
    public var peakQueuedBytes: Int
}

/// The stats socket: a SwiftNIO Unix-domain stream server speaking
/// `StatsProtocol`, on its own event loop thread so that no client, slow or
/// hostile, can hold up the capture or aggregation threads.
///
/// Limits: at most `maxClients` connections (further ones get one `busy`
/// line and are closed), request lines of at most `maxRequestBytes`, idle
/// clients closed after `idleTimeout`. A client that does not read its
/// responses is not read from either while its queued output is above the
/// high-water mark, and is closed once it has been stuck for `idleTimeout`.
public final class StatsServer: Sendable {
    private struct Running {
        var group: MultiThreadedEventLoopGroup
        var channel: any Channel
        var path: String
        var inode: (dev: UInt64, ino: UInt64)
        var shared: ServerShared
    }

    private let state = Mutex<Running?>(nil)
    private let starting = Atomic<Bool>(false)

    public init() {}

    /// Binds `path` and starts serving. `mode` is the socket file's
    /// permission bits; `group` (a name or a number) becomes its group.
    /// An existing socket at `path` is replaced only when nothing answers on it.
    public func start(
        path: String,
        mode: mode_t = 0o660,
        group: String? = nil,
        maxClients: Int = 64,
        idleTimeout: Duration = .seconds(30),
        maxRequestBytes: Int = StatsProtocol.defaultMaxRequestBytes,
        outboundHighWaterMark: Int = 256 * 1024,
        provider: any StatsProvider
    ) async throws {
        precondition(maxClients > 0 && maxRequestBytes > 0 && outboundHighWaterMark > 0)
        guard starting.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            throw StatsServerError.alreadyStarted
        }
        var started = false
        defer { if !started { starting.store(false, ordering: .releasing) } }

        guard path.utf8.count < 108 else { throw StatsServerError.pathTooLong(path: path) }
        let gid = try group.map(SocketFile.resolveGroup)
        try SocketFile.prepare(path: path)

        let shared = ServerShared(provider: provider, maxClients: maxClients, maxRequestBytes: maxRequestBytes)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let idle = TimeAmount(idleTimeout)
        let water = ChannelOptions.Types.WriteBufferWaterMark(low: max(1, outboundHighWaterMark / 2), high: outboundHighWaterMark)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: water)
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 8192))
            .childChannelInitializer { channel in
                shared.initialize(channel: channel, idleTimeout: idle)
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false).get()
        } catch {
            try? await group.shutdownGracefully()
            throw StatsServerError.system(operation: "bind", path: path, errno: (error as? IOError)?.errnoCode ?? EIO)
        }
        do {
            // bind(2) created the file with the umask's mode; set ours before anyone is told the path.
            if chmod(path, mode) != 0 { throw StatsServerError.system(operation: "chmod", path: path, errno: errno) }
            if let gid, chown(path, uid_t.max, gid) != 0 {
                throw StatsServerError.system(operation: "chown", path: path, errno: errno)
            }
        } catch {
            try? await channel.close()
            try? await group.shutdownGracefully()
            unlink(path)
            throw error
        }
        var info = stat()
        lstat(path, &info)
        state.withLock {
            $0 = Running(group: group, channel: channel, path: path, inode: (UInt64(info.st_dev), UInt64(info.st_ino)), shared: shared)
        }
        started = true
    }

    /// Stops accepting, closes every client, stops the event loop and removes
    /// the socket file (only if it is still the one this server bound).
    public func shutdown() async {
        guard let running = state.withLock({ value -> Running? in
            let running = value
            value = nil
            return running
        }) else { return }
        try? await running.channel.close()
        for child in running.shared.openChannels() {
            try? await child.close()
        }
        try? await running.group.shutdownGracefully()
        var info = stat()
        if lstat(running.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK,
           UInt64(info.st_dev) == running.inode.dev, UInt64(info.st_ino) == running.inode.ino {
            unlink(running.path)
        }
        starting.store(false, ordering: .releasing)
    }

    /// The bound path, nil when not running.
    public var path: String? { state.withLock { $0?.path } }

    public var counters: StatsServerCounters {
        state.withLock { $0?.shared.snapshot() } ?? StatsServerCounters(
            activeClients: 0, acceptedClients: 0, rejectedBusy: 0, closedIdle: 0, requests: 0, errorResponses: 0,
            queuedBytes: 0, peakQueuedBytes: 0)
    }

    deinit {
        // A server dropped without shutdown() leaves its thread; close it at least.
        if let running = state.withLock({ $0 }) {
            running.channel.close(promise: nil)
            running.group.shutdownGracefully { _ in }
        }
    }
}

/// State shared by every connection of one server.
final class ServerShared: @unchecked Sendable {
    // @unchecked Sendable: `channels` is touched only under `channelsLock`;
    // the rest is immutable or atomic.
    let provider: any StatsProvider
    let maxClients: Int
    let maxRequestBytes: Int

    let active = Atomic<Int>(0)
    let accepted = Atomic<Int>(0)
    let rejectedBusy = Atomic<Int>(0)
    let closedIdle = Atomic<Int>(0)
    let requests = Atomic<Int>(0)
    let errorResponses = Atomic<Int>(0)
    let queuedBytes = Atomic<Int>(0)
    let peakQueuedBytes = Atomic<Int>(0)
    /// The serving connections, for shutdown to close. Under an NSLock (a
    /// pthread mutex), not `Synchronization.Mutex`: ThreadSanitizer does not see
    /// the futex under the latter, and reported a connection's close callback
    /// removing itself and `openChannels` reading as a race.
    private let channelsLock = NSLock()
    private var channels: [ObjectIdentifier: any Channel] = [:]

    private func withChannels<R>(_ body: (inout [ObjectIdentifier: any Channel]) -> R) -> R {
        channelsLock.lock()
        defer { channelsLock.unlock() }
        return body(&channels)
    }

    init(provider: any StatsProvider, maxClients: Int, maxRequestBytes: Int) {
        self.provider = provider
        self.maxClients = maxClients
        self.maxRequestBytes = maxRequestBytes
    }

    /// Per connection: count it against the cap, then either the serving
    /// pipeline or the one-line `busy` refusal.
    func initialize(channel: any Channel, idleTimeout: TimeAmount) -> EventLoopFuture<Void> {
        let (_, now) = active.wrappingAdd(1, ordering: .acquiringAndReleasing)
        let id = ObjectIdentifier(channel)
        channel.closeFuture.whenComplete { _ in
            self.active.wrappingSubtract(1, ordering: .acquiringAndReleasing)
            _ = self.withChannels { $0.removeValue(forKey: id) }
        }
        if now > maxClients {
            rejectedBusy.wrappingAdd(1, ordering: .relaxed)
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(BusyRefusalHandler())
            }
        }
        accepted.wrappingAdd(1, ordering: .relaxed)
        withChannels { $0[id] = channel }
        let maxRequestBytes = self.maxRequestBytes
        return channel.eventLoop.makeCompletedFuture {
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(IdleStateHandler(readTimeout: idleTimeout))
            try sync.addHandler(ByteToMessageHandler(BoundedLineDecoder(maxLength: maxRequestBytes)))
            try sync.addHandler(StatsConnectionHandler(shared: self))
        }
    }

    func openChannels() -> [any Channel] {
        withChannels { Array($0.values) }
    }

    func queued(_ delta: Int) {
        let (_, now) = queuedBytes.wrappingAdd(delta, ordering: .relaxed)
        if delta > 0 {
            var peak = peakQueuedBytes.load(ordering: .relaxed)
            while now > peak {
                let (exchanged, original) = peakQueuedBytes.compareExchange(expected: peak, desired: now, ordering: .relaxed)
                if exchanged { break }
                peak = original
            }
        }
    }

    func snapshot() -> StatsServerCounters {
        StatsServerCounters(
            activeClients: withChannels { $0.count },
            acceptedClients: accepted.load(ordering: .relaxed),
            rejectedBusy: rejectedBusy.load(ordering: .relaxed),
            closedIdle: closedIdle.load(ordering: .relaxed),
            requests: requests.load(ordering: .relaxed),
            errorResponses: errorResponses.load(ordering: .relaxed),
            queuedBytes: queuedBytes.load(ordering: .relaxed),
            peakQueuedBytes: peakQueuedBytes.load(ordering: .relaxed))
    }

    /// The response line for one request line.
    func respond(to line: StatsLine) -> [UInt8] {
        requests.wrappingAdd(1, ordering: .relaxed)
        let response: [UInt8]
        var failed = false
        switch line {
        case .tooLarge:
            failed = true
            response = StatsProtocol.encodeError(StatsError(.tooLarge, "request line longer than \(maxRequestBytes) bytes; discarded"))
        case .line(let buffer):
            switch StatsProtocol.parseRequest(buffer.readableBytesView) {
            case .failure(let error):
                failed = true
                response = StatsProtocol.encodeError(error)
            case .success(let request):
                (response, failed) = answer(request)
            }
        }
        if failed { errorResponses.wrappingAdd(1, ordering: .relaxed) }
        return response
    }

    private func answer(_ request: StatsRequest) -> ([UInt8], Bool) {
        if request.command == StatsCommand.help.rawValue {
            return (StatsProtocol.encodeSuccess(command: request.command, object: Self.helpObject)!, false)
        }
        switch provider.respond(to: request.command, arguments: request.arguments) {
        case .unknown:
            return (StatsProtocol.encodeError(StatsError(.unknownCommand, "unknown command \"\(request.command)\"; try \"help\""),
                                              command: request.command), true)
        case .text(let text):
            return (StatsProtocol.encodeSuccess(command: request.command, text: text), false)
        case .data(let data):
            if let line = StatsProtocol.encodeSuccess(command: request.command, object: data) { return (line, false) }
            return (StatsProtocol.encodeError(StatsError(.internal, "the provider's answer to \"\(request.command)\" is not a JSON object"),
                                              command: request.command), true)
        }
    }

    static let helpObject: Data = {
        let commands = StatsCommand.allCases.map { command in
            JSONValue.object([
                "name": .string(command.rawValue),
                "summary": .string(command.summary),
                "args": .array(command.arguments.map(JSONValue.string)),
            ])
        }
        return Data(JSONValue.object(["commands": .array(commands), "protocol": .integer(1)]).compactJSON.utf8)
    }()
}

/// Serves one connection: answers lines in order, and stops reading while the
/// client is not taking its responses (the channel is not writable).
final class StatsConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = StatsLine
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let shared: ServerShared
    /// Lines decoded but not answered yet; at most one receive buffer's worth,
    /// since no more is read while any are waiting.
    private var pending = CircularBuffer<StatsLine>(initialCapacity: 16)
    private var readHeld = false
    private var draining = false
    private var inputClosed = false
    private var closing = false

    init(shared: ServerShared) {
        self.shared = shared
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending.append(unwrapInboundIn(data))
        drain(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            drain(context: context)
            resumeReading(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if pending.isEmpty && context.channel.isWritable {
            context.read()
        } else {
            readHeld = true
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            shared.closedIdle.wrappingAdd(1, ordering: .relaxed)
            closing = true
            context.close(promise: nil)
            return
        }
        if let channelEvent = event as? ChannelEvent, channelEvent == .inputClosed {
            inputClosed = true
            finishIfDone(context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closing = true
        context.close(promise: nil)
    }

    private func resumeReading(context: ChannelHandlerContext) {
        if readHeld && pending.isEmpty && context.channel.isWritable && !closing {
            readHeld = false
            context.read()
        }
    }

    private func drain(context: ChannelHandlerContext) {
        guard !draining else { return }
        draining = true
        defer { draining = false }
        var wrote = false
        while !closing, context.channel.isWritable, let line = pending.popFirst() {
            if case .line(let buffer) = line, buffer.readableBytesView.allSatisfy(StatsProtocol.isJSONWhitespace) {
                continue  // blank lines are ignored
            }
            let bytes = shared.respond(to: line)
            let count = bytes.count
            let promise = context.eventLoop.makePromise(of: Void.self)
            shared.queued(count)
            let shared = self.shared
            promise.futureResult.whenComplete { _ in shared.queued(-count) }
            context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: promise)
            wrote = true
        }
        if wrote { context.flush() }
        finishIfDone(context: context)
    }

    /// After the client's end of input: close once every answer is written.
    private func finishIfDone(context: ChannelHandlerContext) {
        guard inputClosed, pending.isEmpty, !closing else { return }
        closing = true
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: promise)
        let channel = context.channel
        promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
    }
}

/// Over the client cap: one `busy` line, then close.
final class BusyRefusalHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var sent = false

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { refuse(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        refuse(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Requests of a refused client are dropped.
    }

    private func refuse(context: ChannelHandlerContext) {
        guard !sent else { return }
        sent = true
        let line = StatsProtocol.encodeError(StatsError(.busy, "too many clients connected; try again later"))
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: line)), promise: promise)
        let channel = context.channel
        promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
    }
}

/// The socket file's checks before bind.
enum SocketFile {
    /// Refuses a symlink or a non-socket; removes a stale socket (nothing
    /// answers); refuses a live one; creates a missing parent directory.
    static func prepare(path: String) throws {
        var info = stat()
        if lstat(path, &info) == 0 {
            switch info.st_mode & S_IFMT {
            case S_IFLNK: throw StatsServerError.symlink(path: path)
            case S_IFSOCK: break
            default: throw StatsServerError.notASocket(path: path)
            }
            switch probe(path: path) {
            case 0:
                throw StatsServerError.inUse(path: path)
            case ECONNREFUSED:
                if unlink(path) != 0 && errno != ENOENT {
                    throw StatsServerError.system(operation: "unlink stale socket", path: path, errno: errno)
                }
            case let code:
                throw StatsServerError.system(operation: "connect", path: path, errno: code)
            }
        } else if errno != ENOENT {
            throw StatsServerError.system(operation: "lstat", path: path, errno: errno)
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o755])
            } catch {
                throw StatsServerError.system(operation: "mkdir", path: directory, errno: EACCES)
            }
        }
    }

    /// connect(2) to the socket: 0 if something accepts, else the errno.
    static func probe(path: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        return withUnixAddress(path) { address, length in
            connect(fd, address, length) == 0 ? 0 : errno
        } ?? ENAMETOOLONG
    }

    static func resolveGroup(_ name: String) throws -> gid_t {
        if let number = gid_t(name) { return number }
        var group = Foundation.group()
        var result: UnsafeMutablePointer<Foundation.group>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        let code = getgrnam_r(name, &group, &buffer, buffer.count, &result)
        guard code == 0, let result else { throw StatsServerError.unknownGroup(name) }
        return result.pointee.gr_gid
    }
}
