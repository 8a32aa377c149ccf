import Decoding
import Foundation
import GeoIP
import Interchange
import Yams
#if canImport(CYaml)
// libyaml itself (Yams's C target), to bound nesting before Yams's recursive composer runs.
import CYaml
#endif

/// A YAML-declared reading of a JSON-lines or CSV/TSV feed: which field holds
/// the time, the source, the port (or a service name), the protocol, the
/// country (a code or a name) and the weight, so that any honeypot or threat
/// feed imports without code (docs/fleet.md, "Feed import"). `load` validates
/// the file, naming the key of every problem; `makeParser()` applies it to lines.
public struct FeedMapping: Sendable, Equatable {
    /// How the file's lines are read.
    public enum Kind: String, Sendable, CaseIterable {
        /// One JSON object per line; fields are keys, dotted paths (`a.b.c`) reach into objects.
        case jsonl
        /// Delimited fields (RFC 4180 quoting); fields are header names, or column numbers from 1.
        case csv
    }

    /// How a time field is written.
    public enum TimeFormat: String, Sendable, CaseIterable {
        /// ISO 8601 or Unix time, as the built-in formats read times (docs/feeds.md, "Times").
        case auto
        /// `2014-10-07T12:34:56Z`, `2014-10-07 12:34:56+09:00`, `2014-10-07` … (no zone: UTC).
        case iso8601
        /// A day, `2014-10-07` (midnight UTC).
        case date
        /// Unix time in seconds (a fraction allowed).
        case epochSeconds = "epoch-seconds"
        /// Unix time in milliseconds (a fraction allowed).
        case epochMilliseconds = "epoch-milliseconds"
    }

    /// Where a value comes from: a field of each record, or the same constant for all.
    public enum Value: Sendable, Equatable {
        case field(String)
        case constant(String)
    }

    public struct Time: Sendable, Equatable {
        public var value: Value
        public var format: TimeFormat
    }

    /// Records whose `field` is not one of `values` are passed over (not rejected).
    public struct Filter: Sendable, Equatable {
        public var field: String
        public var values: [String]
    }

    /// The mapping file's name (its last path component): `mapping:NAME` in `feed_imports.format`.
    public var name: String
    public var kind: Kind
    /// CSV: the field separator (`,` by default; a tab for TSV).
    public var delimiter: UInt8 = UInt8(ascii: ",")
    /// CSV: whether the first line (not blank, not a `#` comment) names the columns.
    public var header = true
    public var time: Time
    /// Set when the feed gives an end as well; `time` is then the start.
    public var endTime: Time?
    public var source: Value?
    /// A port number, or a service name looked up in `services`, then `ServiceNames.builtIn`.
    public var port: Value?
    public var ipProtocol: Value?
    /// An ISO 3166 alpha-2 code, or a country name looked up in `countries`, then `CountryNames`.
    public var country: Value?
    /// How many events the record stands for: a field, or a constant (default 1).
    public var weight: Value = .constant("1")
    public var only: [Filter] = []
    /// The mapping's own service names (lowercased) → ports.
    public var services: [String: UInt16] = [:]
    /// The mapping's own country names (`CountryNames.key` form) → codes.
    public var countries: [String: CountryCode] = [:]

    /// The reader's label in `feed_imports.format` and messages.
    public var label: String { "mapping:\(name)" }

    /// Mapping files larger than this are refused (a mapping is a few lines).
    public static let maxFileBytes = 1 << 20
    /// YAML collections nested deeper than this are refused before Yams composes them.
    public static let maxNestingDepth = 16

    public init(name: String, kind: Kind, time: Time) {
        self.name = name
        self.kind = kind
        self.time = time
    }

