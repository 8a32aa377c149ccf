import Decoding
import Foundation
import Interchange
import GeoIP

// The format in which one darknetd exports its per-bucket aggregates and
// source events so that another darknetd can import them as a feed.
// Specification: docs/feeds.md, "Sensor export (version 1)".

/// The first line of an export.
public struct SensorExportHeader: Codable, Sendable, Equatable {
    public static let formatName = "darknet-sensor-export"
    public static let currentVersion = 1

    public var format: String
    public var version: Int
    public var bucketSeconds: Int64
    public var sensor: String

    public init(sensor: String, bucketSeconds: Int64, version: Int = SensorExportHeader.currentVersion) {
        self.format = SensorExportHeader.formatName
        self.version = version
        self.bucketSeconds = bucketSeconds
        self.sensor = sensor
    }

    enum CodingKeys: String, CodingKey {
        case format, version, sensor
        case bucketSeconds = "bucket_seconds"
    }
}

/// Packets of one bucket to one protocol/port, and how many distinct sources sent them.
public struct SensorExportPort: Sendable, Equatable {
    public var ipProtocol: UInt8
    public var port: UInt16
    public var packets: UInt64
    public var sources: UInt64

    public init(ipProtocol: UInt8, port: UInt16, packets: UInt64, sources: UInt64) {
        self.ipProtocol = ipProtocol
        self.port = port
        self.packets = packets
        self.sources = sources
    }
}

/// Packets of one bucket from one source country (`.unknown` for unresolved sources).
public struct SensorExportCountry: Sendable, Equatable {
    public var country: CountryCode
    public var packets: UInt64

    public init(country: CountryCode, packets: UInt64) {
        self.country = country
        self.packets = packets
    }
}

/// One bucket's aggregates: what an exporting sensor's aggregator produces per bucket.
public struct SensorExportBucket: Sendable, Equatable {
    /// Bucket start, ns since the epoch (UTC).
    public var startNs: Int64
    public var packets: UInt64
    /// Top ports (or all); need not sum to `packets`.
    public var ports: [SensorExportPort]
    /// Source countries; need not sum to `packets`.
    public var countries: [SensorExportCountry]

    public init(startNs: Int64, packets: UInt64, ports: [SensorExportPort] = [], countries: [SensorExportCountry] = []) {
        self.startNs = startNs
        self.packets = packets
        self.ports = ports
        self.countries = countries
    }
}

/// Packets from one source address to one protocol/port, seen at `timeNs`
/// (first packet, or the bucket start: the exporter decides and documents).
public struct SensorExportSource: Sendable, Equatable {
    public var timeNs: Int64
    public var address: IPAddress
    public var ipProtocol: UInt8
    /// `nil` for protocols without ports (ICMP).
    public var port: UInt16?
    public var packets: UInt64
    public var country: CountryCode

    public init(timeNs: Int64, address: IPAddress, ipProtocol: UInt8, port: UInt16?, packets: UInt64, country: CountryCode = .unknown) {
        self.timeNs = timeNs
        self.address = address
        self.ipProtocol = ipProtocol
        self.port = port
        self.packets = packets
        self.country = country
    }
}

/// Protocol names on the wire: `tcp`, `udp`, `icmp`, `icmpv6`, else the number as a string.
enum ExportProtocol {
    static func name(_ number: UInt8) -> String {
        switch number {
        case IPProtocolNumber.tcp: "tcp"
        case IPProtocolNumber.udp: "udp"
        case IPProtocolNumber.icmp: "icmp"
        case IPProtocolNumber.icmpv6: "icmpv6"
        default: String(number)
        }
    }
}

// Wire shapes (Codable, snake_case, keys sorted on output).
struct ExportPortLine: Codable {
    var proto: String
    var port: UInt16
    var packets: UInt64
    var sources: UInt64
}

struct ExportCountryLine: Codable {
    var country: String
    var packets: UInt64
}

struct ExportBucketLine: Codable {
    var type = "bucket"
    var start: String
    var packets: UInt64
    var ports: [ExportPortLine]
    var countries: [ExportCountryLine]
}

struct ExportSourceLine: Codable {
    var type = "source"
    var time: String
    var address: String
    var proto: String
    var port: UInt16?
    var packets: UInt64
    var country: String
}

/// Writes an export: `header()` once at the start of every file, then one
/// line per bucket and per source. Lines carry no terminator; write each
/// followed by `\n`.
public struct SensorExportWriter: Sendable {
    public let header: SensorExportHeader

