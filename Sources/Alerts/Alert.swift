import Decoding
import Interchange

/// Stable rule identifiers: they are the syslog MSGID, the JSON `rule` and the dedup key prefix.
public enum AlertRuleID: String, Sendable, Codable, CaseIterable, Comparable {
    case dnsOpenResolverSurge = "dns-open-resolver-surge"
    case reflectionScanSurge = "reflection-scan-surge"
    case portSurge = "port-surge"
    case backscatterDoS = "backscatter-dos"
    case scanCampaign = "scan-campaign"
    case correlatedSurge = "correlated-surge"
    case sensorOnlySurge = "sensor-only-surge"
    case feedOnlySurge = "feed-only-surge"
    case alertRateLimited = "alert-rate-limited"

    public static func < (a: AlertRuleID, b: AlertRuleID) -> Bool { a.rawValue < b.rawValue }
}

/// RFC 5424 §6.2.1 severities (numeric code and name).
public enum Severity: Int, Sendable, Codable, CaseIterable, Comparable {
    case emergency = 0
    case alert = 1
    case critical = 2
    case error = 3
    case warning = 4
    case notice = 5
    case informational = 6
    case debug = 7

    public var name: String {
        switch self {
        case .emergency: "emergency"
        case .alert: "alert"
        case .critical: "critical"
        case .error: "error"
        case .warning: "warning"
        case .notice: "notice"
        case .informational: "informational"
        case .debug: "debug"
        }
    }

    public init?(name: String) {
        guard let s = Severity.allCases.first(where: { $0.name == name }) else { return nil }
        self = s
    }

    /// Lower code = more severe, as in RFC 5424.
    public static func < (a: Severity, b: Severity) -> Bool { a.rawValue < b.rawValue }

    // Encoded as its name ("warning"), decoded from the name or the numeric code.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let text = try? c.decode(String.self), let s = Severity(name: text) {
            self = s
        } else if let code = try? c.decode(Int.self), let s = Severity(rawValue: code) {
            self = s
        } else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "unknown severity")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(name)
    }
}

/// One heavy source behind an alert.
public struct SourceContribution: Sendable, Equatable, Codable {
    public var address: IPAddress
    public var packets: UInt64

    public init(address: IPAddress, packets: UInt64) {
        self.address = address
        self.packets = packets
    }

    enum CodingKeys: String, CodingKey { case address, packets }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let text = try c.decode(String.self, forKey: .address)
        guard let a = IPAddress(text) else {
            throw DecodingError.dataCorruptedError(forKey: .address, in: c, debugDescription: "bad address")
        }
        address = a
        packets = try c.decode(UInt64.self, forKey: .packets)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(address.description, forKey: .address)
        try c.encode(packets, forKey: .packets)
    }

    /// The `limit` heaviest of `sources`, heaviest first, ties by address (deterministic).
    public static func top(_ sources: [(IPAddress, UInt64)], limit: Int = 5) -> [SourceContribution] {
        sources
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
            .prefix(max(0, limit))
            .map { SourceContribution(address: $0.0, packets: $0.1) }
    }
}

/// Feed-side figures of a correlation rule.
public struct CorrelationFigures: Sendable, Equatable {
    /// Feed events for the port in the bucket that decided the verdict.
    public var feedObserved: Double
    /// The feed's baseline mean for the port before that bucket.
    public var feedBaseline: Double
    /// Sensor bucket minus feed bucket: positive when the feed leads (its surge came that
    /// many buckets before the sensor's), the sign of the correlation reports' lags; nil
    /// when one side did not surge.
    public var lagBuckets: Int?

    public init(feedObserved: Double, feedBaseline: Double, lagBuckets: Int?) {
        self.feedObserved = feedObserved
        self.feedBaseline = feedBaseline
        self.lagBuckets = lagBuckets
    }

    /// "the feed 2 buckets ahead", "the sensor 1 bucket ahead", "same bucket".
    public static func lagText(_ feedLeads: Int) -> String {
        if feedLeads == 0 { return "same bucket" }
        let n = feedLeads.magnitude
        return "the \(feedLeads > 0 ? "feed" : "sensor") \(n) bucket\(n == 1 ? "" : "s") ahead"
    }
}