    /// Reads and validates a mapping file.
    public static func load(path: String) throws(FeedMappingError) -> FeedMapping {
        let name = URL(fileURLWithPath: path).lastPathComponent
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw FeedMappingError(file: name, message: "cannot read \(path): \((error as NSError).localizedDescription)")
        }
        guard data.count <= maxFileBytes else {
            throw FeedMappingError(file: name, message: "\(data.count) bytes; a mapping file has at most \(maxFileBytes)")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw FeedMappingError(file: name, message: "not UTF-8 text") }
        return try parse(yaml: text, name: name)
    }

    /// Parses and validates a mapping's YAML text; `name` names it in errors.
    public static func parse(yaml text: String, name: String) throws(FeedMappingError) -> FeedMapping {
        if let mark = nestingDeeper(than: maxNestingDepth, in: text) {
            throw FeedMappingError(file: name, line: mark, message: "nested deeper than \(maxNestingDepth) levels")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw FeedMappingError(file: name, message: "YAML syntax: \(error)")
        }
        guard let root else { throw FeedMappingError(file: name, message: "the file is empty; it needs at least input and time") }
        return try MappingReader(file: name).read(root)
    }

    /// A parser applying this mapping to a file's lines (one per file: a CSV header is per file).
    public func makeParser() -> FeedMappingParser { FeedMappingParser(self) }

    /// The first line (1-based) holding a collection nested deeper than `limit`, or nil.
    static func nestingDeeper(than limit: Int, in text: String) -> Int? {
        #if canImport(CYaml)
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        return bytes.withUnsafeBufferPointer { buffer -> Int? in
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var depth = 0
            var event = yaml_event_t()
            while yaml_parser_parse(&parser, &event) == 1 {
                let type = event.type
                let line = Int(event.start_mark.line) + 1
                yaml_event_delete(&event)
                switch type {
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    depth += 1
                    if depth > limit { return line }
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    depth -= 1
                case YAML_STREAM_END_EVENT:
                    return nil
                default:
                    break
                }
            }
            return nil
        }
        #else
        #error("FeedMapping needs libyaml (Yams's CYaml module) to bound YAML nesting")
        #endif
    }
}

/// A mapping file that cannot be used: the file, the key (dotted), the line, and what is wrong.
public struct FeedMappingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// The key path, e.g. `time.format`; empty for the whole file.
    public var key: String
    public var line: Int?
    public var message: String

    public init(file: String, key: String = "", line: Int? = nil, message: String) {
        self.file = file
        self.key = key
        self.line = line
        self.message = message
    }

    public var description: String {
        let place = line.map { ", line \($0)" } ?? ""
        let subject = key.isEmpty ? "" : "\(key): "
        return "mapping \(file)\(place): \(subject)\(message)"
    }
}

/// One value of a record before conversion: JSON keeps numbers as numbers.
enum RawValue {
    case text(Substring)
    case integer(Int64)
    case number(Double)

    var text: String {
        switch self {
        case let .text(text): String(text)
        case let .integer(n): String(n)
        case let .number(d): String(d)
        }
    }

    var isEmpty: Bool {
        if case let .text(text) = self { return text.allSatisfy { $0 == " " || $0 == "\t" } }
        return false
    }
}

/// The conversions a mapping applies, each naming the mapping key in its error.
enum MappedValue {
    static func time(_ raw: RawValue, format: FeedMapping.TimeFormat, key: String) -> Result<Int64, FeedLineError> {
        let ns: Int64?
        switch (format, raw) {
        case (.auto, .text(let text)): ns = FeedTime.nanoseconds(text: text)
        case (.auto, .integer(let n)): ns = FeedTime.nanoseconds(.integer(n))
        case (.auto, .number(let d)): ns = FeedTime.nanoseconds(.double(d))
        case (.iso8601, .text(let text)):
            let bytes = Array(text.trimmingCharacters(in: .whitespaces).utf8)
            ns = bytes.isEmpty || bytes.count > 64 ? nil : FeedTime.iso8601(bytes)
        case (.date, .text(let text)):
            let bytes = Array(text.trimmingCharacters(in: .whitespaces).utf8)
            ns = bytes.count == 10 ? FeedTime.iso8601(bytes) : nil
        case (.epochSeconds, _): ns = epoch(raw, unitNs: 1_000_000_000)
        case (.epochMilliseconds, _): ns = epoch(raw, unitNs: 1_000_000)
        default: ns = nil
        }
        guard let ns else {
            let expected: String = switch format {
            case .auto: "ISO 8601 or Unix time"
            case .iso8601: "an ISO 8601 time such as 2014-10-07T12:34:56Z"
            case .date: "a date such as 2014-10-07"
            case .epochSeconds: "Unix time in seconds"
            case .epochMilliseconds: "Unix time in milliseconds"
            }
            return .failure(FeedLineError(.badTime, "\(key) '\(FieldValue.clip(raw.text))' is not \(expected)"))
        }
        return .success(ns)
    }

