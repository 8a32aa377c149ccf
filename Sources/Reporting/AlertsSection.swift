import Alerts
import Interchange
import Pipeline

/// The `alerts` member of the report.
public struct AlertsSection: Codable, Sendable {
    public struct Row: Codable, Sendable {
        public var rule: String
        public var time: String
        public var severity: String
        public var key: String
        public var proto: String?
        public var port: UInt16?
        public var address: String?
        public var metric: String
        public var observed: Double
        public var baseline: Double
        public var deviation: Double
        public var topSources: [String]
        public var suppressed: UInt64?
        public var message: String
        /// Correlated rules: the feed's figures for the port and the lag found.
        public var feedObserved: Double?
        public var feedBaseline: Double?
        public var lagBuckets: Int?

        enum CodingKeys: String, CodingKey {
            case rule, time, severity, key, proto, port, address, metric, observed, baseline, deviation, suppressed, message
            case topSources = "top_sources"
            case feedObserved = "feed_observed"
            case feedBaseline = "feed_baseline"
            case lagBuckets = "lag_buckets"
        }
    }

    public var count: UInt64
    public var rows: [Row]

    public init(_ stage: AlertStage, last: Int = .max) {
        count = stage.alertCount
        rows = stage.alerts.suffix(last).map { a in
            Row(rule: a.rule.rawValue, time: RFC3339.format(a.timeNs), severity: a.severity.name, key: a.key,
                proto: a.ipProtocol.map(ProtocolName.name), port: a.port, address: a.address?.description, metric: a.metric,
                observed: a.observed, baseline: a.baseline, deviation: a.deviation,
                topSources: a.topSources.map { "\($0.address)" }, suppressed: a.suppressed, message: a.message,
                feedObserved: a.correlation?.feedObserved, feedBaseline: a.correlation?.feedBaseline,
                lagBuckets: a.correlation?.lagBuckets)
        }
    }
}
