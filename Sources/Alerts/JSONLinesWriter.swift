import Foundation
import Glibc
import Synchronization

/// One JSON object per line (keys sorted, no pretty printing), as written by `JSONLinesWriter`.
public enum AlertJSON {
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    public static func line(_ alert: Alert) throws -> String {
        String(decoding: try encoder().encode(alert), as: UTF8.self)
    }

    public static func decode(line: some StringProtocol) throws -> Alert {
        try JSONDecoder().decode(Alert.self, from: Data(line.utf8))
    }
}

public struct JSONLinesCounters: Sendable, Equatable {
    public var written: UInt64 = 0
    /// Attempts that failed (open, encode or write failure).
    public var failed: UInt64 = 0
    public var reopens: UInt64 = 0
    /// errno of the last failure, 0 if none.
    public var lastErrno: Int32 = 0
}

/// Appends one JSON object per alert to a file opened with O_APPEND (each line is one
/// write(2), so concurrent appenders do not interleave within a line). `reopen()` after
/// log rotation starts a new file at the same path. `deliver` makes one attempt and says
/// what happened (a full disk is ENOSPC, retryable: the line is cut back, never left torn);
/// a failed file is reopened on the next attempt. File calls: `SinkSocket`.
public final class JSONLinesWriter: AlertTransport {
    public let path: String
    private struct State {
        var fd: Int32
        var counters = JSONLinesCounters()
        let encoder = AlertJSON.encoder()
    }
    private let state: Mutex<State>

    /// Opens (creating with mode 0644) `path`; throws if it cannot, so a bad path fails at startup.
    public init(path: String) throws {
        self.path = path
        let fd = try Self.open(path)
        state = Mutex(State(fd: fd))
    }

    deinit {
        state.withLock { s in
            SinkSocket.close(s.fd)
            s.fd = -1
        }
    }

    public var counters: JSONLinesCounters { state.withLock { $0.counters } }

    @discardableResult
    public func write(_ alert: Alert) -> Bool {
        deliver(alert) == .delivered
    }

    public func deliver(_ alert: Alert) -> DeliveryResult {
        state.withLock { s in
            guard let data = try? s.encoder.encode(alert) else {
                s.counters.failed += 1
                s.counters.lastErrno = EINVAL
                return .failed(SystemCallError("encode", EINVAL), retryable: false)
            }
            var line = [UInt8](data)
            line.append(0x0A)
            if s.fd < 0 {
                switch SinkSocket.openAppend(path) {
                case .success(let fd):
                    s.fd = fd
                    s.counters.reopens += 1
                case .failure(let error):
                    s.counters.failed += 1
                    s.counters.lastErrno = error.errno
                    return .failed(error, retryable: true)
                }
            }
            switch SinkSocket.append(s.fd, line) {
            case .success:
                s.counters.written += 1
                return .delivered
            case .failure(let error):
                s.counters.failed += 1
                s.counters.lastErrno = error.errno
                if error.errno != ENOSPC && error.errno != EDQUOT {
                    SinkSocket.close(s.fd)
                    s.fd = -1
                }
                return .failed(error, retryable: true)
            }
        }
    }

    /// Closes and reopens the path (after logrotate moved the file away).
    public func reopen() throws {
        let fresh = try Self.open(path)
        state.withLock { s in
            SinkSocket.close(s.fd)
            s.fd = fresh
            s.counters.reopens += 1
        }
    }

    public struct OpenError: Error, Equatable {
        public var path: String
        public var errno: Int32
    }

    private static func open(_ path: String) throws -> Int32 {
        switch SinkSocket.openAppend(path) {
        case .success(let fd): return fd
        case .failure(let error): throw OpenError(path: path, errno: error.errno)
        }
    }
}
