import Foundation
import Interchange

/// The stats socket's wire protocol (docs/stats-protocol.md): one JSON request
/// per line in, one JSON response per line out, in order, over a Unix stream socket.
///
///     {"command":"top-ports","args":{"n":10}}
///     {"command":"top-ports","data":{...},"ok":true}
///     {"error":{"code":"unknown-command","message":"..."},"ok":false}
///
/// Responses are written with sorted keys, like every JSON the sensor prints.
public enum StatsProtocol {
    /// Default cap on one request line, newline excluded.
    public static let defaultMaxRequestBytes = 4096
    /// Default path of the daemon's socket.
    public static let defaultSocketPath = "/run/darknetd/darknetd.sock"
    /// Largest `n` a request may ask for.
    public static let maxN = 100_000

    /// Parses one request line (without its newline). Every failure is a
    /// `bad-request` error whose message says what was wrong.
    public static func parseRequest(_ line: some Collection<UInt8>) -> Result<StatsRequest, StatsError> {
        let bytes = Array(line)
        guard String(validating: bytes, as: UTF8.self) != nil else {
            return .failure(StatsError(.badRequest, "request is not valid UTF-8"))
        }
        guard let value = JSONValue.parse(Data(bytes)) else {
            return .failure(StatsError(.badRequest, "request is not valid JSON"))
        }
        guard case .object(let members) = value else {
            return .failure(StatsError(.badRequest, "request must be a JSON object"))
        }
        guard let commandValue = members["command"] else {
            return .failure(StatsError(.badRequest, "request has no \"command\""))
        }
        guard let command = commandValue.stringValue, !command.isEmpty else {
            return .failure(StatsError(.badRequest, "\"command\" must be a non-empty string"))
        }
        var arguments: [String: Int] = [:]
        if let args = members["args"] {
            guard case .object(let argMembers) = args else {
                return .failure(StatsError(.badRequest, "\"args\" must be an object"))
            }
            for (key, value) in argMembers {
                guard let number = value.intValue else {
                    return .failure(StatsError(.badRequest, "argument \"\(key)\" must be an integer"))
                }
                arguments[key] = number
            }
        }
        if let n = arguments["n"], n < 1 || n > maxN {
            return .failure(StatsError(.badRequest, "argument \"n\" must be within 1...\(maxN)"))
        }
        for key in members.keys where key != "command" && key != "args" {
            return .failure(StatsError(.badRequest, "unknown request member \"\(key)\""))
        }
        return .success(StatsRequest(command: command, arguments: arguments))
    }

    /// One request line, newline included: what a client sends.
    public static func encodeRequest(_ request: StatsRequest) -> Data {
        var text = "{\"command\":" + jsonString(request.command)
        if !request.arguments.isEmpty {
            let args = request.arguments.sorted { $0.key < $1.key }
                .map { jsonString($0.key) + ":" + String($0.value) }
                .joined(separator: ",")
            text += ",\"args\":{" + args + "}"
        }
        text += "}\n"
        return Data(text.utf8)
    }

    /// A success line, newline included. `object` must be one encoded JSON
    /// object; raw newlines in it (pretty-printed whitespace: JSON strings
    /// cannot hold one) are dropped so the response stays one line.
    /// Returns nil when `object` is not a JSON object.
    public static func encodeSuccess(command: String, object: Data) -> [UInt8]? {
        var body = [UInt8]()
        body.reserveCapacity(object.count + command.utf8.count + 32)
        for byte in object where byte != 0x0A && byte != 0x0D { body.append(byte) }
        guard let first = body.firstIndex(where: { !isJSONWhitespace($0) }), body[first] == UInt8(ascii: "{"),
              let last = body.lastIndex(where: { !isJSONWhitespace($0) }), body[last] == UInt8(ascii: "}") else {
            return nil
        }
        var line = Array("{\"command\":\(jsonString(command)),\"data\":".utf8)
        line.append(contentsOf: body[first...last])
        line.append(contentsOf: ",\"ok\":true}\n".utf8)
        return line
    }