    public init(sensor: String, bucketSeconds: Int64) {
        header = SensorExportHeader(sensor: sensor, bucketSeconds: bucketSeconds)
    }

    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every wire type is plain strings and integers: encoding cannot fail.
        guard let data = try? encoder.encode(value) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    public func headerLine() -> String { SensorExportWriter.encode(header) }

    public func line(_ bucket: SensorExportBucket) -> String {
        SensorExportWriter.encode(ExportBucketLine(
            start: RFC3339.format(bucket.startNs),
            packets: bucket.packets,
            ports: bucket.ports.map {
                ExportPortLine(proto: ExportProtocol.name($0.ipProtocol), port: $0.port, packets: $0.packets, sources: $0.sources)
            },
            countries: bucket.countries.map { ExportCountryLine(country: $0.country.description, packets: $0.packets) }
        ))
    }

    public func line(_ source: SensorExportSource) -> String {
        SensorExportWriter.encode(ExportSourceLine(
            time: RFC3339.format(source.timeNs),
            address: source.address.description,
            proto: ExportProtocol.name(source.ipProtocol),
            port: source.port,
            packets: source.packets,
            country: source.country.description
        ))
    }

    /// A whole export: the header, the buckets, then the sources, each line ending in `\n`.
    public func document(buckets: [SensorExportBucket], sources: [SensorExportSource]) -> String {
        var text = headerLine() + "\n"
        for bucket in buckets { text += line(bucket) + "\n" }
        for source in sources { text += line(source) + "\n" }
        return text
    }
}

/// Reads an export as a feed.
///
/// How lines map to events (so that sums never double-count):
/// - the header line yields nothing; data lines before any header are `missing-header`;
/// - a bucket line yields one event with `count = packets` that contributes
///   to the bucket total only, one event per `ports` entry (protocol, port,
///   `count = packets`) that contributes to the per-port figures only, and
///   one event per `countries` entry (`sourceCountry`, `count = packets`)
///   that contributes to the per-source-country figures only; all at the
///   bucket start. A port entry's `sources` is not mapped (the importer
///   counts distinct sources from source lines);
/// - a source line yields one event (time, address, protocol, port,
///   source country, `count = packets`) that contributes to the distinct
///   sources and per-source figures only: its packets are already in its
///   bucket's line.
public struct SensorExportParser: FeedLineParser, Sendable {
    public private(set) var header: SensorExportHeader?

    public init() {}

    public mutating func parse(line: Substring, defaultTimeNs: Int64) -> Result<[FeedEvent], FeedLineError> {
        let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
        if trimmed.isEmpty { return .success([]) }
        guard let value = JSONValue.parse(trimmed) else {
            return .failure(FeedLineError(.invalidJSON, "not a complete JSON object"))
        }
        guard case let .object(object) = value else {
            return .failure(FeedLineError(.invalidJSON, "a JSON \(value.typeName), expected an object"))
        }
        if let format = object["format"] {
            return readHeader(object, format: format).map { header = $0; return [] }
        }
        guard header != nil else {
            return .failure(FeedLineError(.missingHeader, "data before the darknet-sensor-export header line"))
        }
        switch object["type"] {
        case .string("bucket")?: return SensorExportParser.bucket(object)
        case .string("source")?: return SensorExportParser.source(object).map { [$0] }
        case let other?:
            return .failure(FeedLineError(.unsupported, "line type \(other.excerpt) is not bucket or source"))
        case nil:
            return .failure(FeedLineError(.missingField, "type is missing"))
        }
    }

    func readHeader(_ object: [String: JSONValue], format: JSONValue) -> Result<SensorExportHeader, FeedLineError> {
        guard format == .string(SensorExportHeader.formatName) else {
            return .failure(FeedLineError(.unsupported, "format \(format.excerpt) is not \(SensorExportHeader.formatName)"))
        }
        guard case let .integer(version)? = object["version"] else {
            return .failure(FeedLineError(.missingField, "header version is missing or not an integer"))
        }
        guard version == Int64(SensorExportHeader.currentVersion) else {
            return .failure(FeedLineError(.unsupported, "export version \(version); this reader knows version \(SensorExportHeader.currentVersion)"))
        }
        guard case let .integer(seconds)? = object["bucket_seconds"], seconds > 0 else {
            return .failure(FeedLineError(.missingField, "header bucket_seconds is missing or not a positive integer"))
        }
        guard case let .string(sensor)? = object["sensor"] else {
            return .failure(FeedLineError(.missingField, "header sensor name is missing"))
        }
        return .success(SensorExportHeader(sensor: sensor, bucketSeconds: seconds, version: Int(version)))
    }

