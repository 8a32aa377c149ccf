import Glibc
import Synchronization

/// What one attempt to hand an alert to a sink's destination gave.
public enum DeliveryResult: Sendable, Equatable {
    case delivered
    /// Not delivered; `retryable` false when trying again cannot help (the alert does not
    /// encode, or does not fit the destination).
    case failed(SystemCallError, retryable: Bool)

    /// The usual split: a destination that is away or full (ENOENT, ECONNREFUSED, EAGAIN,
    /// ENOBUFS, ENOSPC, ...) may come back; a message too large or a path that cannot be
    /// named never will.
    public static func failure(_ error: SystemCallError) -> DeliveryResult {
        .failed(error, retryable: ![EMSGSIZE, ENAMETOOLONG, EINVAL].contains(error.errno))
    }
}

/// A destination for alerts: one attempt, never blocking for long, never throwing.
public protocol AlertTransport: Sendable {
    func deliver(_ alert: Alert) -> DeliveryResult
}

/// Bounds of a sink's retry queue.
public struct DeliveryConfig: Sendable, Equatable {
    /// Alerts waiting at most; beyond it the oldest is dropped (and counted).
    public var queueLimit: Int
    /// Wait after the first failed attempt; doubled after each further one, up to `maxBackoffNs`.
    public var initialBackoffNs: Int64
    public var maxBackoffNs: Int64
    /// At most one "sink down" log line per this interval (outages in between are counted
    /// and named in the next line).
    public var downLogIntervalNs: Int64
    /// A full receiver (EAGAIN, ENOBUFS: a burst beyond the socket's queue) is an outage only
    /// once it lasts this long; before, its alerts wait and are retried all the same.
    public var busyGraceNs: Int64 = 5_000_000_000

    public init(queueLimit: Int = 1000, initialBackoffNs: Int64 = 250_000_000, maxBackoffNs: Int64 = 10_000_000_000,
                downLogIntervalNs: Int64 = 60_000_000_000) {
        self.queueLimit = queueLimit
        self.initialBackoffNs = initialBackoffNs
        self.maxBackoffNs = maxBackoffNs
        self.downLogIntervalNs = downLogIntervalNs
    }
}

/// A sink's delivery figures (the per-sink metrics).
public struct SinkCounters: Sendable, Equatable {
    /// Alerts the destination accepted (each alert once).
    public var sent: UInt64 = 0
    /// Attempts that failed (one alert may fail many times before it is sent).
    public var failedAttempts: UInt64 = 0
    /// Alerts waiting now.
    public var queued: Int = 0
    /// Alerts given up: pushed out of a full queue, or refused for good (`rejected`).
    public var dropped: UInt64 = 0
    /// Of `dropped`: failures that retrying cannot fix (EMSGSIZE, encoding).
    public var rejected: UInt64 = 0
    /// Whether the sink is down: attempts fail (a full receiver: for `busyGraceNs` already).
    public var down = false
    /// The last failure, if any.
    public var lastError: SystemCallError?

    public init() {}
}

/// A sink going down or coming back, for the operator's log.
public enum SinkEvent: Sendable, Equatable {
    /// The first failed attempt after deliveries worked. `unloggedOutages`: outages since
    /// the previous logged one that were not logged (rate limit).
    case down(sink: String, error: SystemCallError, queued: Int, unloggedOutages: Int)
    /// Deliveries work again: how long it was down, the alerts delivered from the queue so
    /// far, and the ones dropped while down.
    case up(sink: String, downNs: Int64, dropped: UInt64)

    public var text: String {
        switch self {
        case let .down(sink, error, queued, unlogged):
            return "alert sink \(sink) down: \(error); alerts queued and retried (\(queued) waiting)"
                + (unlogged > 0 ? "; \(unlogged) shorter outages since the last such line" : "")
        case let .up(sink, downNs, dropped):
            let seconds = Double(downNs / 1_000_000) / 1000
            return "alert sink \(sink) back after \(seconds) s" + (dropped > 0 ? "; \(dropped) alerts dropped meanwhile (queue full)" : "; nothing lost")
        }
    }
}

/// One sink: a bounded queue in front of a transport. `submit` queues the alert and tries
/// to deliver the queue in order; a failed attempt keeps the alert at the head and waits
/// (backoff, doubling) before the next attempt, which `submit` or `retry` (the daemon's
/// tick) makes once the wait is over. Nothing is dropped but the oldest of a full queue
/// and alerts refused for good; both counted. The clock is CLOCK_MONOTONIC unless given.
public final class AlertSink: Sendable {
    public let name: String
    public let transport: any AlertTransport
    public let config: DeliveryConfig
    let onEvent: @Sendable (SinkEvent) -> Void

