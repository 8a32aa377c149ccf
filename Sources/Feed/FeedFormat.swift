import Interchange
/// Parses the lines of one feed file. A parser may keep state across lines
/// (a CSV header, an export header), so the reader makes a fresh one for
/// every file it starts (after rotation, truncation or a re-read).
public protocol FeedLineParser {
    /// Parses one line, without its terminator (no `\n`, no `\r`, no BOM).
    /// `defaultTimeNs` is the arrival time, used by formats whose lines may
    /// carry no time (NORSE). Success with `[]` means the line carries nothing
    /// to import (blank, comment, header, an event type that is not imported);
    /// a line may also stand for several events (a sensor-export bucket line,
    /// concatenated NORSE objects).
    mutating func parse(line: Substring, defaultTimeNs: Int64) -> Result<[FeedEvent], FeedLineError>
}

/// The feed formats (docs/feeds.md).
public enum FeedFormat: String, Sendable, CaseIterable, Equatable {
    /// NORSE IPViking attack-map events: JSON or Python-dict lines.
    case norse
    /// CSV with a header row naming its columns.
    case csv
    /// Another darknet-sensor's export (JSON lines, `darknet-sensor-export` header).
    case sensor
    /// Cowrie honeypot JSON log (`cowrie.session.connect` events).
    case cowrie

    /// `norse`, `csv`, `sensor`, `cowrie`; `nil` for `auto` (detect) . Throws on anything else.
    public static func named(_ name: String) throws(FeedError) -> FeedFormat? {
        let lowered = name.lowercased()
        if lowered == "auto" { return nil }
        guard let format = FeedFormat(rawValue: lowered) else { throw .unknownFormat(name) }
        return format
    }

    /// A fresh parser for this format.
    public func makeParser() -> any FeedLineParser {
        switch self {
        case .norse: NorseParser()
        case .csv: CSVFeedParser()
        case .sensor: SensorExportParser()
        case .cowrie: CowrieParser()
        }
    }

    /// How many of a file's first non-blank lines detection and validation look at.
    public static let sniffLines = 8

    /// Decides the format from a file's first lines (terminators removed, a
    /// leading BOM allowed). Throws `notAFeed` for a binary file, or when no
    /// line is recognisable as any format. Blank lines and `#` comments are
    /// passed over; for an empty file (no such lines) it throws too, since
    /// there is nothing to decide from (followers defer detection instead).
    public static func detect(firstLines: [Substring], path: String = "feed") throws(FeedError) -> FeedFormat {
        let lines = contentLines(firstLines)
        guard !lines.isEmpty else { throw .notAFeed(path: path, reason: "no content to detect the format from") }
        if let binary = binaryReason(lines) { throw .notAFeed(path: path, reason: binary) }
        for line in lines {
            guard let candidate = sniff(line) else { continue }
            // The candidate must also parse: one of the first lines has to import cleanly.
            if (try? candidate.validate(firstLines: firstLines, path: path)) != nil { return candidate }
        }
        let first = lines[0]
        throw .notAFeed(path: path, reason: "first line '\(FieldValue.clip(first))' is not a NORSE, Cowrie or sensor-export JSON object, nor a CSV header with a time or source column")
    }

    /// Checks an explicitly chosen format against a file's first lines: at
    /// least one of the first `sniffLines` non-blank lines must parse without
    /// error (for CSV, the header must name a time or source column). An empty
    /// file passes (there is nothing to contradict the choice).
    public func validate(firstLines: [Substring], path: String = "feed") throws(FeedError) {
        let lines = FeedFormat.contentLines(firstLines)
        guard !lines.isEmpty else { return }
        if let binary = FeedFormat.binaryReason(lines) { throw .formatMismatch(path: path, format: self, reason: binary) }
        var parser = makeParser()
        var firstError: FeedLineError?
        let arrival: Int64 = 0
        for line in firstLines.prefix(FeedFormat.sniffLines * 2) {
            let trimmed = FeedFormat.stripBOM(line)
            switch parser.parse(line: trimmed, defaultTimeNs: arrival) {
            case let .success(events):
                if !events.isEmpty { return }
                if self == .csv, (parser as? CSVFeedParser)?.columns != nil { return }
                if self == .sensor, (parser as? SensorExportParser)?.header != nil { return }
            case let .failure(error):
                if self == .csv || self == .sensor { throw .formatMismatch(path: path, format: self, reason: error.description) }
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw .formatMismatch(path: path, format: self, reason: firstError.description) }
        // Only ignorable lines (e.g. Cowrie events other than connects): acceptable.
    }

    static func stripBOM(_ line: Substring) -> Substring {
        line.hasPrefix("\u{FEFF}") ? line.dropFirst() : line
    }

    static func contentLines(_ lines: [Substring]) -> [Substring] {
        Array(lines.lazy.map(stripBOM).filter { line in
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            return !trimmed.isEmpty && !trimmed.hasPrefix("#")
        }.prefix(sniffLines))
    }

    /// A file is binary when its first content line holds a NUL or another
    /// control byte, or is not UTF-8 (a pcap, gzip or ELF file fails on its
    /// first bytes). A later bad line in a text feed is only a bad line,
    /// skipped and counted when it is read: a hostile line appended to a live
    /// feed must not stop the daemon from starting again (DaemonTests).
    static func binaryReason(_ lines: [Substring]) -> String? {
        guard let first = lines.first else { return nil }
        if first.utf8.contains(0) { return "binary data (NUL bytes) in its first line" }
        if first.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 }) { return "binary data (control bytes) in its first line" }
        if first.contains("\u{FFFD}") { return "binary data (not UTF-8) in its first line" }
        return nil
    }

    /// A guess from one line, confirmed by `validate`.
    static func sniff(_ line: Substring) -> FeedFormat? {
        let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
        if trimmed.hasPrefix("{") {
            guard case let .success(texts) = PythonLiteral.jsonTexts(trimmed), let text = texts.first,
                  case let .object(object)? = JSONValue.parse(text) else { return nil }
            if case .string("darknet-sensor-export")? = object["format"] { return .sensor }
            if case let .string(eventid)? = object["eventid"], eventid.hasPrefix("cowrie.") { return .cowrie }
            if object["md5"] != nil || (object["dport"] != nil && object["countrycode"] != nil) { return .norse }
            return nil
        }
        if CSVFeedParser.headerColumns(trimmed) != nil { return .csv }
        return nil
    }
}