    /// Unix time in units of `unitNs` nanoseconds, from an integer, a number or decimal text.
    static func epoch(_ raw: RawValue, unitNs: Int64) -> Int64? {
        switch raw {
        case let .integer(n):
            let (product, overflow) = n.multipliedReportingOverflow(by: unitNs)
            return overflow ? nil : product
        case let .number(d):
            return nsFromDouble(d, unitNs: unitNs)
        case let .text(text):
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if let n = Int64(trimmed) { return epoch(.integer(n), unitNs: unitNs) }
            guard isDecimal(trimmed), let d = Double(trimmed) else { return nil }
            return nsFromDouble(d, unitNs: unitNs)
        }
    }

    static func nsFromDouble(_ d: Double, unitNs: Int64) -> Int64? {
        let ns = (d * Double(unitNs)).rounded()
        guard ns.isFinite, abs(ns) < 9.2e18 else { return nil }
        return Int64(ns)
    }

    /// Digits with at most one point and an optional leading minus (no exponent, no hex, no nan).
    static func isDecimal(_ text: String) -> Bool {
        var body = Substring(text)
        if body.hasPrefix("-") { body = body.dropFirst() }
        guard !body.isEmpty, body.filter({ $0 == "." }).count <= 1, body != "." else { return false }
        return body.allSatisfy { ($0 >= "0" && $0 <= "9") || $0 == "." }
    }

    static func address(_ raw: RawValue, key: String) -> Result<IPAddress, FeedLineError> {
        guard case let .text(text) = raw else {
            return .failure(FeedLineError(.wrongType, "\(key) is a number, expected an address"))
        }
        return FieldValue.address(text: text, field: key)
    }

    static func port(_ raw: RawValue, services: [String: UInt16], key: String) -> Result<UInt16, FeedLineError> {
        switch raw {
        case let .integer(n) where (0...65535).contains(n):
            return .success(UInt16(n))
        case .integer, .number:
            return .failure(FeedLineError(.badPort, "\(key) \(raw.text) is not a port number 0...65535"))
        case let .text(text):
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if let first = trimmed.utf8.first, first >= 0x30 && first <= 0x39 {
                return FieldValue.port(text: trimmed, field: key)
            }
            if let port = ServiceNames.port(of: trimmed, extra: services) { return .success(port) }
            return .failure(FeedLineError(.badPort, "\(key) '\(FieldValue.clip(trimmed))' is neither a port number nor a known service name (add it under services:)"))
        }
    }

    static func ipProtocol(_ raw: RawValue, key: String) -> Result<UInt8, FeedLineError> {
        switch raw {
        case let .integer(n) where (0...255).contains(n): .success(UInt8(n))
        case .integer, .number: .failure(FeedLineError(.badProtocol, "\(key) \(raw.text) is not a protocol number 0...255"))
        case let .text(text): FieldValue.ipProtocol(text: text, field: key)
        }
    }

    /// Placeholders feeds write for "no country".
    static let noCountry: Set<String> = ["", "-", "--", "??", "n/a", "na", "unknown", "none", "null"]

