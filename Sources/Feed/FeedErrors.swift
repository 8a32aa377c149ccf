/// Why one line of a feed was not imported. The line is counted under
/// `reason` and the import goes on; it never stops on a bad line.
public struct FeedLineError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable, CaseIterable, Comparable {
        /// Longer than the reader's line bound; skipped without being buffered.
        case lineTooLong = "line-too-long"
        /// Not valid UTF-8.
        case invalidUTF8 = "invalid-utf8"
        /// Not a JSON (or Python-literal) object: truncated, unbalanced, a bare value...
        case invalidJSON = "invalid-json"
        /// A required field is absent.
        case missingField = "missing-field"
        /// A field has the wrong type (array, object, bool where a number or string belongs).
        case wrongType = "wrong-type"
        /// An address that is neither IPv4 nor IPv6.
        case badAddress = "bad-address"
        /// A port that is not an integer in 0...65535.
        case badPort = "bad-port"
        /// A protocol that is not `tcp`, `udp`, `icmp`, `icmpv6`, `sctp` or a number 0...255.
        case badProtocol = "bad-protocol"
        /// A time that is neither ISO 8601 nor Unix seconds in range.
        case badTime = "bad-time"
        /// A count that is not a non-negative integer.
        case badCount = "bad-count"
        /// A mapping's weight that is not a finite non-negative number.
        case badWeight = "bad-weight"
        /// A mapping's country that is neither two letters nor a country name it knows.
        case badCountry = "bad-country"
        /// A line that yields more rows than `FeedRecord.maxRecordsPerLine` (feed import).
        case tooManyRecords = "too-many-records"
        /// CSV: wrong number of fields, or an unterminated quote.
        case badCSV = "bad-csv"
        /// CSV without a usable header, or a sensor export without its header line.
        case missingHeader = "missing-header"
        /// Sensor export: unknown line `type`, or a header of another format/version.
        case unsupported = "unsupported"
        /// A follower started on an empty file with format detection, and this
        /// line did not reveal the format (detection is retried on the next line).
        case undetectedFormat = "undetected-format"

        public static func < (a: Reason, b: Reason) -> Bool { a.rawValue < b.rawValue }
    }

    public var reason: Reason
    public var message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { "\(reason.rawValue): \(message)" }
}

/// Why a feed cannot be imported at all: reported at start-up, before any event.
public enum FeedError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file cannot be opened or read.
    case cannotOpen(path: String, reason: String)
    /// The file's first lines are not any feed format (binary, or no recognisable header/fields).
    case notAFeed(path: String, reason: String)
    /// The format was chosen explicitly but the file's first lines do not fit it.
    case formatMismatch(path: String, format: FeedFormat, reason: String)
    /// An unknown name for `FeedFormat`.
    case unknownFormat(String)
    /// The file does not fit a YAML mapping (a CSV header without a column the mapping names).
    case mappingMismatch(path: String, mapping: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): "cannot open feed \(path): \(reason)"
        case let .notAFeed(path, reason): "\(path) is not a feed: \(reason)"
        case let .formatMismatch(path, format, reason): "\(path) is not a \(format.rawValue) feed: \(reason)"
        case let .unknownFormat(name): "unknown feed format '\(name)' (expected norse, csv, sensor, cowrie or auto)"
        case let .mappingMismatch(path, mapping, reason): "\(path) does not fit \(mapping): \(reason)"
        }
    }
}
