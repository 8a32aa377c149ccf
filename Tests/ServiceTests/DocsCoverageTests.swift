import Aggregation
import Alerts
import Foundation
@testable import Configuration
@testable import Daemon
@testable import Pipeline
@testable import StatsWire
import Testing

/// docs/configuration.md and docs/stats-protocol.md name what the code accepts,
/// no more and no less (issue 12, finding 10). Both lists come from the code:
/// the configuration keys from the loader itself (each mapping is probed with
/// an unknown key, and its "expected one of" answer lists the keys it reads),
/// the socket commands from the daemon's provider and the server.
@Suite struct DocsCoverageTests {
    static func doc(_ name: String) throws -> String {
        try String(contentsOf: repositoryRoot.appendingPathComponent("docs/\(name)"), encoding: .utf8)
    }

    static let probe = "zz_probe"

    /// The issue the loader reports for an unknown key at `path` (a dotted path of mappings).
    static func probeIssue(_ path: [String]) -> ConfigurationIssue? {
        var yaml = ""
        for (depth, key) in path.enumerated() { yaml += String(repeating: "  ", count: depth) + key + ":\n" }
        yaml += String(repeating: "  ", count: path.count) + probe + ": 1\n"
        do {
            _ = try ConfigurationLoader.load(yaml: yaml)
            return nil
        } catch {
            return error.issues.first { $0.keyPath == (path + [probe]).joined(separator: ".") }
        }
    }

    /// Every leaf key path the loader accepts, found by probing.
    static func acceptedKeys(_ path: [String] = []) -> [String] {
        guard let issue = probeIssue(path) else { return [] }
        let children: [String]
        if let range = issue.message.range(of: "expected one of: ") {
            children = issue.message[range.upperBound...].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        } else if let range = issue.message.range(of: "the rules are ") {
            children = issue.message[range.upperBound...].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        } else {
            return []
        }
        var keys: [String] = []
        for child in children {
            let nested = path + [child]
            if probeIssue(nested).map({ $0.message.hasPrefix("unknown") }) ?? false {
                keys += acceptedKeys(nested)
            } else {
                keys.append(nested.joined(separator: "."))
            }
        }
        return keys
    }

    /// `## \`name\`` sections of docs/configuration.md → the keys of their table rows.
    static func documentedRows(_ text: String) -> [String: [String]] {
        var sections: [String: [String]] = [:]
        var current: String?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("## ") {
                current = line.hasPrefix("## `") ? String(line.dropFirst(4).prefix { $0 != "`" }) : nil
                continue
            }
            guard let section = current, line.hasPrefix("| `") else { continue }
            let key = String(line.dropFirst(3).prefix { $0 != "`" })
            sections[section, default: []].append(key)
        }
        return sections
    }

    @Test func everyConfigurationKeyIsDocumentedAndEveryDocumentedKeyExists() throws {
        let accepted = Self.acceptedKeys()
        #expect(accepted.count > 60, "\(accepted)")
        #expect(accepted.contains("aggregation.scan.min_destinations") && accepted.contains("alerts.rules.port-surge.factor"))
        let text = try Self.doc("configuration.md")
        let rows = Self.documentedRows(text)
        let rules = AlertRuleID.configurable.map(\.rawValue)
        let ruleParagraph = try #require(text.range(of: "Rule ids:")).lowerBound
        let ruleIDs = text[ruleParagraph...].prefix(while: { $0 != "|" })
        var documented = Set<String>()
        for (section, keys) in rows {
            for key in keys {
                // The rule settings' rows stand for every rule.
                if section == "alerts", !accepted.contains("alerts.\(key)"), accepted.contains("alerts.rules.port-surge.\(key)") {
                    for rule in rules { documented.insert("alerts.rules.\(rule).\(key)") }
                } else {
                    documented.insert("\(section).\(key)")
                }
            }
        }
        for rule in rules { #expect(ruleIDs.contains("`\(rule)`"), "rule id \(rule) is not listed in docs/configuration.md") }
        let undocumented = accepted.filter { !documented.contains($0) }
        #expect(undocumented.isEmpty, "docs/configuration.md does not document \(undocumented)")
        let unknown = documented.sorted().filter { $0 != "alerts.rules" && !accepted.contains($0) }
        #expect(unknown.isEmpty, "docs/configuration.md documents \(unknown), which the loader does not accept")
    }

    /// The commands the daemon answers: `help` (the server's own) and every name its provider serves.
    static func servedCommands(candidates: Set<String>) -> Set<String> {
        let config = AggregationConfig()
        let live = LiveAggregation(view: Aggregator.mergingView(config: config, geoip: nil), config: config, geoip: nil,
                                   capture: CaptureShards(handles: [], shards: 1, config: config, darknet: .everything),
                                   stage: AlertStage(), feedSeries: nil, follower: nil, snapshots: nil, snapshotInterval: .seconds(300))
        let provider = DaemonStatsProvider(live: live)
        var served: Set<String> = [StatsCommand.help.rawValue]
        for name in candidates where provider.respond(to: name, arguments: [:]) != .unknown { served.insert(name) }
        return served
    }

    @Test func everySocketCommandIsDocumentedAndEveryDocumentedCommandIsServed() throws {
        let text = try Self.doc("stats-protocol.md")
        let start = try #require(text.range(of: "## Commands")).upperBound
        let end = try #require(text.range(of: "\n## ", range: start..<text.endIndex)).lowerBound
        var documented: [String: String] = [:]  // command → its args cell
        for line in text[start..<end].split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            documented[String(cells[1].dropFirst().prefix { $0 != "`" })] = cells[2]
        }
        let served = Self.servedCommands(candidates: Set(StatsCommand.allCases.map(\.rawValue)).union(documented.keys))
        #expect(Set(documented.keys) == served, "documented \(documented.keys.sorted()), served \(served.sorted())")
        #expect(Set(StatsCommand.allCases.map(\.rawValue)) == served, "help lists \(StatsCommand.allCases.map(\.rawValue))")
        // The args column names `n` exactly for the commands that read it.
        for command in StatsCommand.allCases {
            let cell = documented[command.rawValue] ?? ""
            #expect(cell.contains("`n`") == command.arguments.contains("n"), "\(command.rawValue): args \"\(cell)\"")
        }
        #expect(text.contains("1…\(StatsProtocol.maxN)"), "the limit of n")
    }
}