    static func country(_ raw: RawValue, table: [String: CountryCode], key: String) -> Result<CountryCode, FeedLineError> {
        guard case let .text(text) = raw else {
            return .failure(FeedLineError(.wrongType, "\(key) is a number, expected a country code or name"))
        }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if noCountry.contains(trimmed.lowercased()) { return .success(.unknown) }
        if trimmed.utf8.count == 2, let code = CountryCode(trimmed.uppercased()) { return .success(code) }
        let nameKey = CountryNames.key(trimmed)
        if let code = table[nameKey] ?? CountryNames.code(forName: trimmed) { return .success(code) }
        return .failure(FeedLineError(.badCountry, "\(key) '\(FieldValue.clip(trimmed))' is neither a two-letter code nor a country name the table knows (add it under countries:)"))
    }

    static func weight(_ raw: RawValue, key: String) -> Result<Double, FeedLineError> {
        let value: Double?
        switch raw {
        case let .integer(n): value = Double(n)
        case let .number(d): value = d
        case let .text(text):
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            value = isDecimal(trimmed) ? Double(trimmed) : nil
        }
        guard let value, value.isFinite, value >= 0 else {
            return .failure(FeedLineError(.badWeight, "\(key) '\(FieldValue.clip(raw.text))' is not a non-negative number"))
        }
        return .success(value)
    }
}

/// Reads a mapping document with Yams's node API: every problem names its key and line.
struct MappingReader {
    let file: String

    static let topKeys = ["description", "input", "time", "end_time", "source", "port", "protocol", "country", "weight",
                          "only", "services", "countries"]

    func error(_ key: String, _ node: Node?, _ message: String) -> FeedMappingError {
        FeedMappingError(file: file, key: key, line: node?.mark?.line, message: message)
    }

    /// The entries of a YAML mapping, keys checked against `known`.
    func entries(_ node: Node, key: String, known: [String]?) throws(FeedMappingError) -> [(String, Node, Node)] {
        guard case let .mapping(mapping) = node else {
            throw error(key, node, "expected a mapping (key: value lines), got \(kind(node))")
        }
        var out: [(String, Node, Node)] = []
        for (keyNode, value) in mapping {
            guard case let .scalar(scalar) = keyNode else { throw error(key, keyNode, "keys must be plain words") }
            let name = scalar.string
            let path = key.isEmpty ? name : "\(key).\(name)"
            if let known, !known.contains(name) {
                throw error(path, keyNode, "unknown key; expected one of: \(known.joined(separator: ", "))")
            }
            if out.contains(where: { $0.0 == name }) { throw error(path, keyNode, "key appears twice") }
            out.append((name, keyNode, value))
        }
        return out
    }

    func kind(_ node: Node) -> String {
        switch node {
        case .scalar: "a scalar"
        case .mapping: "a mapping"
        case .sequence: "a list"
        }
    }

    func scalar(_ node: Node, key: String, expected: String) throws(FeedMappingError) -> String {
        guard case let .scalar(scalar) = node else { throw error(key, node, "expected \(expected), got \(kind(node))") }
        return scalar.string
    }

