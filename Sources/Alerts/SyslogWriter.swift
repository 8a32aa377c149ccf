import Glibc
import Synchronization

public struct SyslogConfig: Sendable, Equatable, Codable {
    /// Unix datagram socket of the local syslog daemon.
    public var path: String
    public var facility: SyslogFacility
    public var appName: String
    /// HOSTNAME field; nil: this machine's name (gethostname), "-" if unknown.
    public var hostname: String?
    public var maxMessageBytes: Int
    public var maxParamValueBytes: Int

    public init(path: String = "/dev/log", facility: SyslogFacility = .daemon, appName: String = "darknetd",
                hostname: String? = nil, maxMessageBytes: Int = 2048, maxParamValueBytes: Int = 256) {
        self.path = path
        self.facility = facility
        self.appName = appName
        self.hostname = hostname
        self.maxMessageBytes = maxMessageBytes
        self.maxParamValueBytes = maxParamValueBytes
    }

    enum CodingKeys: String, CodingKey {
        case path, facility, appName = "app_name", hostname
        case maxMessageBytes = "max_message_bytes", maxParamValueBytes = "max_param_value_bytes"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SyslogConfig()
        path = try c.value(.path, or: d.path)
        facility = try c.value(.facility, or: d.facility)
        appName = try c.value(.appName, or: d.appName)
        hostname = try c.decodeIfPresent(String.self, forKey: .hostname)
        maxMessageBytes = try c.value(.maxMessageBytes, or: d.maxMessageBytes)
        maxParamValueBytes = try c.value(.maxParamValueBytes, or: d.maxParamValueBytes)
    }
}

public struct SyslogCounters: Sendable, Equatable {
    /// Datagrams accepted by the kernel.
    public var sent: UInt64 = 0
    /// Alerts not delivered (any reason below).
    public var failed: UInt64 = 0
    /// Socket could not be created, or the path does not fit a sockaddr_un.
    public var socketErrors: UInt64 = 0
    /// sendto failed: no listener (ENOENT, ECONNREFUSED), full (EAGAIN, ENOBUFS), ...
    public var sendErrors: UInt64 = 0
    /// Sockets re-created after an error.
    public var reopens: UInt64 = 0
    /// errno of the last failure, 0 if none.
    public var lastErrno: Int32 = 0
}

/// One alert = one RFC 5424 datagram to a Unix datagram socket (default /dev/log).
///
/// Never throws and never blocks: sends use MSG_DONTWAIT; every failure is counted and the
/// alert dropped. After an error other than a full buffer (EAGAIN/ENOBUFS) the socket is
/// closed and re-created on the next send. `sendto` names the path on every datagram, so a
/// restarted syslog daemon is picked up without reconnecting. This file holds the module's
/// only unsafe code (sockaddr_un and the send buffer).
public final class SyslogWriter: Sendable {
    public let config: SyslogConfig
    private let hostname: String
    private let procID: String
    private struct State {
        var fd: Int32 = -1
        var opened = false
        var counters = SyslogCounters()
    }
    private let state = Mutex(State())

    public init(config: SyslogConfig = SyslogConfig()) {
        self.config = config
        self.hostname = config.hostname ?? SyslogWriter.machineName()
        self.procID = String(getpid())
    }

    deinit {
        state.withLock { s in
            if s.fd >= 0 { Glibc.close(s.fd) }
            s.fd = -1
        }
    }

    public var counters: SyslogCounters { state.withLock { $0.counters } }

    /// The exact bytes `send` writes for `alert`.
    public func format(_ alert: Alert) -> [UInt8] {
        SyslogFormat.message(alert, facility: config.facility, hostname: hostname, appName: config.appName,
                             procID: procID, maxBytes: config.maxMessageBytes,
                             maxParamValueBytes: config.maxParamValueBytes)
    }

    /// Sends one alert; false (and counted) when it could not be delivered.
    @discardableResult
    public func send(_ alert: Alert) -> Bool {
        send(datagram: format(alert))
    }

    @discardableResult
    public func send(datagram: [UInt8]) -> Bool {
        state.withLock { s in
            if s.fd < 0 {
                let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                if fd < 0 {
                    s.counters.socketErrors += 1
                    s.counters.failed += 1
                    s.counters.lastErrno = errno
                    return false
                }
                if s.opened { s.counters.reopens += 1 }
                s.opened = true
                s.fd = fd
            }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let path = Array(config.path.utf8)
            let capacity = MemoryLayout.size(ofValue: address.sun_path)
            guard !path.isEmpty, path.count < capacity, !path.contains(0) else {
                s.counters.socketErrors += 1
                s.counters.failed += 1
                s.counters.lastErrno = ENAMETOOLONG
                return false
            }
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path) }
            let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count + 1)
            let result = datagram.withUnsafeBytes { buffer in
                withUnsafePointer(to: &address) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                        sendto(s.fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL), sa, length)
                    }
                }
            }
            if result == datagram.count {
                s.counters.sent += 1
                return true
            }
            let code = result < 0 ? errno : EMSGSIZE
            s.counters.sendErrors += 1
            s.counters.failed += 1
            s.counters.lastErrno = code
            if code != EAGAIN && code != EWOULDBLOCK && code != ENOBUFS && code != EINTR {
                Glibc.close(s.fd)
                s.fd = -1
            }
            return false
        }
    }

    /// Closes the socket; the next send opens a new one.
    public func close() {
        state.withLock { s in
            if s.fd >= 0 { Glibc.close(s.fd) }
            s.fd = -1
        }
    }

    static func machineName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "-" }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return bytes.isEmpty ? "-" : String(decoding: bytes, as: UTF8.self)
    }
}
