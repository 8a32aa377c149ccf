import Aggregation
import Alerts
import Fleet
import Foundation
import Yams
// libyaml itself (Yams's C target), for the nesting check below: its event
// parser is iterative, unlike Yams's composer.
#if canImport(CYaml)
import CYaml
import Sketches
#endif

/// One problem in a configuration file: where (key path, line, column) and what.
public struct ConfigurationIssue: Sendable, Equatable, CustomStringConvertible {
    /// Dotted key path, e.g. `aggregation.scan.min_destinations`; list items as `[i]`;
    /// empty for the document itself (a YAML syntax error).
    public var keyPath: String
    /// 1-based line and column, when known.
    public var line: Int?
    public var column: Int?
    public var message: String

    public init(keyPath: String, line: Int?, column: Int?, message: String) {
        self.keyPath = keyPath
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        var parts: [String] = []
        if let line { parts.append(column.map { "line \(line), column \($0)" } ?? "line \(line)") }
        if !keyPath.isEmpty { parts.append(keyPath) }
        parts.append(message)
        return parts.joined(separator: ": ")
    }
}

/// Everything wrong with a configuration, in file order, one issue per line.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file the issues are in, when loaded from a file.
    public var source: String?
    public var issues: [ConfigurationIssue]

    public init(source: String? = nil, issues: [ConfigurationIssue]) {
        self.source = source
        self.issues = issues
    }

    public var description: String {
        issues.map { issue in source.map { "\($0): \(issue)" } ?? issue.description }.joined(separator: "\n")
    }
}

/// Reads the YAML configuration with Yams's node API (so every value keeps its
/// line), checks every key and value, and collects every problem before
/// failing. YAML's own typing is used with care: durations, offsets, modes and
/// other strings are read from the scalar's text (so `mode: 0660` is octal
/// 0660, not YAML 1.1's decimal 432), while integers, numbers and booleans must
/// be plain (unquoted) scalars.
public enum ConfigurationLoader {
    /// Configuration files larger than this are refused unread.
    public static let maxFileBytes = 1 << 20

    /// Collections nested deeper than this are refused before Yams builds the
    /// document (a configuration needs 4 levels: `alerts.rules.NAME.key`).
    /// Yams composes nodes recursively, so `[[[[...` a few thousand levels deep
    /// overflows the stack; a 1 MiB file can be a million levels deep.
    public static let maxNestingDepth = 64

    public static func load(yaml text: String, source: String? = nil) throws(ConfigurationError) -> SensorConfiguration {
        if let mark = YAMLNesting.firstCollection(deeperThan: maxNestingDepth, in: text) {
            throw ConfigurationError(source: source, issues: [ConfigurationIssue(
                keyPath: "", line: mark.line, column: mark.column,
                message: "YAML nesting deeper than \(maxNestingDepth) levels (lists and mappings inside each other); a configuration needs 4")])
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(source: source, issues: [syntaxIssue(error)])
        }
        let reader = Reader()
        var config = SensorConfiguration()
        if let root {
            reader.readDocument(root, into: &config)
        }
        guard reader.issues.isEmpty else {
            throw ConfigurationError(source: source, issues: reader.issues.sorted { ($0.line ?? 0) < ($1.line ?? 0) })
        }
        return config
    }

    public static func load(file path: String) throws(ConfigurationError) -> SensorConfiguration {
        func failure(_ message: String) -> ConfigurationError {
            ConfigurationError(source: path, issues: [ConfigurationIssue(keyPath: "", line: nil, column: nil, message: message)])
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw failure("is a directory, not a configuration file")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw failure("cannot read: \(String(cString: strerror(errno)))")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.read(upToCount: maxFileBytes + 1) ?? Data()
        } catch {
            throw failure("cannot read: \((error as NSError).localizedDescription)")
        }
        guard data.count <= maxFileBytes else { throw failure("file is larger than \(maxFileBytes) bytes") }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(source: path, issues: [
                ConfigurationIssue(keyPath: "", line: nil, column: nil, message: "not UTF-8 text"),
            ])
        }
        return try load(yaml: text, source: path)
    }

    static func syntaxIssue(_ error: any Error) -> ConfigurationIssue {
        switch error as? YamlError {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let text = context.map { "\($0.text): \(problem)" } ?? problem
            return ConfigurationIssue(keyPath: "", line: mark.line, column: mark.column, message: "YAML syntax: \(text)")
        case .reader(let problem, _, _, _):
            return ConfigurationIssue(keyPath: "", line: nil, column: nil, message: "YAML input: \(problem)")
        default:
            return ConfigurationIssue(keyPath: "", line: nil, column: nil, message: "YAML: \(error)")
        }
    }
}

