import Foundation
import Interchange

/// What a provider answers for one command.
public enum StatsReply: Sendable, Equatable {
    /// One JSON object, already encoded: sent as the response's `data`.
    case data(Data)
    /// Text sent as `data.text` (the `metrics` command's Prometheus exposition).
    case text(String)
    /// The provider does not serve this command: an `unknown-command` error.
    case unknown
}

/// Answers stats requests. Called on the stats server's event loop thread,
/// so it must be quick and must not touch live mutable state: the daemon's
/// provider serves immutable snapshots the aggregation thread publishes.
/// `help` is answered by the server itself and never reaches a provider.
public protocol StatsProvider: Sendable {
    func respond(to command: String, arguments: [String: Int]) -> StatsReply
}

/// Fixed replies per command, for tests and demos. Commands given an array of
/// rows honour `n` by truncating it.
public struct StaticStatsProvider: StatsProvider {
    public enum Entry: Sendable, Equatable {
        /// An object returned as is.
        case object(Data)
        /// `{key: rows[0..<n]}`: rows truncated to the request's `n` when given.
        case rows(key: String, rows: [JSONValue])
        case text(String)
    }

    public var entries: [String: Entry]

    public init(entries: [String: Entry]) {
        self.entries = entries
    }

    public func respond(to command: String, arguments: [String: Int]) -> StatsReply {
        guard let entry = entries[command] else { return .unknown }
        switch entry {
        case .object(let data):
            return .data(data)
        case .rows(let key, let rows):
            let kept = arguments["n"].map { Array(rows.prefix($0)) } ?? rows
            let value = JSONValue.object([key: .array(kept), "count": .integer(Int64(kept.count))])
            return .data(Data(value.compactJSON.utf8))
        case .text(let text):
            return .text(text)
        }
    }

    /// A provider with plausible replies for every command in `StatsCommand`.
    public static func sample() -> StaticStatsProvider {
        func object(_ value: JSONValue) -> Entry { .object(Data(value.compactJSON.utf8)) }
        let portNumbers: [Int64] = [23, 22, 80, 443, 445, 3389, 8080, 53, 123, 5060]
        var ports: [JSONValue] = []
        var sources: [JSONValue] = []
        var series: [JSONValue] = []
        for i in 0..<20 {
            let index = Int64(i)
            var port: [String: JSONValue] = [:]
            port["proto"] = .string(i % 3 == 0 ? "udp" : "tcp")
            port["port"] = .integer(portNumbers[i % 10] + index / 10)
            port["packets"] = .integer(10_000 - index * 400)
            port["sources"] = .integer(500 - index * 20)
            ports.append(.object(port))
            var source: [String: JSONValue] = [:]
            source["address"] = .string("203.0.113.\(i + 1)")
            source["packets"] = .integer(5_000 - index * 200)
            source["ports"] = .integer(1 + index)
            source["fingerprint"] = i % 4 == 0 ? .string("mirai") : .null
            sources.append(.object(source))
        }
        for i in 0..<10 {
            series.append(.object(["start": .string("2025-01-01T00:0\(i):00Z"), "packets": .integer(1_000 + Int64(i) * 10)]))
        }
        return StaticStatsProvider(entries: [
            StatsCommand.status.rawValue: object(.object([
                "version": .string(SensorVersion.string), "uptime_seconds": .integer(3_600), "state": .string("capturing"),
                "interfaces": .array([.string("eth1")]),
                "ring": .object(["captured": .integer(1_000_000), "ring_dropped": .integer(0)]),
            ])),
            StatsCommand.stats.rawValue: object(.object([
                "packets": .object(["total": .integer(1_000_000), "tcp": .integer(700_000), "udp": .integer(250_000), "icmp": .integer(50_000)]),
                "bytes": .integer(64_000_000),
            ])),
            StatsCommand.topPorts.rawValue: .rows(key: "ports", rows: ports),
            StatsCommand.topSources.rawValue: .rows(key: "sources", rows: sources),
            StatsCommand.countries.rawValue: .rows(key: "countries", rows: [
                .object(["country": .string("CN"), "packets": .integer(400_000)]),
                .object(["country": .string("US"), "packets": .integer(200_000)]),
                .object(["country": .string("??"), "packets": .integer(10_000)]),
            ]),
            StatsCommand.series.rawValue: .rows(key: "buckets", rows: series),
            StatsCommand.alerts.rawValue: .rows(key: "alerts", rows: [
                .object(["kind": .string("surge"), "proto": .string("udp"), "port": .integer(53), "ratio": .double(7.5)]),
            ]),
            StatsCommand.correlation.rawValue: object(.object(["peers": .array([]), "enabled": .bool(false)])),
            StatsCommand.feed.rawValue: .rows(key: "events", rows: [
                .object(["source": .string("198.51.100.7"), "kind": .string("scan"), "port": .integer(23)]),
            ]),
            StatsCommand.metrics.rawValue: .text("""
                # HELP darknet_packets_total Packets captured.
                # TYPE darknet_packets_total counter
                darknet_packets_total 1000000
                # HELP darknet_ring_dropped_total Packets dropped because the ring was full.
                # TYPE darknet_ring_dropped_total counter
                darknet_ring_dropped_total 0

                """),
        ])
    }
}

/// A small writer of the Prometheus text exposition format (version 0.0.4),
/// for the daemon's `metrics` reply.
public struct PrometheusText: Sendable {
    public enum MetricType: String, Sendable { case counter, gauge, untyped }

    private var lines: [String] = []

    public init() {}

    /// One metric family: HELP and TYPE lines, then one sample per label set.
    public mutating func family(_ name: String, _ type: MetricType, help: String, samples: [(labels: [(String, String)], value: Double)]) {
        lines.append("# HELP \(name) \(PrometheusText.escapeHelp(help))")
        lines.append("# TYPE \(name) \(type.rawValue)")
        for sample in samples {
            var line = name
            if !sample.labels.isEmpty {
                line += "{" + sample.labels.map { "\($0.0)=\"\(PrometheusText.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
            }
            line += " " + PrometheusText.format(sample.value)
            lines.append(line)
        }
    }

    /// One unlabelled sample.
    public mutating func single(_ name: String, _ type: MetricType, help: String, value: Double) {
        family(name, type, help: help, samples: [(labels: [], value: value)])
    }

    /// The exposition, ending with a newline.
    public var text: String { lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n" }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == .infinity { return "+Inf" }
        if value == -.infinity { return "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    static func escapeHelp(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func escapeLabel(_ text: String) -> String {
        escapeHelp(text).replacingOccurrences(of: "\"", with: "\\\"")
    }
}