    func read(_ root: Node) throws(FeedMappingError) -> FeedMapping {
        let top = try entries(root, key: "", known: Self.topKeys)
        func value(_ name: String) -> Node? { top.first { $0.0 == name }?.2 }

        // input
        guard let inputNode = value("input") else {
            throw error("input", nil, "missing: say how to read the file, e.g. input: {kind: csv, delimiter: \",\", header: true} or input: {kind: jsonl}")
        }
        let input = try entries(inputNode, key: "input", known: ["kind", "delimiter", "header"])
        guard let kindNode = input.first(where: { $0.0 == "kind" })?.2 else {
            throw error("input.kind", inputNode, "missing: jsonl or csv")
        }
        let kindText = try scalar(kindNode, key: "input.kind", expected: "jsonl or csv")
        guard let kind = FeedMapping.Kind(rawValue: kindText.lowercased()) else {
            throw error("input.kind", kindNode, "unknown kind '\(kindText)' (expected jsonl or csv)")
        }
        var delimiter = UInt8(ascii: ",")
        var header = true
        for (name, keyNode, node) in input where name == "delimiter" || name == "header" {
            guard kind == .csv else { throw error("input.\(name)", keyNode, "only for kind: csv") }
            if name == "delimiter" {
                let text = try scalar(node, key: "input.delimiter", expected: "one character")
                let word: [String: String] = ["tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "]
                let character = word[text.lowercased()] ?? text
                guard character.utf8.count == 1, let byte = character.utf8.first, byte != UInt8(ascii: "\""), byte != 0x0A, byte != 0x0D else {
                    throw error("input.delimiter", node, "expected one ASCII character other than a quote (\",\", \"\\t\", tab, \";\", \"|\"), got '\(text)'")
                }
                delimiter = byte
            } else {
                let text = try scalar(node, key: "input.header", expected: "true or false")
                switch text.lowercased() {
                case "true", "yes": header = true
                case "false", "no": header = false
                default: throw error("input.header", node, "expected true or false, got '\(text)'")
                }
            }
        }
        let fieldRule = FieldRule(kind: kind, header: header)

        // time
        guard let timeNode = value("time") else {
            throw error("time", nil, "missing: say which field holds the event time, e.g. time: {field: timestamp, format: iso8601}")
        }
        let time = try timeSpec(timeNode, key: "time", rule: fieldRule)
        var mapping = FeedMapping(name: file, kind: kind, time: time)
        mapping.delimiter = delimiter
        mapping.header = header
        if let node = value("end_time") { mapping.endTime = try timeSpec(node, key: "end_time", rule: fieldRule) }

        // Tables first: constants are checked against them.
        if let node = value("services") {
            for (name, keyNode, portNode) in try entries(node, key: "services", known: nil) {
                let text = try scalar(portNode, key: "services.\(name)", expected: "a port number")
                guard let port = UInt16(text) else { throw error("services.\(name)", keyNode, "'\(text)' is not a port number 0...65535") }
                mapping.services[name.lowercased()] = port
            }
        }
        if let node = value("countries") {
            for (name, keyNode, codeNode) in try entries(node, key: "countries", known: nil) {
                let text = try scalar(codeNode, key: "countries.\(name)", expected: "a two-letter country code")
                guard let code = CountryCode(text.uppercased()), text.utf8.count == 2 else {
                    throw error("countries.\(name)", keyNode, "'\(text)' is not a two-letter country code")
                }
                mapping.countries[CountryNames.key(name)] = code
            }
        }

        if let node = value("source") {
            mapping.source = try valueSpec(node, key: "source", rule: fieldRule) { raw in MappedValue.address(raw, key: "source").map { _ in () } }
        }
        let services = mapping.services, countries = mapping.countries
        if let node = value("port") {
            mapping.port = try valueSpec(node, key: "port", rule: fieldRule) { raw in MappedValue.port(raw, services: services, key: "port").map { _ in () } }
        }
        if let node = value("protocol") {
            mapping.ipProtocol = try valueSpec(node, key: "protocol", rule: fieldRule) { raw in MappedValue.ipProtocol(raw, key: "protocol").map { _ in () } }
        }
        if let node = value("country") {
            mapping.country = try valueSpec(node, key: "country", rule: fieldRule) { raw in
                MappedValue.country(raw, table: countries, key: "country").map { _ in () }
            }
        }
        if let node = value("weight") {
            mapping.weight = try valueSpec(node, key: "weight", rule: fieldRule) { raw in MappedValue.weight(raw, key: "weight").map { _ in () } }
        }
        if let node = value("only") {
            for (name, keyNode, valuesNode) in try entries(node, key: "only", known: nil) {
                try fieldRule.check(name, key: "only.\(name)", node: keyNode, reader: self)
                var values: [String] = []
                switch valuesNode {
                case .scalar(let scalar): values = [scalar.string]
                case .sequence(let sequence):
                    for item in sequence { values.append(try scalar(item, key: "only.\(name)", expected: "a value")) }
                default: throw error("only.\(name)", valuesNode, "expected a value or a list of values")
                }
                guard !values.isEmpty else { throw error("only.\(name)", valuesNode, "an empty list would pass no record") }
                mapping.only.append(FeedMapping.Filter(field: name, values: values))
            }
        }
        if let node = value("description") { _ = try scalar(node, key: "description", expected: "text") }
        return mapping
    }

