import Daemon
import Foundation
import Interchange
import StatsWire

/// Fixed replies per command, for the stats socket tests. Commands given an array of
/// rows honour `n` by truncating it.
struct StaticStatsProvider: StatsProvider {
    enum Entry: Sendable, Equatable {
        /// An object returned as is.
        case object(Data)
        /// `{key: rows[0..<n]}`: rows truncated to the request's `n` when given.
        case rows(key: String, rows: [JSONValue])
        case text(String)
    }

    var entries: [String: Entry]

    init(entries: [String: Entry]) {
        self.entries = entries
    }

    func respond(to command: String, arguments: [String: Int]) -> StatsReply {
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
    static func sample() -> StaticStatsProvider {
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
