import Foundation
import StatsWire
import Synchronization

/// The sd_notify protocol, spoken directly (no libsystemd): each message is
/// one datagram of newline-separated `KEY=VALUE` assignments sent to the
/// AF_UNIX socket named by `$NOTIFY_SOCKET` (a path, or `@name` for an
/// abstract socket). Without `$NOTIFY_SOCKET` every call does nothing.
/// Failures are counted and never thrown: a supervisor's absence must not
/// stop the sensor. Nor may a supervisor that stops reading: sends never
/// block. A full socket (EAGAIN) drops a `WATCHDOG=1` or `STATUS=` at once,
/// since the next one follows within seconds; a state change (`READY=1`,
/// `RELOADING=1`, `STOPPING=1`) is retried every 10 ms for up to
/// `stateChangePatience`. (A blocking send here once hung a shutdown for
/// good: the listener had stopped reading, the heartbeat blocked in
/// `sendto`, and the service group waited on the heartbeat.)
public final class SystemdNotifier: Sendable {
    /// Where datagrams go; nil when not supervised by systemd.
    public let socketPath: String?
    private let watchdogUsec: String?
    private let watchdogPid: String?
    private let failures = Atomic<Int>(0)
    private let sent = Atomic<Int>(0)
    private let lastError = Mutex<String?>(nil)
    /// How long a state change waits for room in a full socket.
    public let stateChangePatience: Duration

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from
    /// `environment` (the process environment by default; tests pass their own).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                stateChangePatience: Duration = .seconds(1)) {
        self.stateChangePatience = stateChangePatience
        let path = environment["NOTIFY_SOCKET"]
        socketPath = (path?.isEmpty ?? true) ? nil : path
        watchdogUsec = environment["WATCHDOG_USEC"]
        watchdogPid = environment["WATCHDOG_PID"]
    }

    public var isEnabled: Bool { socketPath != nil }
    /// Datagrams that could not be sent.
    public var errorCount: Int { failures.load(ordering: .relaxed) }
    /// Datagrams sent.
    public var sentCount: Int { sent.load(ordering: .relaxed) }
    /// The last failure, e.g. "sendto /run/systemd/notify: Connection refused".
    public var lastErrorDescription: String? { lastError.withLock { $0 } }

    /// `READY=1`, with a `STATUS=` line when given.
    @discardableResult
    public func ready(status: String? = nil) -> Bool {
        send(["READY=1"] + (status.map { ["STATUS=\(Self.oneLine($0))"] } ?? []), patience: stateChangePatience)
    }

    /// `STATUS=...`: the free-form line `systemctl status` shows.
    @discardableResult
    public func status(_ text: String) -> Bool {
        send(["STATUS=\(Self.oneLine(text))"])
    }

    /// `WATCHDOG=1`: the keep-alive; send every `watchdogInterval()`.
    @discardableResult
    public func watchdog() -> Bool {
        send(["WATCHDOG=1"])
    }

    /// `STOPPING=1`, at the start of shutdown.
    @discardableResult
    public func stopping(status: String? = nil) -> Bool {
        send(["STOPPING=1"] + (status.map { ["STATUS=\(Self.oneLine($0))"] } ?? []), patience: stateChangePatience)
    }

    /// `RELOADING=1` with `MONOTONIC_USEC=` (CLOCK_MONOTONIC, as `Type=notify-reload`
    /// requires); send `ready()` when the reload is done.
    @discardableResult
    public func reloading() -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let usec = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
        return send(["RELOADING=1", "MONOTONIC_USEC=\(usec)"], patience: stateChangePatience)
    }

    /// Half of `$WATCHDOG_USEC` (systemd's advice), or nil when the watchdog
    /// is off, the value is not a positive integer, or `$WATCHDOG_PID` names
    /// another process.
    public func watchdogInterval(pid: pid_t = getpid()) -> Duration? {
        guard let text = watchdogUsec, let usec = UInt64(text), usec > 0 else { return nil }
        if let watchdogPid, !watchdogPid.isEmpty {
            guard let expected = pid_t(watchdogPid), expected == pid else { return nil }
        }
        return .microseconds(Int64(clamping: usec / 2))
    }

    /// Sends one datagram made of `assignments` joined by newlines, without
    /// blocking; while the socket is full (EAGAIN) it retries every 10 ms for
    /// up to `patience`. Returns whether it was sent (false, and nothing
    /// counted, when disabled).
    @discardableResult
    public func send(_ assignments: [String], patience: Duration = .zero) -> Bool {
        guard let socketPath else { return false }
        let message = Array(assignments.joined(separator: "\n").utf8)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return record(failure: "socket", errno) }
        defer { close(fd) }
        let deadline = ContinuousClock.now + patience
        let result: (sent: Int, errno: Int32)? = withUnixAddress(socketPath) { address, length in
            while true {
                let n = message.withUnsafeBytes { bytes in
                    sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL), address, length)
                }
                let code = n < 0 ? errno : 0
                guard n < 0, code == EAGAIN || code == EWOULDBLOCK, ContinuousClock.now < deadline else { return (n, code) }
                usleep(10_000)
            }
        }
        guard let result else { return record(failure: "address too long", ENAMETOOLONG) }
        guard result.sent == message.count else { return record(failure: "sendto", result.sent < 0 ? result.errno : EMSGSIZE) }
        sent.wrappingAdd(1, ordering: .relaxed)
        return true
    }

    private func record(failure operation: String, _ code: Int32) -> Bool {
        failures.wrappingAdd(1, ordering: .relaxed)
        let text = "\(operation) \(socketPath ?? ""): \(String(cString: strerror(code)))"
        lastError.withLock { $0 = text }
        return false
    }

    /// STATUS= is one line: newlines would start new assignments.
    static func oneLine(_ text: String) -> String {
        text.replacingOccurrences(of: "\n", with: " ")
    }
}
