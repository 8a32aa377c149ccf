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

/// Human rendering of a response's `data` (`--json` prints the line as is):
/// key/value lines for objects, aligned columns for arrays of objects, text
/// as is for `metrics`. For people, not programs:
///
/// - a nested object in a table row becomes columns (`kernel.dropped`); one
///   with more than four members (traffic classes) keeps only the columns
///   that are not zero in every row;
/// - a list of objects in a row becomes one short cell: `udp/53 1200, tcp/23 800`,
///   `203.0.113.7 (412)`, lags as `-1: 0.41 (n 30)`; at most `listLimit` items
///   (lags all), then `+N more`;
/// - fractions are rounded to what matters (`0.472`, `12.3`, `4.1e-07`);
/// - `time_ns`, `severity_code` and columns with no value in any row are left out;
/// - `status` says `pending restart: KEY, …` first when a reload left keys for the next start.
public enum StatsTextRenderer {
    public static func render(command: String, data: JSONValue) -> String {
        if let members = data.objectValue, members.count == 1, let text = members["text"]?.stringValue {
            return text.hasSuffix("\n") ? String(text.dropLast()) : text
        }
        var lines: [String] = []
        var data = data
        if command == StatsCommand.status.rawValue, case .object(var members) = data, let pending = members["pending_restart"] {
            let keys = pending.arrayValue?.compactMap(\.stringValue) ?? []
            if !keys.isEmpty { lines.append("pending restart: " + keys.joined(separator: ", ")) }
            members["pending_restart"] = nil
            data = .object(members)
        }
        render(data, indent: "", into: &lines)
        return lines.joined(separator: "\n")
    }

    /// Columns that identify a row come first, then the rest alphabetically, then `trailingColumns`.
    static let leadingColumns = ["time", "severity", "rule", "name", "series", "address", "source", "victim", "country", "kind",
                                 "proto", "port", "start", "end"]
    static let trailingColumns = ["message"]
    /// Alert fields that repeat another (`time`, `severity`) in another form.
    static let hiddenColumns: Set<String> = ["time_ns", "severity_code"]
    /// Items of a list shown in one table cell.
    static let listLimit = 5

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

    /// A row with its nested objects spread into `parent.child` columns.
    static func flatten(_ row: [String: JSONValue]) -> (cells: [String: JSONValue], sparse: Set<String>) {
        var cells: [String: JSONValue] = [:]
        var sparse = Set<String>()
        for (key, value) in row {
            if case .object(let members) = value, !members.isEmpty, members.values.allSatisfy(\.isScalar) {
                for (child, inner) in members {
                    cells[key + "." + child] = inner
                    if members.count > 4 { sparse.insert(key + "." + child) }
                }
            } else {
                cells[key] = value
            }
        }
        return (cells, sparse)
    }

    static func table(_ rawRows: [[String: JSONValue]], indent: String, into lines: inout [String]) {
        let flattened = rawRows.map(flatten)
        let rows = flattened.map(\.cells)
        let sparse = flattened.reduce(into: Set<String>()) { $0.formUnion($1.sparse) }
        var columns: [String] = []
        var seen = Set<String>()
        for row in rows {
            for key in row.keys.sorted() where seen.insert(key).inserted { columns.append(key) }
        }
        // Members of wide nested objects that are zero everywhere say nothing; nor do
        // columns without a value, or what another column already says.
        columns.removeAll { column in
            hiddenColumns.contains(column) || rows.allSatisfy { row in
                switch row[column] {
                case nil, .null?: true
                default: false
                }
            }
        }
        columns.removeAll { column in
            sparse.contains(column) && rows.allSatisfy { row in
                switch row[column] {
                case nil, .null?: true
                case .integer(let v)?: v == 0
                case .unsigned(let v)?: v == 0
                case .double(let v)?: v == 0
                default: false
                }
            }
        }
        func rank(_ column: String) -> Int {
            if let i = leadingColumns.firstIndex(of: column) { return i }
            if let i = trailingColumns.firstIndex(of: column) { return leadingColumns.count + 1 + i }
            return leadingColumns.count
        }
        columns.sort { a, b in
            let ia = rank(a), ib = rank(b)
            return ia != ib ? ia < ib : a < b
        }
        let cells = rows.map { row in columns.map { row[$0].map(cellText) ?? "-" } }
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

    /// One table cell: scalars and scalar lists inline, a list of objects summarised.
    static func cellText(_ value: JSONValue) -> String {
        guard case .array(let items) = value, !items.isEmpty, items.allSatisfy({ $0.objectValue != nil }) else {
            return inlineText(value)
        }
        let objects = items.compactMap(\.objectValue)
        let isLags = objects.allSatisfy { $0["lag"] != nil }
        let limit = isLags ? objects.count : listLimit
        var parts = objects.prefix(limit).map(summary)
        if objects.count > limit { parts.append("+\(objects.count - limit) more") }
        return parts.joined(separator: ", ")
    }

    /// One object of a list, in a few characters: what it is, then how much.
    static func summary(_ object: [String: JSONValue]) -> String {
        if let lag = object["lag"]?.intValue {
            let r = object["pearson"].map(inlineText) ?? "-"
            let n = object["buckets"].map { " (n \(inlineText($0)))" } ?? ""
            return (lag > 0 ? "+\(lag)" : "\(lag)") + ": " + r + n
        }
        var name: String
        if let port = object["port"] {
            name = (object["proto"].map { inlineText($0) + "/" } ?? "") + inlineText(port)
        } else if let id = ["address", "source", "victim", "country", "name", "series"].lazy.compactMap({ object[$0] }).first {
            name = inlineText(id)
        } else {
            return object.keys.sorted().map { "\($0)=\(inlineText(object[$0]!))" }.joined(separator: " ")
        }
        if let amount = ["packets", "events", "count"].lazy.compactMap({ object[$0] }).first {
            name += object["port"] != nil ? " " + inlineText(amount) : " (\(inlineText(amount)))"
        }
        return name
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
            return items.isEmpty ? "-" : items.map(inlineText).joined(separator: ", ")
        case .object(let members) where members.isEmpty:
            return "-"
        case .double(let number):
            return rounded(number)
        default:
            return value.displayText
        }
    }

    /// A fraction rounded to what matters: whole numbers as integers, three
    /// significant digits below 1000 (at most three decimals), none above;
    /// tiny values (p-values) in exponent form.
    public static func rounded(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        let magnitude = abs(value)
        let text: String
        switch magnitude {
        case 1000...: return String(format: "%.0f", value)
        case 100..<1000: text = String(format: "%.0f", value)
        case 10..<100: text = String(format: "%.1f", value)
        case 1..<10: text = String(format: "%.2f", value)
        case 0.001..<1: text = String(format: "%.3f", value)
        default: return String(format: "%.1e", value)
        }
        guard text.contains(".") else { return text }
        var trimmed = Substring(text)
        while trimmed.hasSuffix("0") { trimmed = trimmed.dropLast() }
        if trimmed.hasSuffix(".") { trimmed = trimmed.dropLast() }
        return String(trimmed)
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    static func padLeft(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }
}