    /// A success line carrying text (metrics): `data.text`.
    public static func encodeSuccess(command: String, text: String) -> [UInt8] {
        Array("{\"command\":\(jsonString(command)),\"data\":{\"text\":\(jsonString(text))},\"ok\":true}\n".utf8)
    }

    /// An error line, newline included; `command` is echoed when it was read.
    public static func encodeError(_ error: StatsError, command: String? = nil) -> [UInt8] {
        var text = "{"
        if let command { text += "\"command\":" + jsonString(command) + "," }
        text += "\"error\":{\"code\":\(jsonString(error.code.rawValue)),\"message\":\(jsonString(error.message))},\"ok\":false}\n"
        return Array(text.utf8)
    }

    /// Parses one response line (client side).
    public static func decodeResponse(_ line: Data) throws(StatsError) -> StatsResponse {
        guard let value = JSONValue.parse(line), case .object(let members) = value else {
            throw StatsError(.internal, "the daemon's response is not a JSON object")
        }
        guard let ok = members["ok"]?.boolValue else {
            throw StatsError(.internal, "the daemon's response has no \"ok\"")
        }
        if ok {
            return StatsResponse(ok: true, command: members["command"]?.stringValue, data: members["data"], error: nil)
        }
        let error = members["error"]
        let code = error?["code"]?.stringValue.flatMap(StatsErrorCode.init(rawValue:)) ?? .internal
        let message = error?["message"]?.stringValue ?? "no message"
        return StatsResponse(ok: false, command: members["command"]?.stringValue, data: nil, error: StatsError(code, message))
    }

    /// A JSON string literal, escaped as JSONEncoder would.
    public static func jsonString(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    package static func isJSONWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }
}

/// A parsed request.
public struct StatsRequest: Sendable, Equatable {
    public var command: String
    public var arguments: [String: Int]

    public init(command: String, arguments: [String: Int] = [:]) {
        self.command = command
        self.arguments = arguments
    }
}

/// A parsed response (client side).
public struct StatsResponse: Sendable, Equatable {
    public var ok: Bool
    public var command: String?
    /// The `data` object of a success.
    public var data: JSONValue?
    public var error: StatsError?
}

/// Error codes; stable names.
public enum StatsErrorCode: String, Sendable, Codable, CaseIterable {
    /// Invalid JSON, invalid UTF-8, not an object, missing or bad `command`/`args`.
    case badRequest = "bad-request"
    /// A command the daemon does not serve.
    case unknownCommand = "unknown-command"
    /// The line was longer than `max_request_bytes`; it was discarded up to its newline.
    case tooLarge = "too-large"
    /// Too many clients are connected; the connection is closed after this line.
    case busy
    /// The daemon failed to produce an answer.
    case `internal`
}

/// An error response, or a client-side failure to understand one.
public struct StatsError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: StatsErrorCode
    public var message: String

    public init(_ code: StatsErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// The commands the protocol defines, with what `help` says about them.
public enum StatsCommand: String, Sendable, CaseIterable {
    case status
    case stats
    case topPorts = "top-ports"
    case topSources = "top-sources"
    case countries
    case series
    case alerts
    case correlation
    case feed
    case metrics
    case help

    public var summary: String {
        switch self {
        case .status: "daemon state: version, uptime, interfaces (kernel and ring counters), packets, pending restart"
        case .stats: "counters since start: packets, decode errors, classes, sources, scans, attacks, alerts by rule"
        case .topPorts: "busiest destination ports since start (args: n)"
        case .topSources: "busiest sources with their packets and detail (args: n)"
        case .countries: "packets per source country, GeoIP (args: n)"
        case .series: "the last buckets of the first window (args: n = buckets)"
        case .alerts: "the last alerts, as the JSON-lines alert file has them (args: n)"
        case .correlation: "the sensor's series against the feed's: coefficients and lags (empty without a feed)"
        case .feed: "the followed feed's status: path, format, lines, events, skipped lines by reason, rotations"
        case .metrics: "Prometheus text exposition, in data.text"
        case .help: "this list"
        }
    }

    /// Arguments the command reads.
    public var arguments: [String] {
        switch self {
        case .topPorts, .topSources, .countries, .series, .alerts: ["n"]
        default: []
        }
    }
}