extension SensorConfiguration {
    /// Parses YAML text (see `ConfigurationLoader`).
    public init(yaml: String) throws(ConfigurationError) {
        self = try ConfigurationLoader.load(yaml: yaml)
    }

    /// What `run` needs beyond a valid file: something to capture on, and
    /// absolute paths (systemd starts the daemon in `/`).
    public func validateForRun() throws(ConfigurationError) {
        var issues: [ConfigurationIssue] = []
        func require(_ ok: Bool, _ key: String, _ message: String) {
            if !ok { issues.append(ConfigurationIssue(keyPath: key, line: nil, column: nil, message: message)) }
        }
        require(!capture.interfaces.isEmpty, "capture.interfaces", "at least one interface is needed to run, e.g. interfaces: [\"eth1\"]")
        require(state.directory.hasPrefix("/"), "state.directory", "must be an absolute path to run")
        require(stats.socket.hasPrefix("/"), "stats.socket", "must be an absolute path to run")
        if let path = feed.path { require(path.hasPrefix("/"), "feed.path", "must be an absolute path to run") }
        if let path = alerts.jsonFile { require(path.hasPrefix("/"), "alerts.json_file", "must be an absolute path to run") }
        if let path = geoip.database { require(path.hasPrefix("/"), "geoip.database", "must be an absolute path to run") }
        if export.database.url != nil, let path = export.database.passwordFile {
            require(path.hasPrefix("/"), "export.database.password_file", "must be an absolute path to run")
        }
        if !issues.isEmpty { throw ConfigurationError(issues: issues) }
    }
}

// MARK: - the reader

/// Walks the document, filling a `SensorConfiguration` and collecting issues.
final class Reader {
    var issues: [ConfigurationIssue] = []

    func issue(_ path: String, _ node: Node?, _ message: String) {
        issues.append(ConfigurationIssue(keyPath: path, line: node?.mark?.line, column: node?.mark?.column, message: message))
    }