/// One alert, as the rules produce it and the sinks write it.
///
/// JSON (snake_case): `rule`, `severity` (name), `severity_code`, `time` (RFC 3339 UTC),
/// `time_ns`, `key`, `proto` and `port` (null when not applicable), `address` (victim or
/// source, null otherwise), `metric`, `observed`, `baseline`, `deviation`, `top_sources`,
/// `message`, and when present `sources_observed`, `sources_baseline`, `feed_observed`,
/// `feed_baseline`, `lag_buckets`, `suppressed`.
public struct Alert: Sendable, Equatable, Codable {
    public var rule: AlertRuleID
    public var severity: Severity
    /// The bucket start (surges) or event start (events), ns since the Unix epoch.
    public var timeNs: Int64
    /// Dedup key within the rule: "udp/53", "port/53" (feed-only), a victim or source address.
    public var key: String
    public var ipProtocol: UInt8?
    public var port: UInt16?
    /// Victim (backscatter-dos) or source (scan-campaign).
    public var address: IPAddress?
    /// What `observed` and `baseline` measure: "scan_packets", "feed_events",
    /// "estimated_attack_pps", "internet_rate_pps", "suppressed_alerts".
    public var metric: String
    public var observed: Double
    public var baseline: Double
    public var deviation: Double
    public var observedSources: UInt64?
    public var baselineSources: Double?
    public var topSources: [SourceContribution]
    public var correlation: CorrelationFigures?
    /// `alert-rate-limited` only: alerts dropped in the window.
    public var suppressed: UInt64?
    /// Short human text (syslog MSG).
    public var message: String

    public init(rule: AlertRuleID, severity: Severity, timeNs: Int64, key: String,
                ipProtocol: UInt8? = nil, port: UInt16? = nil, address: IPAddress? = nil,
                metric: String, observed: Double, baseline: Double = 0, deviation: Double = 0,
                observedSources: UInt64? = nil, baselineSources: Double? = nil,
                topSources: [SourceContribution] = [], correlation: CorrelationFigures? = nil,
                suppressed: UInt64? = nil, message: String) {
        self.rule = rule
        self.severity = severity
        self.timeNs = timeNs
        self.key = key
        self.ipProtocol = ipProtocol
        self.port = port
        self.address = address
        self.metric = metric
        self.observed = AlertNumber.finite(observed)
        self.baseline = AlertNumber.finite(baseline)
        self.deviation = AlertNumber.finite(deviation)
        self.observedSources = observedSources
        self.baselineSources = baselineSources.map(AlertNumber.finite)
        self.topSources = Array(topSources.prefix(5))
        self.correlation = correlation.map {
            CorrelationFigures(feedObserved: AlertNumber.finite($0.feedObserved),
                               feedBaseline: AlertNumber.finite($0.feedBaseline), lagBuckets: $0.lagBuckets)
        }
        self.suppressed = suppressed
        self.message = message
    }

    /// "udp/53" style key of a (protocol, port).
    public static func portKey(_ ipProtocol: UInt8, _ port: UInt16) -> String {
        "\(ProtocolName.name(ipProtocol))/\(port)"
    }

