import Decoding
import Foundation
import Interchange

/// Cowrie honeypot JSON log lines (docs/feeds.md, "Cowrie"). Only
/// `cowrie.session.connect` events are imported, one event each:
/// `timestamp` (ISO 8601), `src_ip`, `dst_port`; Cowrie's `protocol`
/// (`ssh`/`telnet`) is the service, and the IP protocol is TCP. Every other
/// event id (logins, commands, closes...) is a line to ignore.
public struct CowrieParser: FeedLineParser, Sendable {
    public static let connectEvent = "cowrie.session.connect"

    public init() {}

    public mutating func parse(line: Substring, defaultTimeNs: Int64) -> Result<[FeedEvent], FeedLineError> {
        parseRecord(line: line).map { $0.map { [$0] } ?? [] }
    }

    public func parseRecord(line: Substring) -> Result<FeedEvent?, FeedLineError> {
        let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
        if trimmed.isEmpty { return .success(nil) }
        guard let value = JSONValue.parse(trimmed) else {
            return .failure(FeedLineError(.invalidJSON, "not a complete JSON object"))
        }
        guard case let .object(object) = value else {
            return .failure(FeedLineError(.invalidJSON, "a JSON \(value.typeName), expected an object"))
        }
        guard case let .string(eventid)? = object["eventid"] else {
            return .failure(FeedLineError(.missingField, "eventid is missing"))
        }
        guard eventid == CowrieParser.connectEvent else { return .success(nil) }
        guard let timeValue = object["timestamp"] else { return .failure(FeedLineError(.missingField, "timestamp is missing")) }
        guard let time = FeedTime.nanoseconds(timeValue) else {
            return .failure(FeedLineError(.badTime, "timestamp \(timeValue.excerpt) is not ISO 8601"))
        }
        guard let sourceValue = object["src_ip"] else { return .failure(FeedLineError(.missingField, "src_ip is missing")) }
        let source: IPAddress
        switch FieldValue.address(sourceValue, field: "src_ip") {
        case let .success(address): source = address
        case let .failure(error): return .failure(error)
        }
        var port: UInt16?
        if let value = object["dst_port"], value != .null {
            switch FieldValue.port(value, field: "dst_port") {
            case let .success(number): port = number
            case let .failure(error): return .failure(error)
            }
        }
        return .success(FeedEvent(timestampNs: time, source: source, destinationPort: port, ipProtocol: IPProtocolNumber.tcp,
                                  service: FieldValue.service(object["protocol"]), count: 1))
    }
}
