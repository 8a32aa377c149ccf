import Decoding
import GeoIP

/// One row of the fleet database's `feed_events`: one event of a feed, as
/// `darknetd feed import` stores it (docs/fleet.md, "Feed import"). The sum of
/// `weight` over rows is the number of events (or packets) they stand for; a
/// row of weight 0 names a source or a bucket without adding to any count.
public struct FeedRecord: Sendable, Equatable {
    /// Event time (the start, when the feed gives a start and an end), ns since the Unix epoch (UTC).
    public var timeNs: Int64
    /// The end, when the feed gives one.
    public var endTimeNs: Int64?
    public var source: IPAddress?
    public var ipProtocol: UInt8?
    public var port: UInt16?
    /// ISO 3166 alpha-2; `.unknown` is stored as NULL.
    public var country: CountryCode
    /// How many events (or packets) the row stands for: finite and not negative.
    public var weight: Double
    /// `line_number × 1000 + k`: the line the row came from, and its place among
    /// that line's rows (0 for the first). Set by `FeedFileScanner`.
    public var line: Int64

    /// Rows a line may yield; a line with more is rejected (`too-many-records`).
    public static let maxRecordsPerLine = 1000

    public init(timeNs: Int64, endTimeNs: Int64? = nil, source: IPAddress? = nil, ipProtocol: UInt8? = nil, port: UInt16? = nil,
                country: CountryCode = .unknown, weight: Double = 1, line: Int64 = 0) {
        self.timeNs = timeNs
        self.endTimeNs = endTimeNs
        self.source = source
        self.ipProtocol = ipProtocol
        self.port = port
        self.country = country
        self.weight = weight
        self.line = line
    }

    /// The rows of the events one line of a built-in format yields (`FeedLineParser`).
    ///
    /// A record of one observation (NORSE, CSV, Cowrie: `contributes == .all`)
    /// is one row: its time, source, port, protocol, source country, and
    /// `weight = count`. A sensor-export bucket line's events are marginals of
    /// the same packets, so they become rows whose weights add up to the
    /// bucket's packets once: one row per port entry (`weight` = its packets)
    /// and one row without a port for the packets of the ports not listed
    /// (written also when the bucket has no packets and no ports, so the
    /// bucket is seen). Its per-country entries are not stored: beside the
    /// per-port rows they would count the packets twice. A source line
    /// repeats packets of its bucket: its row (source, port, country) has
    /// weight 0, and counts only for distinct sources.
    public static func records(from events: [FeedEvent]) -> [FeedRecord] {
        var rows: [FeedRecord] = []
        var bucket: (time: Int64, packets: UInt64)?
        var portRows: [FeedRecord] = []
        var portPackets: UInt64 = 0
        for event in events {
            let c = event.contributes
            if c.contains(.total) && c.contains(.ports) {
                rows.append(FeedRecord(timeNs: event.timestampNs, source: event.source, ipProtocol: event.ipProtocol,
                                       port: event.destinationPort, country: event.sourceCountry, weight: Double(event.count)))
            } else if c.contains(.total) {
                bucket = (event.timestampNs, event.count)
            } else if c.contains(.ports) {
                portRows.append(FeedRecord(timeNs: event.timestampNs, ipProtocol: event.ipProtocol, port: event.destinationPort,
                                           weight: Double(event.count)))
                portPackets &+= event.count
            } else if c.contains(.sources) {
                rows.append(FeedRecord(timeNs: event.timestampNs, source: event.source, ipProtocol: event.ipProtocol,
                                       port: event.destinationPort, country: event.sourceCountry, weight: 0))
            }
            // Per-country marginals alone: not stored (see above).
        }
        if let bucket {
            let rest = bucket.packets > portPackets ? bucket.packets - portPackets : 0
            if rest > 0 || portRows.isEmpty {
                rows.append(FeedRecord(timeNs: bucket.time, weight: Double(rest)))
            }
        }
        return rows + portRows
    }
}

/// Turns one line into rows, for `FeedFileScanner`: a built-in format
/// (`FeedEventRecords`) or a YAML-declared mapping (`FeedMappingParser`).
public protocol FeedRecordParser {
    /// The line's rows (`[]` for a line with nothing to import: blank, a
    /// header, a filtered-out record), or why it is rejected.
    /// `defaultTimeNs` is given to records whose line has no time.
    mutating func parse(line: Substring, defaultTimeNs: Int64) -> Result<[FeedRecord], FeedLineError>
    /// Set when the file cannot be read with this parser at all (a CSV header
    /// without a column the mapping names): the import stops with this reason.
    var unusable: String? { get }
}

/// A built-in format's parser, its events turned into rows by `FeedRecord.records(from:)`.
public struct FeedEventRecords: FeedRecordParser {
    var parser: any FeedLineParser

    public init(_ format: FeedFormat) {
        parser = format.makeParser()
    }

    public var unusable: String? { nil }

    public mutating func parse(line: Substring, defaultTimeNs: Int64) -> Result<[FeedRecord], FeedLineError> {
        parser.parse(line: line, defaultTimeNs: defaultTimeNs).map(FeedRecord.records(from:))
    }
}
