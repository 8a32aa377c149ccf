import Decoding
import Foundation
import GeoIP

/// CSV with a header row (docs/feeds.md, "CSV"). The first line that is not
/// blank or a `#` comment is the header; column names are matched
/// case-insensitively against several aliases each, and unknown columns are
/// ignored. The header must name a time or a source column (or both); rows
/// without a time column get the arrival time. Fields follow RFC 4180
/// (quoted fields may contain commas and doubled quotes); a quoted field
/// cannot span lines (the reader is line-oriented), so an unterminated quote
/// is a bad line. A row must have as many fields as the header.
public struct CSVFeedParser: FeedLineParser, Sendable {
    /// The columns the parser recognises, each under several names.
    public enum Column: String, Sendable, CaseIterable {
        case time, source, destinationPort, ipProtocol, sourceCountry, targetCountry, service, count

        /// Header names (compared case-insensitively).
        public var aliases: [String] {
            switch self {
            case .time: ["time", "timestamp", "ts", "datetime", "date"]
            case .source: ["src", "src_ip", "source", "source_ip", "saddr", "ip"]
            case .destinationPort: ["dport", "dst_port", "port", "destination_port"]
            case .ipProtocol: ["proto", "protocol"]
            case .sourceCountry: ["country", "src_country", "countrycode", "cc"]
            case .targetCountry: ["target_country", "dst_country", "countrycode2"]
            case .service: ["svc", "service"]
            case .count: ["count", "events"]
            }
        }
    }

    /// Where each recognised column sits in a row.
    public struct Columns: Sendable, Equatable {
        /// Fields in the header (every row must have as many).
        public var count = 0
        public var index: [Column: Int] = [:]
    }

    /// The header's columns once it has been read.
    public private(set) var columns: Columns?
    private var headerLine: String?

    public init() {}

    /// The recognised columns of a header line, or `nil` when it names
    /// neither a time nor a source column (then it is not a usable header).
    public static func headerColumns(_ line: Substring) -> Columns? {
        guard case let .success(fields) = splitFields(line) else { return nil }
        var columns = Columns()
        columns.count = fields.count
        for (index, raw) in fields.enumerated() {
            let name = raw.trimmingCharacters(in: .whitespaces).lowercased()
            for column in Column.allCases where column.aliases.contains(name) {
                // The first column with a name wins; later duplicates are ignored.
                if columns.index[column] == nil { columns.index[column] = index }
            }
        }
        guard columns.index[.time] != nil || columns.index[.source] != nil else { return nil }
        return columns
    }

    public mutating func parse(line: Substring, defaultTimeNs: Int64) -> Result<[FeedEvent], FeedLineError> {
        let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
        if trimmed.isEmpty || trimmed.hasPrefix("#") { return .success([]) }
        guard let columns else {
            guard let found = CSVFeedParser.headerColumns(line) else {
                return .failure(FeedLineError(.missingHeader, "header '\(FieldValue.clip(line))' names no time column (time, timestamp, ts, datetime, date) and no source column (src, src_ip, source, source_ip, saddr, ip)"))
            }
            self.columns = found
            self.headerLine = String(line)
            return .success([])
        }
        // A repeated header (files concatenated with their headers) is not data.
        if line == headerLine?[...] { return .success([]) }
        let fields: [String]
        switch CSVFeedParser.splitFields(line) {
        case let .success(found): fields = found
        case let .failure(error): return .failure(error)
        }
        guard fields.count == columns.count else {
            return .failure(FeedLineError(.badCSV, "\(fields.count) fields, the header has \(columns.count)"))
        }
        func field(_ index: Int?) -> String? {
            guard let index else { return nil }
            let value = fields[index].trimmingCharacters(in: .whitespaces)
            return value.isEmpty ? nil : value
        }
        var time = defaultTimeNs
        if let text = field(columns.index[.time]) {
            guard let ns = FeedTime.nanoseconds(text: text) else {
                return .failure(FeedLineError(.badTime, "time '\(FieldValue.clip(text))' is not ISO 8601 or Unix seconds"))
            }
            time = ns
        }
        var source: IPAddress?
        if let text = field(columns.index[.source]) {
            switch FieldValue.address(text: text, field: "source") {
            case let .success(address): source = address
            case let .failure(error): return .failure(error)
            }
        }
        var port: UInt16?
        if let text = field(columns.index[.destinationPort]) {
            switch FieldValue.port(text: text, field: "port") {
            case let .success(value): port = value
            case let .failure(error): return .failure(error)
            }
        }
        var ipProtocol: UInt8?
        if let text = field(columns.index[.ipProtocol]) {
            switch FieldValue.ipProtocol(text: text, field: "protocol") {
            case let .success(value): ipProtocol = value
            case let .failure(error): return .failure(error)
            }
        }
        var count: UInt64 = 1
        if let text = field(columns.index[.count]) {
            switch FieldValue.count(text: text, field: "count") {
            case let .success(value): count = value
            case let .failure(error): return .failure(error)
            }
        }
        // A row that stands for no events imports nothing.
        if count == 0 { return .success([]) }
        return .success([FeedEvent(
            timestampNs: time,
            source: source,
            destinationPort: port,
            ipProtocol: ipProtocol,
            sourceCountry: field(columns.index[.sourceCountry]).map { FieldValue.country(text: $0) } ?? .unknown,
            targetCountry: field(columns.index[.targetCountry]).map { FieldValue.country(text: $0) } ?? .unknown,
            service: field(columns.index[.service]),
            count: count
        )])
    }

    /// Single-record form: the header line and ignorable lines are `nil`.
    public mutating func parseRecord(line: Substring, defaultTimeNs: Int64) -> Result<FeedEvent?, FeedLineError> {
        parse(line: line, defaultTimeNs: defaultTimeNs).map(\.first)
    }

    /// Splits one CSV record (RFC 4180): fields separated by commas (or
    /// `delimiter`: a tab for TSV); a field starting with `"` is quoted, `""`
    /// inside it is one quote, and it must end with a quote followed by the
    /// delimiter or the end of the line.
    public static func splitFields(_ line: Substring, delimiter: UInt8 = UInt8(ascii: ",")) -> Result<[String], FeedLineError> {
        var fields: [String] = []
        var current: [UInt8] = []
        let bytes = Array(line.utf8)
        var i = 0
        var atFieldStart = true
        while i <= bytes.count {
            if i == bytes.count {
                fields.append(String(decoding: current, as: UTF8.self))
                break
            }
            let c = bytes[i]
            if atFieldStart, c == UInt8(ascii: "\"") {
                // Quoted field.
                i += 1
                var closed = false
                while i < bytes.count {
                    if bytes[i] == UInt8(ascii: "\"") {
                        if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "\"") {
                            current.append(UInt8(ascii: "\""))
                            i += 2
                            continue
                        }
                        closed = true
                        i += 1
                        break
                    }
                    current.append(bytes[i])
                    i += 1
                }
                guard closed else { return .failure(FeedLineError(.badCSV, "unterminated quoted field \(fields.count + 1)")) }
                guard i == bytes.count || bytes[i] == delimiter else {
                    return .failure(FeedLineError(.badCSV, "text after the closing quote of field \(fields.count + 1)"))
                }
                atFieldStart = false
                continue
            }
            if c == delimiter {
                fields.append(String(decoding: current, as: UTF8.self))
                current.removeAll(keepingCapacity: true)
                atFieldStart = true
            } else {
                current.append(c)
                atFieldStart = false
            }
            i += 1
        }
        return .success(fields)
    }
}
