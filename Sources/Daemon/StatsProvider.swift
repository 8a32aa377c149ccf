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
