import Interchange
import Decoding
import GeoIP

/// NORSE IPViking attack-map events, one per line, as JSON or as the Python
/// `repr()` of the dict (docs/feeds.md, "NORSE IPViking").
///
/// Fields used: `md5` (the attacker's IPv4 address, despite its name;
/// required), `dport` (number or decimal string), `svc` (service name, or
/// the port as a string), `countrycode` (falling back to `country`) for the
/// source country, `countrycode2` (falling back to `country2`) for the
/// target country, an optional `proto` (`tcp`/`udp`/number; without it the
/// port is protocol-agnostic), and an optional collector-added `timestamp`,
/// `time` or `datetime` (ISO 8601 or Unix seconds). `city`, `org`,
/// `latitude`, `longitude`, `type`, `zerg` and their `2` variants are
/// accepted and not imported. Country placeholders such as `O1` are unknown.
public struct NorseParser: FeedLineParser, Sendable {
    public static let timeFields = ["timestamp", "time", "datetime"]

    public init() {}

    public mutating func parse(line: Substring, defaultTimeNs: Int64) -> Result<[FeedEvent], FeedLineError> {
        let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
        if trimmed.isEmpty || trimmed.hasPrefix("#") { return .success([]) }
        let texts: [String]
        switch PythonLiteral.jsonTexts(trimmed) {
        case let .success(found): texts = found
        case let .failure(failure): return .failure(FeedLineError(.invalidJSON, "not a JSON or Python dict: \(failure)"))
        }
        var events: [FeedEvent] = []
        for (index, text) in texts.enumerated() {
            let where_ = texts.count > 1 ? " (object \(index + 1) of \(texts.count))" : ""
            guard let value = JSONValue.parse(text) else {
                return .failure(FeedLineError(.invalidJSON, "not a complete JSON object\(where_)"))
            }
            guard case let .object(object) = value else {
                return .failure(FeedLineError(.invalidJSON, "a JSON \(value.typeName), expected an object\(where_)"))
            }
            switch NorseParser.event(object, defaultTimeNs: defaultTimeNs) {
            case let .success(event): events.append(event)
            case let .failure(error): return .failure(FeedLineError(error.reason, error.message + where_))
            }
        }
        return .success(events)
    }

    /// One NORSE object as an event. Single-record form, for callers holding one object.
    public func parseRecord(line: Substring, defaultTimeNs: Int64) -> Result<FeedEvent?, FeedLineError> {
        var copy = self
        return copy.parse(line: line, defaultTimeNs: defaultTimeNs).flatMap { events in
            events.count <= 1 ? .success(events.first)
                : .failure(FeedLineError(.invalidJSON, "\(events.count) objects on one line"))
        }
    }

    static func event(_ object: [String: JSONValue], defaultTimeNs: Int64) -> Result<FeedEvent, FeedLineError> {
        guard let md5 = object["md5"], md5 != .null else {
            return .failure(FeedLineError(.missingField, "md5 (the attacker address) is missing"))
        }
        let source: IPAddress
        switch FieldValue.address(md5, field: "md5") {
        case let .success(address): source = address
        case let .failure(error): return .failure(error)
        }
        var port: UInt16?
        if let dport = object["dport"], dport != .null, dport != .string("") {
            switch FieldValue.port(dport, field: "dport") {
            case let .success(value): port = value
            case let .failure(error): return .failure(error)
            }
        }
        var ipProtocol: UInt8?
        if let proto = object["proto"], proto != .null, proto != .string("") {
            switch FieldValue.ipProtocol(proto, field: "proto") {
            case let .success(value): ipProtocol = value
            case let .failure(error): return .failure(error)
            }
        }
        var time = defaultTimeNs
        for field in timeFields {
            guard let value = object[field], value != .null else { continue }
            guard let ns = FeedTime.nanoseconds(value) else {
                return .failure(FeedLineError(.badTime, "\(field) \(value.excerpt) is not ISO 8601 or Unix seconds"))
            }
            time = ns
            break
        }
        var service: String?
        if let svc = object["svc"] {
            switch svc {
            case .null, .string, .integer: service = FieldValue.service(svc)
            default: return .failure(FeedLineError(.wrongType, "svc is a \(svc.typeName), expected a string"))
            }
        }
        func country(_ primary: String, _ fallback: String) -> CountryCode {
            let code = FieldValue.country(object[primary])
            return code.isKnown ? code : FieldValue.country(object[fallback])
        }
        return .success(FeedEvent(
            timestampNs: time,
            source: source,
            destinationPort: port,
            ipProtocol: ipProtocol,
            sourceCountry: country("countrycode", "country"),
            targetCountry: country("countrycode2", "country2"),
            service: service,
            count: 1
        ))
    }
}
