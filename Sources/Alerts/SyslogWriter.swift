import Glibc
import Synchronization

/// How a syslog alert is written.
public enum SyslogMessageFormat: String, Sendable, Codable, CaseIterable {
    /// The BSD line logger(1) sends to /dev/log, attributes as `key=value` (`LocalSyslogFormat`).
    case local
    /// systemd-journald's native protocol, one field per attribute (`JournalFormat`).
    case journal
    /// RFC 5424 with structured data (`SyslogFormat`), for a remote collector.
    case rfc5424
}

/// Where syslog alerts go.
public enum SyslogTarget: Sendable, Equatable, CustomStringConvertible {
    /// A Unix datagram socket: /dev/log, or journald's /run/systemd/journal/socket.
    case unix(String)
    /// A remote collector: one datagram per alert (RFC 5426).
    case udp(host: String, port: UInt16)
    /// A remote collector: octet-counted frames on one connection (RFC 6587 §3.4.1).
    case tcp(host: String, port: UInt16)

    /// `udp://HOST:PORT`, `tcp://HOST:PORT` (an IPv6 HOST in brackets), `unix:PATH` or an absolute path.
    public init?(parsing text: String) {
        if text.hasPrefix("/") {
            self = .unix(text)
            return
        }
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard path.hasPrefix("/") else { return nil }
            self = .unix(path)
            return
        }
        let stream: Bool
        if text.hasPrefix("udp://") { stream = false } else if text.hasPrefix("tcp://") { stream = true } else { return nil }
        let rest = Substring(text.dropFirst(6))
        let host: Substring
        let portText: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]"), rest[rest.index(after: close)...].hasPrefix(":") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            portText = rest[rest.index(close, offsetBy: 2)...]
        } else {
            guard let colon = rest.lastIndex(of: ":") else { return nil }
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains("/"), let port = UInt16(portText), port > 0 else { return nil }
        self = stream ? .tcp(host: String(host), port: port) : .udp(host: String(host), port: port)
    }

    public var description: String {
        switch self {
        case .unix(let path): path
        case .udp(let host, let port): "udp://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        case .tcp(let host, let port): "tcp://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        }
    }

    public var isRemote: Bool {
        if case .unix = self { return false }
        return true
    }
}

public struct SyslogConfig: Sendable, Equatable, Codable {
    public var target: SyslogTarget
    public var format: SyslogMessageFormat
    public var facility: SyslogFacility
    /// APP-NAME (RFC 5424), tag (local) or SYSLOG_IDENTIFIER (journal).
    public var appName: String
    /// HOSTNAME field of RFC 5424; nil: this machine's name (gethostname), "-" if unknown.
    public var hostname: String?
    /// Bound of a local or RFC 5424 message (a journal entry is not cut: too large for a
    /// datagram, it goes by memfd).
    public var maxMessageBytes: Int
    public var maxParamValueBytes: Int

    public init(target: SyslogTarget = .unix("/dev/log"), format: SyslogMessageFormat = .local, facility: SyslogFacility = .daemon,
                appName: String = "darknetd", hostname: String? = nil, maxMessageBytes: Int = 2048, maxParamValueBytes: Int = 256) {
        self.target = target
        self.format = format
        self.facility = facility
        self.appName = appName
        self.hostname = hostname
        self.maxMessageBytes = maxMessageBytes
        self.maxParamValueBytes = maxParamValueBytes
    }

    /// A Unix socket path as the target.
    public init(path: String, format: SyslogMessageFormat = .local, facility: SyslogFacility = .daemon,
                appName: String = "darknetd", hostname: String? = nil) {
        self.init(target: .unix(path), format: format, facility: facility, appName: appName, hostname: hostname)
    }

    enum CodingKeys: String, CodingKey {
        case path, target, format, facility, appName = "app_name", hostname
        case maxMessageBytes = "max_message_bytes", maxParamValueBytes = "max_param_value_bytes"
    }

    /// `target` (udp://, tcp://, unix:) or `path` (a Unix socket); the rest as named, defaults for what is absent.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SyslogConfig()
        if let text = try c.decodeIfPresent(String.self, forKey: .target) {
            guard let t = SyslogTarget(parsing: text) else {
                throw DecodingError.dataCorruptedError(forKey: .target, in: c, debugDescription: "expected udp://HOST:PORT, tcp://HOST:PORT or a path")
            }
            target = t
        } else {
            target = .unix(try c.value(.path, or: "/dev/log"))
        }
        format = try c.value(.format, or: d.format)
        facility = try c.value(.facility, or: d.facility)
        appName = try c.value(.appName, or: d.appName)
        hostname = try c.decodeIfPresent(String.self, forKey: .hostname)
        maxMessageBytes = try c.value(.maxMessageBytes, or: d.maxMessageBytes)
        maxParamValueBytes = try c.value(.maxParamValueBytes, or: d.maxParamValueBytes)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(target.description, forKey: .target)
        try c.encode(format, forKey: .format)
        try c.encode(facility, forKey: .facility)
        try c.encode(appName, forKey: .appName)
        try c.encodeIfPresent(hostname, forKey: .hostname)
        try c.encode(maxMessageBytes, forKey: .maxMessageBytes)
        try c.encode(maxParamValueBytes, forKey: .maxParamValueBytes)
    }

    /// The Unix socket path, if the target is one.
    public var path: String? {
        if case .unix(let p) = target { return p }
        return nil
    }
}

