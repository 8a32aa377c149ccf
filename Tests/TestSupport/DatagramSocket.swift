// A Unix datagram socket a test binds, to stand where syslog (/dev/log) or
// systemd's notify socket would be and receive what the code under test sends.
import Foundation

/// A bound `AF_UNIX`/`SOCK_DGRAM` socket, closed (and its path removed) when
/// the value goes away. Used as is by the sink and sd_notify tests, and under
/// the end-to-end tests' continuously reading listener.
public final class DatagramSocket: Sendable {
    public let fd: Int32
    /// A path, or "@name" for an abstract address (Linux).
    public let name: String

    public struct BindError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Binds `name` (a path is unlinked first, so a stale socket file does not block the bind).
    public init(name: String) throws {
        var bytes = Array(name.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        var address = sockaddr_un()
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw BindError(description: "socket name too long: \(name)")
        }
        if abstract { bytes[0] = 0 } else { unlink(name) }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw BindError(description: "socket: \(String(cString: strerror(errno)))") }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + bytes.count + (abstract ? 0 : 1)
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        guard status == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw BindError(description: "bind \(name): \(message)")
        }
        self.fd = fd
        self.name = name
    }

    /// A temporary path of its own (in the system's temporary directory).
    public convenience init(temporaryNamed prefix: String) throws {
        try self.init(name: NSTemporaryDirectory() + "\(prefix)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock")
    }

    deinit {
        close(fd)
        if !name.hasPrefix("@") { unlink(name) }
    }

    /// Waits up to `timeout` for a datagram to arrive; whether one is waiting.
    public func waitReadable(timeout: Duration) -> Bool {
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&ready, 1, milliseconds) > 0
    }

    /// The next datagram, waiting for it up to `timeout`; nil if none came.
    public func receive(timeout: Duration) -> [UInt8]? {
        waitReadable(timeout: timeout) ? receiveNow() : nil
    }

    /// The next datagram as UTF-8 text, waiting for it up to `timeout`.
    public func receiveText(timeout: Duration = .seconds(2)) -> String? {
        receive(timeout: timeout).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A datagram already waiting, or nil at once.
    public func receiveNow() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        return n < 0 ? nil : Array(buffer[0..<n])
    }

    /// Whether nothing is waiting.
    public var isEmpty: Bool { !waitReadable(timeout: .zero) }
}