    /// What a field may be: a header name or a column number (CSV), a key or dotted path (JSON lines).
    struct FieldRule {
        var kind: FeedMapping.Kind
        var header: Bool

        func check(_ field: String, key: String, node: Node?, reader: MappingReader) throws(FeedMappingError) {
            guard !field.isEmpty else { throw reader.error(key, node, "the field name is empty") }
            if kind == .csv && !header {
                guard let column = Int(field), column >= 1 else {
                    throw reader.error(key, node, "without a header, fields are column numbers from 1, got '\(field)'")
                }
            }
        }
    }

    func timeSpec(_ node: Node, key: String, rule: FieldRule) throws(FeedMappingError) -> FeedMapping.Time {
        var format = FeedMapping.TimeFormat.auto
        if case .mapping = node {
            let items = try entries(node, key: key, known: ["field", "constant", "format"])
            if let (_, _, node) = items.first(where: { $0.0 == "format" }) {
                let text = try scalar(node, key: "\(key).format", expected: "a time format")
                guard let known = FeedMapping.TimeFormat(rawValue: text.lowercased()) else {
                    let names = FeedMapping.TimeFormat.allCases.map(\.rawValue).joined(separator: ", ")
                    throw error("\(key).format", node, "unknown time format '\(text)' (expected one of: \(names))")
                }
                format = known
            }
        }
        let chosen = format
        let value = try valueSpec(node, key: key, rule: rule, allowing: ["format"]) { raw in
            MappedValue.time(raw, format: chosen, key: key).map { _ in () }
        }
        return FeedMapping.Time(value: value, format: format)
    }

    /// `NAME` (a field), `{field: NAME}` or `{constant: VALUE}`; a constant is checked with `check`.
    func valueSpec(_ node: Node, key: String, rule: FieldRule, allowing extra: [String] = [],
                   check: (RawValue) -> Result<Void, FeedLineError>) throws(FeedMappingError) -> FeedMapping.Value {
        switch node {
        case .scalar(let scalar):
            try rule.check(scalar.string, key: key, node: node, reader: self)
            return .field(scalar.string)
        case .mapping:
            let items = try entries(node, key: key, known: ["field", "constant"] + extra)
            let field = items.first { $0.0 == "field" }
            let constant = items.first { $0.0 == "constant" }
            switch (field, constant) {
            case let (field?, nil):
                let name = try scalar(field.2, key: "\(key).field", expected: "a field name")
                try rule.check(name, key: "\(key).field", node: field.2, reader: self)
                return .field(name)
            case let (nil, constant?):
                let text = try scalar(constant.2, key: "\(key).constant", expected: "a value")
                if case let .failure(problem) = check(.text(text[...])) {
                    throw error("\(key).constant", constant.2, problem.message)
                }
                return .constant(text)
            case (nil, nil):
                throw error(key, node, "give either field: NAME or constant: VALUE")
            case (_?, _?):
                throw error(key, node, "give field or constant, not both")
            }
        default:
            throw error(key, node, "expected a field name, {field: NAME} or {constant: VALUE}, got \(kind(node))")
        }
    }
}

/// Applies a `FeedMapping` to the lines of one file (`FeedRecordParser`).
public struct FeedMappingParser: FeedRecordParser {
    public let mapping: FeedMapping
    /// CSV: the header's fields, once read.
    public private(set) var headerFields: [String]?
    public private(set) var unusable: String?
    var accessors: Accessors?

