import Foundation
import Interchange
import Daemon
import Synchronization

/// A fresh directory under /tmp (short: socket paths are limited to 107 bytes).
final class TempDirectory {
    let path: String

    init() {
        path = "/tmp/dks-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o755])
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A blocking client on a raw socket, for driving the server byte by byte.
final class TestClient {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if result != 0 {
            let code = errno
            close(fd)
            throw TestFailure("connect \(path): \(String(cString: strerror(code)))")
        }
    }

    deinit { close(fd) }

    func send(_ text: String) throws { try send(bytes: Array(text.utf8)) }

    func send(bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TestFailure("send: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// The next line, nil on end of stream, error or timeout.
    func readLine(timeout: Double = 5) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return nil }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(max(1, left * 1000)))
            if ready <= 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }

    /// Sends one line and parses the answer.
    func request(_ json: String) throws -> JSONValue {
        try send(json + "\n")
        guard let line = readLine() else { throw TestFailure("no answer to \(json)") }
        guard let value = JSONValue.parse(Data(line.utf8)) else { throw TestFailure("not JSON: \(line)") }
        return value
    }

    /// Whether the server closes this connection within `timeout` (reads
    /// and drops whatever it still sends).
    func waitForClose(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while deadline.timeIntervalSinceNow > 0 {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 50) <= 0 { continue }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n == 0 { return true }
            if n < 0 && errno != EAGAIN && errno != EINTR { return true }
        }
        return false
    }

    /// Non-blocking: whether the peer already closed or sent anything pending.
    func setNonBlocking() {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }
}

extension JSONValue {
    var errorCode: String? { self["error"]?["code"]?.stringValue }
    var isOK: Bool { self["ok"]?.boolValue == true }
}

/// Starts a server on a fresh path, runs `body`, shuts the server down.
func withServer(
    maxClients: Int = 64,
    idleTimeout: Duration = .seconds(30),
    maxRequestBytes: Int = 4096,
    highWater: Int = 256 * 1024,
    provider: any StatsProvider = StaticStatsProvider.sample(),
    _ body: (String, StatsServer) async throws -> Void
) async throws {
    let dir = TempDirectory()
    let path = dir.file("s.sock")
    let server = StatsServer()
    try await server.start(path: path, maxClients: maxClients, idleTimeout: idleTimeout, maxRequestBytes: maxRequestBytes,
                           outboundHighWaterMark: highWater, provider: provider)
    do {
        try await body(path, server)
    } catch {
        await server.shutdown()
        throw error
    }
    await server.shutdown()
    withExtendedLifetime(dir) {}
}