public struct SyslogCounters: Sendable, Equatable {
    /// Messages the destination accepted.
    public var sent: UInt64 = 0
    /// Attempts that failed (any reason below).
    public var failed: UInt64 = 0
    /// Socket could not be created or connected, or the path does not fit a sockaddr_un.
    public var socketErrors: UInt64 = 0
    /// The send failed: no listener (ENOENT, ECONNREFUSED), full (EAGAIN, ENOBUFS), ...
    public var sendErrors: UInt64 = 0
    /// Sockets re-created after an error.
    public var reopens: UInt64 = 0
    /// Journal entries too large for a datagram, sent as a sealed memfd.
    public var memfdEntries: UInt64 = 0
    /// errno of the last failure, 0 if none.
    public var lastErrno: Int32 = 0
}

/// One alert = one message to syslog: a datagram to a Unix socket (/dev/log in the local
/// format, journald's socket in its native protocol), a UDP datagram, or an octet-counted
/// TCP frame (RFC 5424 for a remote collector).
///
/// One attempt per call, never blocking on a Unix socket (MSG_DONTWAIT; TCP waits at most
/// its 2 s timeout): `deliver` says what happened and the caller (`AlertSink`) queues and
/// retries. After an error other than a full buffer (EAGAIN/ENOBUFS) the socket is closed
/// and re-created on the next attempt. `sendto` names the path on every datagram, so a
/// restarted syslog daemon is picked up without reconnecting. Socket calls: `SinkSocket`.
public final class SyslogWriter: AlertTransport {
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
            SinkSocket.close(s.fd)
            s.fd = -1
        }
    }

    public var counters: SyslogCounters { state.withLock { $0.counters } }

    /// The exact bytes `deliver` writes for `alert` (before TCP framing).
    public func format(_ alert: Alert, time: LocalTimestamp = .now()) -> [UInt8] {
        switch config.format {
        case .local:
            LocalSyslogFormat.message(alert, facility: config.facility, tag: config.appName, time: time,
                                      maxBytes: config.maxMessageBytes)
        case .journal:
            JournalFormat.entry(alert, facility: config.facility, identifier: config.appName)
        case .rfc5424:
            SyslogFormat.message(alert, facility: config.facility, hostname: hostname, appName: config.appName,
                                 procID: procID, maxBytes: config.maxMessageBytes,
                                 maxParamValueBytes: config.maxParamValueBytes)
        }
    }

    public func deliver(_ alert: Alert) -> DeliveryResult {
        deliver(message: format(alert))
    }

    /// Sends one alert; false (and counted) when it could not be delivered.
    @discardableResult
    public func send(_ alert: Alert) -> Bool {
        deliver(alert) == .delivered
    }

    @discardableResult
    public func send(datagram: [UInt8]) -> Bool {
        deliver(message: datagram) == .delivered
    }

    /// One attempt to hand `message` to the target.
    public func deliver(message: [UInt8]) -> DeliveryResult {
        state.withLock { s in
            func fail(_ error: SystemCallError, socket: Bool) -> DeliveryResult {
                if socket { s.counters.socketErrors += 1 } else { s.counters.sendErrors += 1 }
                s.counters.failed += 1
                s.counters.lastErrno = error.errno
                if error.errno != EAGAIN && error.errno != EWOULDBLOCK && error.errno != ENOBUFS {
                    SinkSocket.close(s.fd)
                    s.fd = -1
                }
                return .failure(error)
            }
            if s.fd < 0 {
                let made: Result<Int32, SystemCallError>
                switch config.target {
                case .unix: made = SinkSocket.unixDatagram()
                case .udp(let host, let port): made = SinkSocket.connect(host: host, port: port, stream: false)
                case .tcp(let host, let port): made = SinkSocket.connect(host: host, port: port, stream: true)
                }
                switch made {
                case .success(let fd):
                    if s.opened { s.counters.reopens += 1 }
                    s.opened = true
                    s.fd = fd
                case .failure(let error):
                    return fail(error, socket: true)
                }
            }
            let result: Result<Void, SystemCallError>
            switch config.target {
            case .unix(let path):
                var sent = SinkSocket.send(s.fd, to: path, message)
                if config.format == .journal, case .failure(let e) = sent, e.errno == EMSGSIZE {
                    sent = SinkSocket.sendSealedMemory(s.fd, to: path, message)
                    if case .success = sent { s.counters.memfdEntries += 1 }
                }
                if case .failure(let e) = sent, e.errno == ENAMETOOLONG { return fail(e, socket: true) }
                result = sent
            case .udp:
                result = SinkSocket.sendAll(s.fd, message)
            case .tcp:
                result = SinkSocket.sendAll(s.fd, Array("\(message.count) ".utf8) + message)
            }
            switch result {
            case .success:
                s.counters.sent += 1
                return .delivered
            case .failure(let error):
                return fail(error, socket: false)
            }
        }
    }

    /// Closes the socket; the next send opens a new one.
    public func close() {
        state.withLock { s in
            SinkSocket.close(s.fd)
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