    static func time(_ object: [String: JSONValue], field: String) -> Result<Int64, FeedLineError> {
        guard let value = object[field] else { return .failure(FeedLineError(.missingField, "\(field) is missing")) }
        guard case .string = value, let ns = FeedTime.nanoseconds(value) else {
            return .failure(FeedLineError(.badTime, "\(field) \(value.excerpt) is not an RFC 3339 time"))
        }
        return .success(ns)
    }

    static func packets(_ object: [String: JSONValue], what: String) -> Result<UInt64, FeedLineError> {
        guard let value = object["packets"] else { return .failure(FeedLineError(.missingField, "\(what)packets is missing")) }
        return FieldValue.count(value, field: "\(what)packets")
    }

    static func bucket(_ object: [String: JSONValue]) -> Result<[FeedEvent], FeedLineError> {
        let start: Int64
        switch time(object, field: "start") {
        case let .success(ns): start = ns
        case let .failure(error): return .failure(error)
        }
        var events: [FeedEvent] = []
        switch packets(object, what: "") {
        case let .success(total): events.append(FeedEvent(timestampNs: start, count: total, contributes: .total))
        case let .failure(error): return .failure(error)
        }
        func list(_ name: String) -> Result<[[String: JSONValue]], FeedLineError> {
            switch object[name] {
            case nil, .null?: return .success([])
            case let .array(items)?:
                var objects: [[String: JSONValue]] = []
                for item in items {
                    guard case let .object(entry) = item else {
                        return .failure(FeedLineError(.wrongType, "\(name) holds a \(item.typeName), expected objects"))
                    }
                    objects.append(entry)
                }
                return .success(objects)
            case let other?:
                return .failure(FeedLineError(.wrongType, "\(name) is a \(other.typeName), expected an array"))
            }
        }
        switch list("ports") {
        case let .success(entries):
            for entry in entries {
                guard let protoValue = entry["proto"] else { return .failure(FeedLineError(.missingField, "ports[].proto is missing")) }
                guard let portValue = entry["port"] else { return .failure(FeedLineError(.missingField, "ports[].port is missing")) }
                let proto: UInt8, port: UInt16, count: UInt64
                switch FieldValue.ipProtocol(protoValue, field: "ports[].proto") {
                case let .success(value): proto = value
                case let .failure(error): return .failure(error)
                }
                switch FieldValue.port(portValue, field: "ports[].port") {
                case let .success(value): port = value
                case let .failure(error): return .failure(error)
                }
                switch packets(entry, what: "ports[].") {
                case let .success(value): count = value
                case let .failure(error): return .failure(error)
                }
                events.append(FeedEvent(timestampNs: start, destinationPort: port, ipProtocol: proto, count: count, contributes: .ports))
            }
        case let .failure(error): return .failure(error)
        }
        switch list("countries") {
        case let .success(entries):
            for entry in entries {
                guard case .string? = entry["country"] else {
                    return .failure(FeedLineError(.missingField, "countries[].country is missing or not a string"))
                }
                switch packets(entry, what: "countries[].") {
                case let .success(count):
                    events.append(FeedEvent(timestampNs: start, sourceCountry: FieldValue.country(entry["country"]),
                                            count: count, contributes: .sourceCountries))
                case let .failure(error): return .failure(error)
                }
            }
        case let .failure(error): return .failure(error)
        }
        return .success(events)
    }

    static func source(_ object: [String: JSONValue]) -> Result<FeedEvent, FeedLineError> {
        let when: Int64, address: IPAddress, count: UInt64
        switch time(object, field: "time") {
        case let .success(ns): when = ns
        case let .failure(error): return .failure(error)
        }
        guard let addressValue = object["address"] else { return .failure(FeedLineError(.missingField, "address is missing")) }
        switch FieldValue.address(addressValue, field: "address") {
        case let .success(value): address = value
        case let .failure(error): return .failure(error)
        }
        var proto: UInt8?
        if let value = object["proto"], value != .null {
            switch FieldValue.ipProtocol(value, field: "proto") {
            case let .success(number): proto = number
            case let .failure(error): return .failure(error)
            }
        }
        var port: UInt16?
        if let value = object["port"], value != .null {
            switch FieldValue.port(value, field: "port") {
            case let .success(number): port = number
            case let .failure(error): return .failure(error)
            }
        }
        switch packets(object, what: "") {
        case let .success(value): count = value
        case let .failure(error): return .failure(error)
        }
        return .success(FeedEvent(timestampNs: when, source: address, destinationPort: port, ipProtocol: proto,
                                  sourceCountry: FieldValue.country(object["country"]), count: count, contributes: .sources))
    }
}