    enum CodingKeys: String, CodingKey {
        case rule, severity, severityCode = "severity_code", time, timeNs = "time_ns", key
        case proto, port, address, metric, observed, baseline, deviation
        case observedSources = "sources_observed", baselineSources = "sources_baseline"
        case topSources = "top_sources", feedObserved = "feed_observed", feedBaseline = "feed_baseline"
        case lagBuckets = "lag_buckets", suppressed, message
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rule, forKey: .rule)
        try c.encode(severity, forKey: .severity)
        try c.encode(severity.rawValue, forKey: .severityCode)
        try c.encode(RFC3339.format(timeNs, fractionDigits: 6), forKey: .time)
        try c.encode(timeNs, forKey: .timeNs)
        try c.encode(key, forKey: .key)
        if let p = ipProtocol { try c.encode(ProtocolName.name(p), forKey: .proto) } else { try c.encodeNil(forKey: .proto) }
        if let p = port { try c.encode(p, forKey: .port) } else { try c.encodeNil(forKey: .port) }
        if let a = address { try c.encode(a.description, forKey: .address) } else { try c.encodeNil(forKey: .address) }
        try c.encode(metric, forKey: .metric)
        try c.encode(observed, forKey: .observed)
        try c.encode(baseline, forKey: .baseline)
        try c.encode(deviation, forKey: .deviation)
        try c.encodeIfPresent(observedSources, forKey: .observedSources)
        try c.encodeIfPresent(baselineSources, forKey: .baselineSources)
        try c.encode(topSources, forKey: .topSources)
        if let k = correlation {
            try c.encode(k.feedObserved, forKey: .feedObserved)
            try c.encode(k.feedBaseline, forKey: .feedBaseline)
            try c.encodeIfPresent(k.lagBuckets, forKey: .lagBuckets)
        }
        try c.encodeIfPresent(suppressed, forKey: .suppressed)
        try c.encode(message, forKey: .message)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        rule = try c.decode(AlertRuleID.self, forKey: .rule)
        severity = try c.decode(Severity.self, forKey: .severity)
        if let ns = try c.decodeIfPresent(Int64.self, forKey: .timeNs) {
            timeNs = ns
        } else {
            let text = try c.decode(String.self, forKey: .time)
            guard let ns = RFC3339.parse(text) else {
                throw DecodingError.dataCorruptedError(forKey: .time, in: c, debugDescription: "not RFC 3339")
            }
            timeNs = ns
        }
        key = try c.decode(String.self, forKey: .key)
        if let name = try c.decodeIfPresent(String.self, forKey: .proto) {
            guard let n = ProtocolName.number(name) else {
                throw DecodingError.dataCorruptedError(forKey: .proto, in: c, debugDescription: "bad proto")
            }
            ipProtocol = n
        } else {
            ipProtocol = nil
        }
        port = try c.decodeIfPresent(UInt16.self, forKey: .port)
        if let text = try c.decodeIfPresent(String.self, forKey: .address) {
            guard let a = IPAddress(text) else {
                throw DecodingError.dataCorruptedError(forKey: .address, in: c, debugDescription: "bad address")
            }
            address = a
        } else {
            address = nil
        }
        metric = try c.decode(String.self, forKey: .metric)
        observed = try c.decode(Double.self, forKey: .observed)
        baseline = try c.decode(Double.self, forKey: .baseline)
        deviation = try c.decodeIfPresent(Double.self, forKey: .deviation) ?? 0
        observedSources = try c.decodeIfPresent(UInt64.self, forKey: .observedSources)
        baselineSources = try c.decodeIfPresent(Double.self, forKey: .baselineSources)
        topSources = try c.decodeIfPresent([SourceContribution].self, forKey: .topSources) ?? []
        if let fo = try c.decodeIfPresent(Double.self, forKey: .feedObserved) {
            correlation = CorrelationFigures(
                feedObserved: fo,
                feedBaseline: try c.decodeIfPresent(Double.self, forKey: .feedBaseline) ?? 0,
                lagBuckets: try c.decodeIfPresent(Int.self, forKey: .lagBuckets))
        } else {
            correlation = nil
        }
        suppressed = try c.decodeIfPresent(UInt64.self, forKey: .suppressed)
        message = try c.decode(String.self, forKey: .message)
    }
}

/// Number text for messages and syslog parameters: integers without a fraction, others
/// rounded to 3 decimals with trailing zeros removed. No `%` formats anywhere.
public enum AlertNumber {
    /// NaN becomes 0 and ±infinity the largest finite magnitude (JSON has neither).
    public static func finite(_ x: Double) -> Double {
        if x.isNaN { return 0 }
        if x.isInfinite { return x > 0 ? .greatestFiniteMagnitude : -.greatestFiniteMagnitude }
        return x
    }

    public static func format(_ value: Double) -> String {
        let x = finite(value)
        let magnitude = abs(x)
        let scaled = (magnitude * 1000).rounded()
        guard scaled < 9e15 else { return x.description }
        let whole = UInt64(scaled) / 1000
        let fraction = UInt64(scaled) % 1000
        var text = (x < 0 && scaled > 0 ? "-" : "") + String(whole)
        if fraction != 0 {
            var digits = String(fraction)
            digits = String(repeating: "0", count: 3 - digits.count) + digits
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
        }
        return text
    }
}