    struct State {
        var queue: [Alert] = []
        var head = 0
        var counters = SinkCounters()
        var nextAttemptNs: Int64 = .min
        var backoffNs: Int64 = 0
        var downSinceNs: Int64 = 0
        /// First failure since the last delivery; nil while deliveries work.
        var failingSinceNs: Int64?
        var downLogged = false
        var lastDownLogNs: Int64?
        var unloggedOutages = 0
        var droppedAtDown: UInt64 = 0
        var count: Int { queue.count - head }
    }
    private let state = Mutex(State())

    public init(name: String, transport: any AlertTransport, config: DeliveryConfig = DeliveryConfig(),
                onEvent: @escaping @Sendable (SinkEvent) -> Void = { _ in }) {
        self.name = name
        self.transport = transport
        self.config = config
        self.onEvent = onEvent
    }

    public var counters: SinkCounters { state.withLock { $0.counters } }

    public static func monotonicNs() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }

    /// Queues `alert` and delivers what the backoff allows now.
    public func submit(_ alert: Alert, nowNs: Int64 = AlertSink.monotonicNs()) {
        let events = state.withLock { s -> [SinkEvent] in
            if s.count >= max(1, config.queueLimit) {
                s.head += 1
                s.counters.dropped += 1
            }
            s.queue.append(alert)
            return pump(&s, nowNs: nowNs)
        }
        events.forEach(onEvent)
    }

    /// The timer's turn: retries the queue if its backoff is over. Cheap when nothing waits.
    public func retry(nowNs: Int64 = AlertSink.monotonicNs()) {
        let events = state.withLock { s in pump(&s, nowNs: nowNs) }
        events.forEach(onEvent)
    }

    /// Alerts waiting, oldest first (for tests and shutdown reports).
    public var pending: [Alert] { state.withLock { Array($0.queue[$0.head...]) } }

    private func pump(_ s: inout State, nowNs: Int64) -> [SinkEvent] {
        var events: [SinkEvent] = []
        defer {
            if s.head > 64 && s.head * 2 >= s.queue.count {
                s.queue.removeFirst(s.head)
                s.head = 0
            }
            s.counters.queued = s.count
        }
        guard s.count > 0, nowNs >= s.nextAttemptNs else { return events }
        while s.head < s.queue.count {
            switch transport.deliver(s.queue[s.head]) {
            case .delivered:
                s.head += 1
                s.counters.sent += 1
                if s.counters.down {
                    s.counters.down = false
                    if s.downLogged {
                        events.append(.up(sink: name, downNs: nowNs - s.downSinceNs, dropped: s.counters.dropped - s.droppedAtDown))
                    }
                }
                s.backoffNs = 0
                s.nextAttemptNs = .min
                s.failingSinceNs = nil
            case .failed(let error, let retryable):
                s.counters.failedAttempts += 1
                s.counters.lastError = error
                if !retryable {
                    s.head += 1
                    s.counters.dropped += 1
                    s.counters.rejected += 1
                    continue
                }
                let failingSince = s.failingSinceNs ?? nowNs
                s.failingSinceNs = failingSince
                let busy = [EAGAIN, EWOULDBLOCK, ENOBUFS].contains(error.errno)
                if !s.counters.down && (!busy || nowNs - failingSince >= config.busyGraceNs) {
                    s.counters.down = true
                    s.downSinceNs = failingSince
                    s.droppedAtDown = s.counters.dropped
                    if let last = s.lastDownLogNs, nowNs - last < config.downLogIntervalNs {
                        s.downLogged = false
                        s.unloggedOutages += 1
                    } else {
                        s.downLogged = true
                        s.lastDownLogNs = nowNs
                        events.append(.down(sink: name, error: error, queued: s.count, unloggedOutages: s.unloggedOutages))
                        s.unloggedOutages = 0
                    }
                }
                s.backoffNs = s.backoffNs == 0 ? max(1, config.initialBackoffNs) : min(s.backoffNs * 2, max(config.initialBackoffNs, config.maxBackoffNs))
                s.nextAttemptNs = nowNs + s.backoffNs
                return events
            }
        }
        return events
    }
}