    /// Each mapped value, resolved against the header (CSV) or split into a path (JSON lines).
    struct Accessors {
        var time: Accessor
        var endTime: Accessor?
        var source: Accessor?
        var port: Accessor?
        var ipProtocol: Accessor?
        var country: Accessor?
        var weight: Accessor
        var only: [(Accessor, Set<String>)]
    }

    enum Accessor {
        case column(Int, name: String)
        case path(whole: String, parts: [String])
        case constant(String)
    }

    init(_ mapping: FeedMapping) {
        self.mapping = mapping
        if mapping.kind == .jsonl || !mapping.header {
            accessors = try? resolve(columns: nil)
        }
    }

    /// Resolves every value; for a CSV with a header, `columns` maps header names to indexes.
    func resolve(columns: [String: Int]?) throws(MissingColumn) -> Accessors {
        func accessor(_ value: FeedMapping.Value, key: String) throws(MissingColumn) -> Accessor {
            switch value {
            case let .constant(text): return .constant(text)
            case let .field(name):
                switch mapping.kind {
                case .jsonl:
                    return .path(whole: name, parts: name.split(separator: ".", omittingEmptySubsequences: false).map(String.init))
                case .csv:
                    if let columns {
                        guard let index = columns[name] else { throw MissingColumn(key: key, name: name) }
                        return .column(index, name: name)
                    }
                    return .column((Int(name) ?? 1) - 1, name: "column \(name)")
                }
            }
        }
        func optional(_ value: FeedMapping.Value?, key: String) throws(MissingColumn) -> Accessor? {
            guard let value else { return nil }
            return try accessor(value, key: key)
        }
        var only: [(Accessor, Set<String>)] = []
        for filter in mapping.only {
            only.append((try accessor(.field(filter.field), key: "only.\(filter.field)"), Set(filter.values)))
        }
        return Accessors(
            time: try accessor(mapping.time.value, key: "time"),
            endTime: try optional(mapping.endTime?.value, key: "end_time"),
            source: try optional(mapping.source, key: "source"),
            port: try optional(mapping.port, key: "port"),
            ipProtocol: try optional(mapping.ipProtocol, key: "protocol"),
            country: try optional(mapping.country, key: "country"),
            weight: try accessor(mapping.weight, key: "weight"),
            only: only)
    }

    struct MissingColumn: Error {
        var key: String
        var name: String
    }

    public mutating func parse(line: Substring, defaultTimeNs: Int64) -> Result<[FeedRecord], FeedLineError> {
        let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
        if trimmed.isEmpty || trimmed.hasPrefix("#") { return .success([]) }
        switch mapping.kind {
        case .jsonl:
            guard let value = JSONValue.parse(trimmed) else {
                return .failure(FeedLineError(.invalidJSON, "not a complete JSON object"))
            }
            guard case let .object(object) = value else {
                return .failure(FeedLineError(.invalidJSON, "a JSON \(value.typeName), expected an object"))
            }
            return record { accessor in Self.json(object, accessor) }
        case .csv:
            let fields: [String]
            switch CSVFeedParser.splitFields(line, delimiter: mapping.delimiter) {
            case let .success(split): fields = split
            case let .failure(error): return .failure(error)
            }
            if mapping.header {
                guard let header = headerFields else {
                    headerFields = fields
                    var columns: [String: Int] = [:]
                    for (index, field) in fields.enumerated() {
                        let name = field.trimmingCharacters(in: .whitespaces)
                        if columns[name] == nil { columns[name] = index }
                    }
                    do {
                        accessors = try resolve(columns: columns)
                    } catch {
                        unusable = "\(error.key) names the column '\(error.name)', which the header (\(fields.map { FieldValue.clip($0) }.joined(separator: ", "))) does not have"
                    }
                    return .success([])
                }
                // A repeated header (files concatenated with their headers) is passed over.
                if fields == header { return .success([]) }
                guard fields.count == header.count else {
                    return .failure(FeedLineError(.badCSV, "\(fields.count) fields, the header has \(header.count)"))
                }
            }
            return record { accessor in
                guard case let .column(index, name) = accessor else { return .success(nil) }
                guard index < fields.count else {
                    return .failure(FeedLineError(.badCSV, "\(fields.count) fields, no \(name)"))
                }
                let text = fields[index]
                return .success(text.allSatisfy { $0 == " " || $0 == "\t" } ? nil : .text(text[...]))
            }
        }
    }