    /// The mapping at `path`, or nil (with an issue) when the node is something else.
    /// A null node (an empty section) reads as an empty mapping.
    func mapping(_ node: Node, _ path: String) -> MappingReader? {
        if case .mapping(let m) = node { return MappingReader(self, path, m) }
        if Reader.isNull(node) { return MappingReader(self, path, Node.Mapping([])) }
        issue(path, node, "expected a mapping (key: value lines), got \(Reader.kind(node))")
        return nil
    }

    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let s) = node, s.style == .plain || s.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    static func kind(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let s):
            if isNull(node) { return "null" }
            let quoted = s.style == .singleQuoted || s.style == .doubleQuoted
            return quoted ? "the string \"\(s.string)\"" : "\"\(s.string)\""
        }
    }

    func readDocument(_ root: Node, into config: inout SensorConfiguration) {
        guard let top = mapping(root, "") else { return }
        if let m = top.section("capture") { readCapture(m, &config.capture) }
        if let m = top.section("darknet") { readDarknet(m, &config.darknet) }
        if let m = top.section("aggregation") { readAggregation(m, &config.aggregation) }
        if let m = top.section("geoip") {
            m.optionalString("database", &config.geoip.database)
            m.finish()
        }
        if let m = top.section("feed") { readFeed(m, &config.feed) }
        if let m = top.section("alerts") { readAlerts(m, &config.alerts) }
        if let m = top.section("stats") { readStats(m, &config.stats) }
        if let m = top.section("state") {
            m.string("directory", &config.state.directory, nonEmpty: true)
            m.duration("snapshot_interval", &config.state.snapshotIntervalSeconds, max: 86_400)
            m.finish()
        }
        if let m = top.section("service") {
            m.optionalString("user", &config.service.user, check: Reader.checkAccountName)
            m.bool("watchdog", &config.service.watchdog)
            m.finish()
        }
        if let m = top.section("export") {
            if let d = m.section("database") { readExportDatabase(d, &config.export.database) }
            m.finish()
        }
        top.finish()
    }

    func readExportDatabase(_ m: MappingReader, _ d: inout SensorConfiguration.Export.Database) {
        // ConnectionSettings parses the URL as `--db` does: a password in it is refused,
        // and the URL is then not echoed (it holds the password).
        if let node = m.value("url") {
            if Reader.isNull(node) {
                d.url = nil
            } else if let text = m.scalarText(node, "url", expected: "a postgres:// URL") {
                do throws(FleetError) {
                    _ = try ConnectionSettings(url: text)
                    d.url = text.isEmpty ? nil : text
                } catch {
                    issue(m.key("url"), node, error == .passwordInURL
                        ? "the URL contains a password; put it in the file export.database.password_file names (or the systemd credential db-password), never in the configuration"
                        : "\(error)")
                }
            }
        }
        m.optionalString("password_file", &d.passwordFile)
        m.optionalString("sensor", &d.sensor) { name in
            name.count > 200 || name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
                ? "a sensor name is 1 to 200 characters without control characters" : nil
        }
        func node(_ name: String) -> Node? { m.entries.first { $0.0 == name }?.2 }
        m.double("spool_max_mib", &d.spoolMaxMiB, minimum: 0, inclusive: false)
        if d.spoolMaxMiB > 1_048_576 {
            issue(m.key("spool_max_mib"), node("spool_max_mib"), "must be at most 1048576 (1 TiB), got \(DurationFormat.number(d.spoolMaxMiB))")
            d.spoolMaxMiB = SensorConfiguration.Export.Database().spoolMaxMiB
        } else if d.spoolMaxBytes < 1024 {
            issue(m.key("spool_max_mib"), node("spool_max_mib"), "must be at least 1 KiB (0.0009765625), got \(DurationFormat.number(d.spoolMaxMiB))")
            d.spoolMaxMiB = SensorConfiguration.Export.Database().spoolMaxMiB
        }
        m.duration("retry_max_backoff", &d.retryMaxBackoffSeconds, max: 3600)
        if d.retryMaxBackoffSeconds < 1 {
            issue(m.key("retry_max_backoff"), node("retry_max_backoff"), "must be at least 1s")
            d.retryMaxBackoffSeconds = SensorConfiguration.Export.Database().retryMaxBackoffSeconds
        }
        if d.url != nil && d.sensor == nil {
            issue(m.key("sensor"), node("url"), "export.database.url is set: name this sensor (its name in the fleet database, e.g. sensor: tokyo)")
        }
        m.finish()
    }

    static func checkAccountName(_ name: String) -> String? {
        let ok = !name.isEmpty && name.utf8.count <= 32 && !name.hasPrefix("-")
            && name.utf8.allSatisfy { $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: "/") }
        return ok ? nil : "not a valid user or group name"
    }

    func readCapture(_ m: MappingReader, _ c: inout SensorConfiguration.Capture) {
        if let list = m.stringList("interfaces") {
            var seen = Set<String>()
            var names: [String] = []
            for (index, (name, node)) in list.enumerated() {
                let path = "\(m.path).interfaces[\(index)]"
                if name.isEmpty || name.utf8.count > 15 || name.contains("/") || name.contains(where: \.isWhitespace) {
                    issue(path, node, "not an interface name (1 to 15 characters, no '/' or spaces): \"\(name)\"")
                } else if !seen.insert(name).inserted {
                    issue(path, node, "\"\(name)\" is listed twice")
                } else {
                    names.append(name)
                }
            }
            c.interfaces = names
        }
        m.optionalString("filter", &c.filter)
        m.int("snaplen", &c.snaplen, 64...262_144)
        m.bool("promiscuous", &c.promiscuous)
        m.bool("immediate", &c.immediate)
        m.int("buffer_mib", &c.bufferMiB, 1...2047)
        m.int("timeout_ms", &c.timeoutMilliseconds, 1...60_000)
        m.finish()
    }

    func readDarknet(_ m: MappingReader, _ d: inout SensorConfiguration.Darknet) {
        if let list = m.stringList("prefixes") {
            var prefixes: [CIDRPrefix] = []
            for (index, (text, node)) in list.enumerated() {
                let path = "\(m.path).prefixes[\(index)]"
                do {
                    let prefix = try CIDRPrefix(parsing: text)
                    if let other = prefixes.first(where: { $0.overlaps(prefix) }) {
                        issue(path, node, "\(prefix) overlaps \(other)")
                    } else {
                        prefixes.append(prefix)
                    }
                } catch {
                    issue(path, node, "\"\(text)\": \(error)")
                }
            }
            d.prefixes = prefixes
        }
        if let node = m.value("size") {
            if Reader.isNull(node) {
                d.size = nil
            } else if let n = m.integer(node, "size", 1...Int64.max) {
                d.size = UInt64(n)
            }
        }
        m.finish()
    }

    func readAggregation(_ m: MappingReader, _ a: inout SensorConfiguration.Aggregation) {
        let bucketOK = m.duration("bucket", &a.bucketSeconds, max: 7 * 86_400)
        if let node = m.value("utc_offset") {
            if let text = m.scalarText(node, "utc_offset", expected: "a UTC offset such as \"+09:00\"") {
                if let offset = DurationText.utcOffset(text) {
                    a.utcOffsetSeconds = offset
                } else {
                    issue(m.key("utc_offset"), node, "expected a UTC offset +HH:MM or -HH:MM (at most 14 hours), got \"\(text)\"")
                }
            }
        }
        if let list = m.stringList("windows") {
            var windows: [Int64] = []
            for (index, (text, node)) in list.enumerated() {
                let path = "\(m.path).windows[\(index)]"
                guard let seconds = DurationText.seconds(text), seconds <= 366 * 86_400 else {
                    issue(path, node, "expected a duration such as 1h or 24h (at most 366d), got \"\(text)\"")
                    continue
                }
                if bucketOK {
                    guard seconds % a.bucketSeconds == 0 else {
                        issue(path, node, "\(text) is not a multiple of the bucket (\(DurationFormat.text(a.bucketSeconds)))")
                        continue
                    }
                }
                windows.append(seconds)
            }
            a.windowSeconds = windows
        }
        m.int("top_source_capacity", &a.topSourceCapacity, 1...(1 << 24))
        m.int("source_detail_capacity", &a.sourceDetailCapacity, 1...(1 << 26))
        m.int("pair_slots", &a.pairSlots, 64...(1 << 28))
        m.bool("source_prefixes", &a.sourcePrefixes)
        if let node = m.value("threads") {
            if let text = m.scalarText(node, "threads", expected: "auto or a number of threads from 1 to 64") {
                if let threads = AggregationThreads(text) {
                    a.threads = threads
                } else {
                    issue(m.key("threads"), node, "expected auto or a whole number from 1 to 64, got \"\(text)\"")
                }
            }
        }
        if let node = m.value("hash_seed") {
            if Reader.isNull(node) {
                a.hashSeed = nil
            } else if let text = m.scalarText(node, "hash_seed", expected: "32 hexadecimal digits") {
                if let seed = SeededHash(hexSeed: text) {
                    a.hashSeed = seed
                } else {
                    issue(m.key("hash_seed"), node, "expected 32 hexadecimal digits (128 bits), got \"\(text)\"")
                }
            }
        }
        if let s = m.section("scan") {
            var minDestinations = Int(a.scan.minDestinations)
            s.int("min_destinations", &minDestinations, 1...Int(UInt32.max))
            a.scan.minDestinations = UInt32(minDestinations)
            s.duration("timeout", &a.scan.timeoutSeconds, max: 7 * 86_400)
            s.double("min_internet_rate", &a.scan.minInternetRate, minimum: 0, inclusive: true)
            s.int("capacity", &a.scan.capacity, 1...(1 << 24))
            s.finish()
        }
        if let s = m.section("backscatter") {
            var minPackets = Int(a.backscatter.minPackets)
            s.int("min_packets", &minPackets, 1...Int.max)
            a.backscatter.minPackets = UInt64(minPackets)
            s.duration("min_duration", &a.backscatter.minDurationSeconds, max: 7 * 86_400)
            s.double("min_peak_rate", &a.backscatter.minPeakRate, minimum: 0, inclusive: false)
            s.duration("timeout", &a.backscatter.timeoutSeconds, max: 7 * 86_400)
            s.int("capacity", &a.backscatter.capacity, 1...(1 << 24))
            s.finish()
        }
        m.finish()
    }

    func readFeed(_ m: MappingReader, _ f: inout SensorConfiguration.Feed) {
        m.optionalString("path", &f.path)
        if let node = m.value("format"), let text = m.scalarText(node, "format", expected: "a feed format") {
            if let format = SensorConfiguration.Feed.Format(rawValue: text) {
                f.format = format
            } else {
                let names = SensorConfiguration.Feed.Format.allCases.map(\.rawValue).joined(separator: ", ")
                issue(m.key("format"), node, "expected one of \(names), got \"\(text)\"")
            }
        }
        m.int("poll_ms", &f.pollMilliseconds, 1...60_000)
        m.int("max_line_bytes", &f.maxLineBytes, 256...(16 << 20))
        m.finish()
    }

    func readAlerts(_ m: MappingReader, _ a: inout SensorConfiguration.Alerts) {
        if let s = m.section("syslog") {
            s.bool("enabled", &a.syslog.enabled)
            s.string("socket", &a.syslog.socket, nonEmpty: true)
            s.string("journal_socket", &a.syslog.journalSocket, nonEmpty: true)
            s.optionalString("target", &a.syslog.target) { text in
                if let t = SyslogTarget(parsing: text), t.isRemote { return nil }
                return "expected udp://HOST:PORT or tcp://HOST:PORT (the local socket is alerts.syslog.socket)"
            }
            if let node = s.value("format"), let text = s.scalarText(node, "format", expected: "a syslog format") {
                if let format = SensorConfiguration.Alerts.Syslog.Format(rawValue: text) {
                    if format == .journal && a.syslog.target != nil {
                        issue(s.key("format"), node, "journal is written to the local journald socket; it cannot go to alerts.syslog.target")
                    } else {
                        a.syslog.format = format
                    }
                } else {
                    let names = SensorConfiguration.Alerts.Syslog.Format.allCases.map(\.rawValue).joined(separator: ", ")
                    issue(s.key("format"), node, "expected one of \(names), got \"\(text)\"")
                }
            }
            if let node = s.value("facility"), let text = s.scalarText(node, "facility", expected: "a syslog facility") {
                if let facility = SyslogFacility(name: text) {
                    a.syslog.facility = facility
                } else {
                    issue(s.key("facility"), node, "expected a syslog facility (daemon, local0 ... local7, ...), got \"\(text)\"")
                }
            }
            s.finish()
        }
        m.optionalString("json_file", &a.jsonFile)
        m.duration("cooldown", &a.cooldownSeconds, max: 7 * 86_400)
        m.int("rate_per_minute", &a.ratePerMinute, 1...100_000)
        m.int("queue_limit", &a.queueLimit, 1...1_000_000)
        var backoff = a.retryMaxBackoffSeconds
        if m.duration("retry_max_backoff", &backoff, max: 3600) {
            if backoff < 1, let node = m.value("retry_max_backoff") {
                issue(m.key("retry_max_backoff"), node, "must be at least 1s")
            } else {
                a.retryMaxBackoffSeconds = backoff
            }
        }
        if let rules = m.section("rules") {
            for (name, keyNode, valueNode) in rules.entries {
                guard let id = AlertRuleID(rawValue: name), id != .alertRateLimited else {
                    let names = AlertRuleID.configurable.map(\.rawValue).joined(separator: ", ")
                    issue(rules.key(name), keyNode, "unknown alert rule; the rules are \(names)")
                    rules.markKnown(name)
                    continue
                }
                rules.markKnown(name)
                guard let r = mapping(valueNode, rules.key(name)) else { continue }
                var settings = a.rules[id] ?? AlertRuleSettings()
                r.bool("enabled", &settings.enabled)
                // 0: no minimum (backscatter-dos's engine default: the detector's own minimum gates it).
                r.optionalCount("min_packets", &settings.minPackets, minimum: 0)
                r.optionalCount("min_sources", &settings.minSources)
                r.optionalDouble("factor", &settings.factor, minimum: 1, inclusive: false)
                r.optionalDouble("deviations", &settings.deviations, minimum: 0, inclusive: true)
                r.optionalInt("warmup_buckets", &settings.warmupBuckets, 0...1_000_000)
                r.optionalDouble("min_internet_rate", &settings.minInternetRate, minimum: 0, inclusive: true)
                r.optionalInt("lag_buckets", &settings.lagBuckets, 0...10_000)
                r.finish()
                a.rules[id] = settings
            }
            rules.finish()
        }
        m.finish()
    }

    func readStats(_ m: MappingReader, _ s: inout SensorConfiguration.Stats) {
        if let node = m.value("socket"), let text = m.scalarText(node, "socket", expected: "a path") {
            // sockaddr_un.sun_path holds 108 bytes with the terminating NUL.
            if text.isEmpty || text.utf8.count > 107 || text.contains("\0") {
                issue(m.key("socket"), node, "a socket path must be 1 to 107 bytes, got \(text.utf8.count)")
            } else {
                s.socket = text
            }
        }
        if let node = m.value("mode"), let text = m.scalarText(node, "mode", expected: "an octal mode such as \"0660\"") {
            let digits = text.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }
            if digits, (3...4).contains(text.utf8.count), let mode = UInt32(text, radix: 8), mode <= 0o777 {
                s.mode = mode
            } else {
                issue(m.key("mode"), node, "expected an octal permission mode 000 ... 0777 such as \"0660\", got \"\(text)\"")
            }
        }
        m.optionalString("group", &s.group, check: Reader.checkAccountName)
        m.int("max_clients", &s.maxClients, 1...4096)
        m.duration("idle_timeout", &s.idleTimeoutSeconds, max: 86_400)
        m.int("max_request_bytes", &s.maxRequestBytes, 64...(1 << 20))
        m.finish()
    }
}

