import Foundation
import Interchange

/// Why a stats request failed on the client side; one line each, saying
/// what to do about it.
public enum StatsClientError: Error, Sendable, Equatable, CustomStringConvertible {
    case notRunning(path: String)
    case permissionDenied(path: String)
    case timeout(path: String, seconds: Double)
    case closed(path: String)
    case system(operation: String, path: String, errno: Int32)
    case badResponse(String)

    public var description: String {
        switch self {
        case .notRunning(let path): return "darknetd is not running (no socket at \(path))"
        case .permissionDenied(let path): return "cannot access \(path): permission denied; add your user to the socket's group"
        case .timeout(let path, let seconds): return "no answer from darknetd at \(path) within \(Self.seconds(seconds))"
        case .closed(let path): return "darknetd at \(path) closed the connection without answering"
        case .system(let operation, let path, let code): return "\(operation) \(path): \(String(cString: strerror(code)))"
        case .badResponse(let message): return "unreadable answer from darknetd: \(message)"
        }
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}

/// A blocking one-request client of the stats socket (plain POSIX sockets:
/// no event loop needed for one line out and one line in).
public enum StatsClient {
    /// Sends `request` and returns the parsed response (an `ok: false`
    /// response is returned, not thrown).
    public static func send(_ request: StatsRequest, socketPath: String, timeout: Double = 5) throws(StatsClientError) -> StatsResponse {
        let line = try exchange(StatsProtocol.encodeRequest(request), socketPath: socketPath, timeout: timeout)
        do {
            return try StatsProtocol.decodeResponse(line)
        } catch {
            throw .badResponse(error.message)
        }
    }

    /// Sends raw bytes (which should end with a newline) and returns the
    /// first response line, without its newline.
    public static func exchange(_ bytes: Data, socketPath path: String, timeout: Double = 5) throws(StatsClientError) -> Data {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system(operation: "socket", path: path, errno: errno) }
        defer { close(fd) }
        var interval = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        // Linux has no SO_NOSIGPIPE: every send below passes MSG_NOSIGNAL.
        let connected: Int32? = withUnixAddress(path) { address, length in
            connect(fd, address, length) == 0 ? 0 : errno
        }
        switch connected {
        case nil: throw .system(operation: "connect", path: path, errno: ENAMETOOLONG)
        case 0?: break
        case (ENOENT)?, (ECONNREFUSED)?, (ENOTDIR)?: throw .notRunning(path: path)
        case (EACCES)?, (EPERM)?: throw .permissionDenied(path: path)
        case (EAGAIN)?, (EINPROGRESS)?, (ETIMEDOUT)?: throw .timeout(path: path, seconds: timeout)
        case let code?: throw .system(operation: "connect", path: path, errno: code)
        }

        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw .timeout(path: path, seconds: timeout) }
                if errno == EPIPE || errno == ECONNRESET { throw .closed(path: path) }
                throw .system(operation: "send", path: path, errno: errno)
            }
            offset += written
        }

        var received = Data()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        while true {
            if let newline = received.firstIndex(of: 0x0A) {
                return received[received.startIndex..<newline]
            }
            if ContinuousClock.now >= deadline { throw .timeout(path: path, seconds: timeout) }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received.append(contentsOf: chunk[0..<count])
            } else if count == 0 {
                if received.isEmpty { throw .closed(path: path) }
                return received  // a last line without newline
            } else {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw .timeout(path: path, seconds: timeout) }
                if errno == ECONNRESET { throw .closed(path: path) }
                throw .system(operation: "recv", path: path, errno: errno)
            }
        }
    }
}

/// Human rendering of a response's `data`: key/value lines for objects,
/// aligned columns for arrays of objects, text as is for `metrics`.
public enum StatsTextRenderer {
    public static func render(command: String, data: JSONValue) -> String {
        if let members = data.objectValue, members.count == 1, let text = members["text"]?.stringValue {
            return text.hasSuffix("\n") ? String(text.dropLast()) : text
        }
        var lines: [String] = []
        render(data, indent: "", into: &lines)
        return lines.joined(separator: "\n")
    }

    /// Columns that identify a row come first, then the rest alphabetically.
    static let leadingColumns = ["name", "address", "source", "victim", "country", "kind", "proto", "port", "start", "end"]

    static func render(_ value: JSONValue, indent: String, into lines: inout [String]) {
        switch value {
        case .object(let members):
            let keys = members.keys.sorted()
            let inline = keys.filter { isInline(members[$0]!) }
            let width = inline.map(\.count).max() ?? 0
            for key in inline {
                lines.append(indent + pad(key, width) + "  " + inlineText(members[key]!))
            }
            for key in keys where !isInline(members[key]!) {
                lines.append(indent + key + ":")
                render(members[key]!, indent: indent + "  ", into: &lines)
            }
        case .array(let items):
            if items.isEmpty {
                lines.append(indent + "(none)")
            } else if items.allSatisfy({ $0.objectValue != nil }) {
                table(items.compactMap(\.objectValue), indent: indent, into: &lines)
            } else {
                for item in items {
                    if isInline(item) {
                        lines.append(indent + "- " + inlineText(item))
                    } else {
                        lines.append(indent + "-")
                        render(item, indent: indent + "  ", into: &lines)
                    }
                }
            }
        default:
            lines.append(indent + inlineText(value))
        }
    }

    static func table(_ rows: [[String: JSONValue]], indent: String, into lines: inout [String]) {
        var columns: [String] = []
        var seen = Set<String>()
        for row in rows {
            for key in row.keys.sorted() where seen.insert(key).inserted { columns.append(key) }
        }
        columns.sort { a, b in
            let ia = leadingColumns.firstIndex(of: a) ?? leadingColumns.count
            let ib = leadingColumns.firstIndex(of: b) ?? leadingColumns.count
            return ia != ib ? ia < ib : a < b
        }
        let cells = rows.map { row in columns.map { row[$0].map(inlineText) ?? "-" } }
        let numeric = columns.indices.map { column in
            rows.allSatisfy { row in
                switch row[columns[column]] {
                case .integer?, .unsigned?, .double?, nil, .null?: true
                default: false
                }
            }
        }
        let widths = columns.indices.map { column in
            max(columns[column].count, cells.map { $0[column].count }.max() ?? 0)
        }
        func line(_ values: [String]) -> String {
            let padded = values.indices.map { i in
                numeric[i] ? padLeft(values[i], widths[i]) : pad(values[i], widths[i])
            }
            return indent + padded.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        lines.append(line(columns.map { $0.uppercased() }))
        for row in cells { lines.append(line(row)) }
    }

    static func isInline(_ value: JSONValue) -> Bool {
        switch value {
        case .object(let members): return members.isEmpty
        case .array(let items): return items.allSatisfy(\.isScalar)
        default: return true
        }
    }

    static func inlineText(_ value: JSONValue) -> String {
        switch value {
        case .array(let items) where items.allSatisfy(\.isScalar):
            return items.isEmpty ? "-" : items.map(\.displayText).joined(separator: ", ")
        case .object(let members) where members.isEmpty:
            return "-"
        default:
            return value.displayText
        }
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    static func padLeft(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }
}