    /// The value at a JSON accessor: nil when absent or null; arrays, objects and booleans are `wrong-type`.
    static func json(_ object: [String: JSONValue], _ accessor: Accessor) -> Result<RawValue?, FeedLineError> {
        guard case let .path(whole, parts) = accessor else { return .success(nil) }
        var found = object[whole]
        if found == nil, parts.count > 1 {
            var current: JSONValue? = .object(object)
            for part in parts {
                guard case let .object(members)? = current else { current = nil; break }
                current = members[part]
            }
            found = current
        }
        switch found {
        case nil, .null?: return .success(nil)
        case let .string(text)?: return .success(text.isEmpty ? nil : .text(text[...]))
        case let .integer(n)?: return .success(.integer(n))
        case let .unsigned(n)?: return .success(n <= UInt64(Int64.max) ? .integer(Int64(n)) : .number(Double(n)))
        case let .double(d)?: return .success(.number(d))
        case let value?: return .failure(FeedLineError(.wrongType, "\(whole) is a \(value.typeName), expected a string or a number"))
        }
    }

    /// Builds the record from the accessors; `get` reads a field accessor of the current line.
    func record(_ get: (Accessor) -> Result<RawValue?, FeedLineError>) -> Result<[FeedRecord], FeedLineError> {
        guard let accessors else { return .failure(FeedLineError(.missingHeader, "no header line before this one")) }
        func raw(_ accessor: Accessor) -> Result<RawValue?, FeedLineError> {
            if case let .constant(text) = accessor { return .success(.text(text[...])) }
            return get(accessor)
        }
        for (accessor, values) in accessors.only {
            guard case let .success(value) = raw(accessor), let value, values.contains(value.text) else { return .success([]) }
        }
        func convert<T>(_ accessor: Accessor?, _ body: (RawValue) -> Result<T, FeedLineError>) -> Result<T?, FeedLineError> {
            guard let accessor else { return .success(nil) }
            switch raw(accessor) {
            case let .failure(error): return .failure(error)
            case .success(nil): return .success(nil)
            case let .success(value?): return body(value).map { $0 }
            }
        }
        do throws(FeedLineError) {
            guard let time = try convert(accessors.time, { MappedValue.time($0, format: mapping.time.format, key: "time") }).get() else {
                return .failure(FeedLineError(.missingField, "no time in \(Self.name(accessors.time))"))
            }
            let endFormat = mapping.endTime?.format ?? .auto
            let end = try convert(accessors.endTime, { MappedValue.time($0, format: endFormat, key: "end_time") }).get()
            let source = try convert(accessors.source, { MappedValue.address($0, key: "source") }).get()
            let port = try convert(accessors.port, { MappedValue.port($0, services: mapping.services, key: "port") }).get()
            let ipProtocol = try convert(accessors.ipProtocol, { MappedValue.ipProtocol($0, key: "protocol") }).get()
            let country = try convert(accessors.country, { MappedValue.country($0, table: mapping.countries, key: "country") }).get()
            guard let weight = try convert(accessors.weight, { MappedValue.weight($0, key: "weight") }).get() else {
                return .failure(FeedLineError(.missingField, "no weight in \(Self.name(accessors.weight))"))
            }
            return .success([FeedRecord(timeNs: time, endTimeNs: end, source: source, ipProtocol: ipProtocol, port: port,
                                        country: country ?? .unknown, weight: weight)])
        } catch {
            return .failure(error)
        }
    }

    static func name(_ accessor: Accessor) -> String {
        switch accessor {
        case let .column(_, name): name
        case let .path(whole, _): whole
        case let .constant(text): "the constant '\(text)'"
        }
    }
}