/// One mapping being read: typed getters that record issues, and `finish()`,
/// which reports the keys nobody asked for.
final class MappingReader {
    let reader: Reader
    let path: String
    /// Keys in file order, with their key and value nodes.
    private(set) var entries: [(String, Node, Node)] = []
    private var known: [String] = []

    init(_ reader: Reader, _ path: String, _ mapping: Node.Mapping) {
        self.reader = reader
        self.path = path
        var seen = Set<String>()
        for (key, value) in mapping {
            guard case .scalar(let k) = key else {
                reader.issue(path, key, "keys must be plain words, got \(Reader.kind(key))")
                continue
            }
            guard seen.insert(k.string).inserted else {
                reader.issue(self.key(k.string), key, "key appears twice")
                continue
            }
            entries.append((k.string, key, value))
        }
    }

    func key(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    func markKnown(_ name: String) { known.append(name) }

    /// The value node of `name`, if present; records `name` as a known key.
    func value(_ name: String) -> Node? {
        known.append(name)
        return entries.first { $0.0 == name }?.2
    }

    func section(_ name: String) -> MappingReader? {
        guard let node = value(name) else { return nil }
        return reader.mapping(node, key(name))
    }

    /// Reports every key not read (misspelt or misplaced).
    func finish() {
        for (name, keyNode, _) in entries where !known.contains(name) {
            let expected = known.joined(separator: ", ")
            let hint = MappingReader.closest(name, in: known).map { " (did you mean \($0)?)" } ?? ""
            reader.issue(key(name), keyNode, "unknown key\(hint); expected one of: \(expected)")
        }
    }

    static func closest(_ name: String, in candidates: [String]) -> String? {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            var previous = Array(0...b.count)
            for (i, ca) in a.enumerated() {
                var current = [i + 1]
                for (j, cb) in b.enumerated() {
                    current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1)))
                }
                previous = current
            }
            return previous[b.count]
        }
        let scored = candidates.map { ($0, distance(Array(name), Array($0))) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(2, name.count / 3) else { return nil }
        return best.0
    }

    // MARK: scalars

    /// The text of a non-null scalar, or nil with an issue.
    func scalarText(_ node: Node, _ name: String, expected: String) -> String? {
        guard case .scalar(let s) = node, !Reader.isNull(node) else {
            reader.issue(key(name), node, "expected \(expected), got \(Reader.kind(node))")
            return nil
        }
        return s.string
    }

    /// The text of a plain (unquoted) scalar: numbers and booleans must not be strings.
    private func plainText(_ node: Node, _ name: String, expected: String) -> String? {
        guard case .scalar(let s) = node, !Reader.isNull(node), s.style == .plain || s.style == .any else {
            reader.issue(key(name), node, "expected \(expected), got \(Reader.kind(node))")
            return nil
        }
        return s.string
    }

    func integer(_ node: Node, _ name: String, _ range: ClosedRange<Int64>) -> Int64? {
        guard let text = plainText(node, name, expected: "an integer") else { return nil }
        let digits = text.replacingOccurrences(of: "_", with: "")
        guard !text.hasPrefix("_"), !text.hasSuffix("_"), let value = Int64(digits) else {
            reader.issue(key(name), node, "expected an integer, got \"\(text)\"")
            return nil
        }
        guard range.contains(value) else {
            let bound = range.upperBound == Int64.max ? "at least \(range.lowerBound)" : "in \(range.lowerBound)...\(range.upperBound)"
            reader.issue(key(name), node, "must be \(bound), got \(value)")
            return nil
        }
        return value
    }

    func int(_ name: String, _ target: inout Int, _ range: ClosedRange<Int>) {
        guard let node = value(name), let v = integer(node, name, Int64(range.lowerBound)...Int64(range.upperBound)) else { return }
        target = Int(v)
    }

    func optionalInt(_ name: String, _ target: inout Int?, _ range: ClosedRange<Int>) {
        guard let node = value(name) else { return }
        if Reader.isNull(node) { target = nil; return }
        if let v = integer(node, name, Int64(range.lowerBound)...Int64(range.upperBound)) { target = Int(v) }
    }

    /// A count of at least 1, or null.
    func optionalCount(_ name: String, _ target: inout UInt64?, minimum: Int64 = 1) {
        guard let node = value(name) else { return }
        if Reader.isNull(node) { target = nil; return }
        if let v = integer(node, name, minimum...Int64.max) { target = UInt64(v) }
    }

    private func number(_ node: Node, _ name: String, minimum: Double, inclusive: Bool) -> Double? {
        guard let text = plainText(node, name, expected: "a number") else { return nil }
        guard let value = Double(text), value.isFinite else {
            reader.issue(key(name), node, "expected a number, got \"\(text)\"")
            return nil
        }
        guard inclusive ? value >= minimum : value > minimum else {
            reader.issue(key(name), node, "must be \(inclusive ? "at least" : "greater than") \(DurationFormat.number(minimum)), got \(text)")
            return nil
        }
        return value
    }

    func double(_ name: String, _ target: inout Double, minimum: Double, inclusive: Bool) {
        guard let node = value(name), let v = number(node, name, minimum: minimum, inclusive: inclusive) else { return }
        target = v
    }

    func optionalDouble(_ name: String, _ target: inout Double?, minimum: Double, inclusive: Bool) {
        guard let node = value(name) else { return }
        if Reader.isNull(node) { target = nil; return }
        if let v = number(node, name, minimum: minimum, inclusive: inclusive) { target = v }
    }

    func bool(_ name: String, _ target: inout Bool) {
        guard let node = value(name), let text = plainText(node, name, expected: "true or false") else { return }
        switch text.lowercased() {
        case "true", "yes", "on": target = true
        case "false", "no", "off": target = false
        default: reader.issue(key(name), node, "expected true or false, got \"\(text)\"")
        }
    }

    func string(_ name: String, _ target: inout String, nonEmpty: Bool) {
        guard let node = value(name), let text = scalarText(node, name, expected: "a string") else { return }
        if nonEmpty && text.isEmpty {
            reader.issue(key(name), node, "must not be empty")
        } else {
            target = text
        }
    }

    func optionalString(_ name: String, _ target: inout String?, check: (String) -> String? = { _ in nil }) {
        guard let node = value(name) else { return }
        if Reader.isNull(node) { target = nil; return }
        guard let text = scalarText(node, name, expected: "a string") else { return }
        if let problem = check(text) {
            reader.issue(key(name), node, "\(problem): \"\(text)\"")
        } else {
            target = text.isEmpty ? nil : text
        }
    }

    /// A duration (`90s`, `5m`, `1h`, `1d`; a bare number is seconds). Returns
    /// whether the key is absent or valid (so dependent checks may use it).
    @discardableResult
    func duration(_ name: String, _ target: inout Int64, max: Int64) -> Bool {
        guard let node = value(name) else { return true }
        guard let text = scalarText(node, name, expected: "a duration such as 60s, 5m, 1h or 1d") else { return false }
        guard let seconds = DurationText.seconds(text), seconds <= max else {
            reader.issue(key(name), node, "expected a duration such as 60s, 5m, 1h or 1d (at most \(DurationFormat.text(max))), got \"\(text)\"")
            return false
        }
        target = seconds
        return true
    }

    /// A list of scalars, with each item's node; nil when absent or not a list.
    func stringList(_ name: String) -> [(String, Node)]? {
        guard let node = value(name) else { return nil }
        if Reader.isNull(node) { return [] }
        guard case .sequence(let items) = node else {
            reader.issue(key(name), node, "expected a list such as [\"a\", \"b\"], got \(Reader.kind(node))")
            return nil
        }
        var result: [(String, Node)] = []
        for (index, item) in items.enumerated() {
            guard case .scalar(let s) = item, !Reader.isNull(item) else {
                reader.issue("\(key(name))[\(index)]", item, "expected a string, got \(Reader.kind(item))")
                continue
            }
            result.append((s.string, item))
        }
        return result
    }
}

