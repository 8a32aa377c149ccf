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
    /// Alerts not written (open, encode or write failure).
    public var failed: UInt64 = 0
    public var reopens: UInt64 = 0
}

/// Appends one JSON object per alert to a file opened with O_APPEND (each line is one
/// write(2), so concurrent appenders do not interleave within a line). `reopen()` after
/// log rotation starts a new file at the same path. Write failures are counted, never
/// thrown; a failed file is reopened on the next write.
public final class JSONLinesWriter: Sendable {
    public let path: String
    private struct State {
        var handle: FileHandle?
        var counters = JSONLinesCounters()
        let encoder = AlertJSON.encoder()
    }
    private let state: Mutex<State>

    /// Opens (creating with mode 0644) `path`; throws if it cannot, so a bad path fails at startup.
    public init(path: String) throws {
        self.path = path
        let handle = try Self.open(path)
        state = Mutex(State(handle: handle))
    }

    deinit {
        state.withLock { s in
            try? s.handle?.close()
            s.handle = nil
        }
    }

    public var counters: JSONLinesCounters { state.withLock { $0.counters } }

    @discardableResult
    public func write(_ alert: Alert) -> Bool {
        state.withLock { s in
            guard var data = try? s.encoder.encode(alert) else {
                s.counters.failed += 1
                return false
            }
            data.append(0x0A)
            if s.handle == nil {
                s.handle = try? Self.open(path)
                if s.handle != nil { s.counters.reopens += 1 }
            }
            guard let handle = s.handle else {
                s.counters.failed += 1
                return false
            }
            do {
                try handle.write(contentsOf: data)
                s.counters.written += 1
                return true
            } catch {
                s.counters.failed += 1
                try? handle.close()
                s.handle = nil
                return false
            }
        }
    }

    /// Closes and reopens the path (after logrotate moved the file away).
    public func reopen() throws {
        let fresh = try Self.open(path)
        state.withLock { s in
            try? s.handle?.close()
            s.handle = fresh
            s.counters.reopens += 1
        }
    }

    public struct OpenError: Error, Equatable {
        public var path: String
        public var errno: Int32
    }

    private static func open(_ path: String) throws -> FileHandle {
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OpenError(path: path, errno: errno) }
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }
}