/// Durations and numbers written back the way the configuration spells them.
enum DurationFormat {
    /// The largest unit that divides the seconds exactly: 86400 → "1d", 5400 → "90m".
    static func text(_ seconds: Int64) -> String {
        for (unit, size) in [("d", Int64(86_400)), ("h", 3600), ("m", 60)] where seconds % size == 0 && seconds >= size {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }

    /// A number with no needless fraction: 10 → "10", 0.5 → "0.5".
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }

    static func offset(_ seconds: Int64) -> String {
        let sign = seconds < 0 ? "-" : "+"
        let magnitude = abs(seconds)
        let hours = magnitude / 3600
        let minutes = magnitude % 3600 / 60
        return sign + (hours < 10 ? "0" : "") + "\(hours):" + (minutes < 10 ? "0" : "") + "\(minutes)"
    }
}

/// How deep a YAML text nests its collections, measured with libyaml's event
/// parser (iterative: its state stack is on the heap), before Yams's
/// recursive composer sees the text.
enum YAMLNesting {
    /// Where the first collection deeper than `limit` starts (1-based line and
    /// column, as Yams reports them), or nil when there is none. Syntax errors
    /// end the scan with nil: the loader reports them from Yams, which meets
    /// them no deeper than `limit`.
    static func firstCollection(deeperThan limit: Int, in text: String) -> (line: Int, column: Int)? {
        #if canImport(CYaml)
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        return bytes.withUnsafeBufferPointer { buffer -> (line: Int, column: Int)? in
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var depth = 0
            var event = yaml_event_t()
            while yaml_parser_parse(&parser, &event) == 1 {
                let type = event.type
                let mark = event.start_mark
                yaml_event_delete(&event)
                switch type {
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    depth += 1
                    if depth > limit { return (Int(mark.line) + 1, Int(mark.column) + 1) }
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
        #error("ConfigurationLoader needs libyaml (Yams's CYaml module) to bound YAML nesting")
        #endif
    }
}
