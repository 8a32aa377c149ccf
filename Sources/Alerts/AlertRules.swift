import Decoding
import Interchange

// Rules turning observations into candidate alerts. Candidates then pass an `AlertGate`
// (dedup, rate limit per severity). Thresholds and defaults are documented in docs/alerts.md.

extension KeyedDecodingContainer {
    /// Decodes `key` when present, else `fallback`: configs may give only what they change.
    func value<T: Decodable>(_ key: Key, or fallback: T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? fallback
    }
}

/// Floor division of a time by a bucket length (both ns): the bucket index.
@inline(__always)
func bucketIndex(_ ns: Int64, _ lengthNs: Int64) -> Int64 {
    let q = ns / lengthNs
    return (ns % lengthNs != 0 && ns < 0) ? q - 1 : q
}

// MARK: - Surge rules (dns-open-resolver-surge, reflection-scan-surge, port-surge)

/// Thresholds of one surge rule. A bucket surges when BOTH its scan packets and its distinct
/// sources are warm and surge: `value > mean + k·max(deviation, minDeviation)`,
/// `value ≥ minRatio × mean` (for sources `minSourceRatio × mean`), and `value ≥ minPackets`
/// (resp. `minSources`). Sources get a lower ratio: a surge of resolver scanning comes from
/// a few hundred hosts on top of hundreds of background scanners, so the packet count can
/// rise 30× while the number of sources only doubles.
public struct SurgeRuleConfig: Sendable, Equatable, Codable {
    public var k: Double
    public var minRatio: Double
    public var minSourceRatio: Double
    public var minPackets: UInt64
    public var minSources: UInt64
    public var warmUpBuckets: Int
    public var alpha: Double
    public var minDeviation: Double
    public var severity: Severity

    public init(k: Double = 4, minRatio: Double = 3, minSourceRatio: Double = 1.5, minPackets: UInt64 = 50,
                minSources: UInt64 = 10, warmUpBuckets: Int = 10, alpha: Double = 0.1, minDeviation: Double = 1,
                severity: Severity = .warning) {
        self.k = k
        self.minRatio = minRatio
        self.minSourceRatio = minSourceRatio
        self.minPackets = minPackets
        self.minSources = minSources
        self.warmUpBuckets = warmUpBuckets
        self.alpha = alpha
        self.minDeviation = minDeviation
        self.severity = severity
    }

    /// `dns-open-resolver-surge`: k 4, packets 3× baseline, sources 1.5× baseline, ≥ 50 packets and ≥ 10 sources, warning.
    public static let dnsDefault = SurgeRuleConfig()
    /// `reflection-scan-surge`: same thresholds as DNS, warning.
    public static let reflectionDefault = SurgeRuleConfig()
    /// `port-surge`: k 5, packets 5× baseline, sources 2× baseline, ≥ 200 packets and ≥ 20 sources, notice.
    public static let portDefault = SurgeRuleConfig(k: 5, minRatio: 5, minSourceRatio: 2, minPackets: 200, minSources: 20,
                                                    severity: .notice)

    public var baseline: BaselineParameters {
        BaselineParameters(k: k, minRatio: minRatio, warmUpBuckets: warmUpBuckets, alpha: alpha,
                           minDeviation: minDeviation)
    }

    /// The baseline parameters of the distinct-source series (`minSourceRatio`).
    public var sourceBaseline: BaselineParameters {
        var p = baseline
        p.minRatio = minSourceRatio
        return p
    }

    enum CodingKeys: String, CodingKey {
        // The configuration's names (alerts.rules.NAME.deviations, factor, warmup_buckets).
        case k = "deviations", minRatio = "factor", minSourceRatio = "source_factor", minPackets = "min_packets"
        case minSources = "min_sources", warmUpBuckets = "warmup_buckets", alpha, minDeviation = "min_deviation", severity
    }

    public init(from decoder: any Decoder) throws {
        try self.init(from: decoder, defaults: .dnsDefault)
    }

    /// Missing keys take `defaults` (the rule's own defaults).
    public init(from decoder: any Decoder, defaults d: SurgeRuleConfig) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        k = try c.value(.k, or: d.k)
        minRatio = try c.value(.minRatio, or: d.minRatio)
        minSourceRatio = try c.value(.minSourceRatio, or: d.minSourceRatio)
        minPackets = try c.value(.minPackets, or: d.minPackets)
        minSources = try c.value(.minSources, or: d.minSources)
        warmUpBuckets = try c.value(.warmUpBuckets, or: d.warmUpBuckets)
        alpha = try c.value(.alpha, or: d.alpha)
        minDeviation = try c.value(.minDeviation, or: d.minDeviation)
        severity = try c.value(.severity, or: d.severity)
    }
}

public struct SurgeRulesConfig: Sendable, Equatable, Codable {
    public var dns: SurgeRuleConfig
    public var reflection: SurgeRuleConfig
    /// UDP ports of `reflection-scan-surge` (NTP, SSDP, memcached, CLDAP, chargen, SNMP).
    public var reflectionPorts: [UInt16]
    public var port: SurgeRuleConfig
    /// Whether `port-surge` watches every other (protocol, port).
    public var portSurgeEnabled: Bool
    /// Bound on `port-surge` baselines; the least active are evicted beyond it.
    public var maxTrackedPorts: Int

    public static let defaultReflectionPorts: [UInt16] = [123, 1900, 11211, 389, 19, 161]

    public init(dns: SurgeRuleConfig = .dnsDefault, reflection: SurgeRuleConfig = .reflectionDefault,
                reflectionPorts: [UInt16] = SurgeRulesConfig.defaultReflectionPorts,
                port: SurgeRuleConfig = .portDefault, portSurgeEnabled: Bool = true, maxTrackedPorts: Int = 4096) {
        self.dns = dns
        self.reflection = reflection
        self.reflectionPorts = reflectionPorts
        self.port = port
        self.portSurgeEnabled = portSurgeEnabled
        self.maxTrackedPorts = maxTrackedPorts
    }

    enum CodingKeys: String, CodingKey {
        case dns, reflection, reflectionPorts = "reflection_ports", port
        case portSurgeEnabled = "port_surge_enabled", maxTrackedPorts = "max_tracked_ports"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        dns = c.contains(.dns) ? try SurgeRuleConfig(from: c.superDecoder(forKey: .dns), defaults: .dnsDefault) : .dnsDefault
        reflection = c.contains(.reflection)
            ? try SurgeRuleConfig(from: c.superDecoder(forKey: .reflection), defaults: .reflectionDefault) : .reflectionDefault
        reflectionPorts = try c.value(.reflectionPorts, or: SurgeRulesConfig.defaultReflectionPorts)
        port = c.contains(.port) ? try SurgeRuleConfig(from: c.superDecoder(forKey: .port), defaults: .portDefault) : .portDefault
        portSurgeEnabled = try c.value(.portSurgeEnabled, or: true)
        maxTrackedPorts = try c.value(.maxTrackedPorts, or: 4096)
    }
}

/// A (protocol, port) pair, ordered by protocol then port.
public struct PortKey: Hashable, Sendable, Comparable {
    public var ipProtocol: UInt8
    public var port: UInt16

    public init(_ ipProtocol: UInt8, _ port: UInt16) {
        self.ipProtocol = ipProtocol
        self.port = port
    }

    public static func < (a: PortKey, b: PortKey) -> Bool {
        a.ipProtocol != b.ipProtocol ? a.ipProtocol < b.ipProtocol : a.port < b.port
    }
}

/// One surging (protocol, port) in one bucket: what the surge rules saw, before any gate.
public struct SurgeFinding: Sendable, Equatable {
    public var rule: AlertRuleID
    public var severity: Severity
    public var bucketIndex: Int64
    public var startNs: Int64
    public var ipProtocol: UInt8
    public var port: UInt16
    public var packets: UInt64
    public var sources: UInt64
    public var packetBaseline: Double
    public var packetDeviation: Double
    public var sourceBaseline: Double
    public var topSources: [SourceContribution]
}

struct SeriesPair: Sendable {
    var packets = Baseline()
    var sources = Baseline()
}

/// `dns-open-resolver-surge` (UDP/53), `reflection-scan-surge` (the reflection UDP ports)
/// and `port-surge` (every other protocol/port, at most `maxTrackedPorts` baselines).
public struct SurgeRules: Sendable {
    public let config: SurgeRulesConfig
    var fixed: [PortKey: SeriesPair] = [:]
    var tracked: [PortKey: SeriesPair] = [:]
    let reflectionKeys: Set<PortKey>
    public internal(set) var lastBucketIndex: Int64?
    public internal(set) var bucketLengthNs: Int64?
    /// Buckets learned.
    public internal(set) var buckets: Int = 0
    /// Buckets ignored: not after the last one, a non-positive length or a changed length.
    public internal(set) var rejectedBuckets: UInt64 = 0
    /// `port-surge` baselines dropped to stay within `maxTrackedPorts`.
    public internal(set) var evictions: UInt64 = 0

    static let dnsKey = PortKey(IPProtocolNumber.udp, 53)

    public init(config: SurgeRulesConfig = SurgeRulesConfig()) {
        self.config = config
        reflectionKeys = Set(config.reflectionPorts.map { PortKey(IPProtocolNumber.udp, $0) }).subtracting([Self.dnsKey])
        fixed[Self.dnsKey] = SeriesPair()
        for key in reflectionKeys { fixed[key] = SeriesPair() }
    }

    public var trackedPortCount: Int { tracked.count }
    public var trackedPorts: [PortKey] { tracked.keys.sorted() }

    /// The (packets, sources) baselines of a port, if it has any.
    public func baseline(_ ipProtocol: UInt8, _ port: UInt16) -> (packets: Baseline, sources: Baseline)? {
        let key = PortKey(ipProtocol, port)
        guard let pair = fixed[key] ?? tracked[key] else { return nil }
        return (pair.packets, pair.sources)
    }

    public func rule(for key: PortKey) -> AlertRuleID {
        Self.rule(for: key, reflectionKeys: reflectionKeys)
    }

    static func rule(for key: PortKey, reflectionKeys: Set<PortKey>) -> AlertRuleID {
        if key == dnsKey { return .dnsOpenResolverSurge }
        if reflectionKeys.contains(key) { return .reflectionScanSurge }
        return .portSurge
    }

    static func ruleConfig(_ rule: AlertRuleID, _ config: SurgeRulesConfig) -> SurgeRuleConfig {
        switch rule {
        case .dnsOpenResolverSurge: config.dns
        case .reflectionScanSurge: config.reflection
        default: config.port
        }
    }

    /// Judges one closed bucket against the baselines learned so far, then learns it.
    /// Returns the surging ports ordered by (protocol, port).
    public mutating func observe(_ bucket: BucketObservation) -> [SurgeFinding] {
        guard bucket.bucketSeconds > 0, bucket.bucketSeconds <= Int64.max / 1_000_000_000 else {
            rejectedBuckets += 1
            return []
        }
        let lengthNs = bucket.bucketSeconds * 1_000_000_000
        let index = bucketIndex(bucket.startNs, lengthNs)
        if let last = lastBucketIndex, index <= last {
            rejectedBuckets += 1
            return []
        }
        if let length = bucketLengthNs, length != lengthNs {
            rejectedBuckets += 1
            return []
        }
        bucketLengthNs = lengthNs
        lastBucketIndex = index
        let globallyWarm = buckets >= config.port.warmUpBuckets
        buckets += 1

        // Merge duplicate entries of a port (sums; distinct sources may then overcount).
        var merged: [PortKey: (packets: UInt64, sources: UInt64, top: [(IPAddress, UInt64)])] = [:]
        for p in bucket.ports {
            let key = PortKey(p.ipProtocol, p.port)
            var m = merged[key] ?? (0, 0, [])
            m.packets &+= p.scanPackets
            m.sources &+= p.sources
            m.top += p.topSources
            merged[key] = m
        }

        var findings: [SurgeFinding] = []
        let config = self.config
        let reflectionKeys = self.reflectionKeys
        func judge(_ key: PortKey, _ pair: inout SeriesPair) {
            let rule = Self.rule(for: key, reflectionKeys: reflectionKeys)
            let rc = Self.ruleConfig(rule, config)
            let p = rc.baseline
            let m = merged[key] ?? (0, 0, [])
            let packets = Double(m.packets)
            let sources = Double(m.sources)
            if pair.packets.isSurge(packets, minimum: Double(rc.minPackets), p),
               pair.sources.isSurge(sources, minimum: Double(rc.minSources), rc.sourceBaseline) {
                findings.append(SurgeFinding(
                    rule: rule, severity: rc.severity, bucketIndex: index, startNs: bucket.startNs,
                    ipProtocol: key.ipProtocol, port: key.port, packets: m.packets, sources: m.sources,
                    packetBaseline: pair.packets.mean, packetDeviation: pair.packets.deviation,
                    sourceBaseline: pair.sources.mean, topSources: SourceContribution.top(m.top)))
            }
            pair.packets.learn(packets, p)
            pair.sources.learn(sources, rc.sourceBaseline)
        }

        for key in fixed.keys.sorted() {
            judge(key, &fixed[key]!)
        }
        if config.portSurgeEnabled {
            let p = config.port.baseline
            for key in merged.keys where fixed[key] == nil && tracked[key] == nil {
                // Ports arriving after the sensor is warm had zero traffic in every bucket so
                // far (buckets list every port with traffic): they start warm at zero.
                var pair = SeriesPair()
                if globallyWarm {
                    pair.packets = Baseline(warmAtZero: p)
                    pair.sources = Baseline(warmAtZero: p)
                }
                tracked[key] = pair
            }
            for key in tracked.keys.sorted() {
                judge(key, &tracked[key]!)
            }
            let excess = tracked.count - max(0, config.maxTrackedPorts)
            if excess > 0 {
                // Least active first: lowest packet mean, then fewest samples, then key.
                let victims = tracked
                    .sorted { a, b in
                        if a.value.packets.mean != b.value.packets.mean { return a.value.packets.mean < b.value.packets.mean }
                        if a.value.packets.samples != b.value.packets.samples { return a.value.packets.samples < b.value.packets.samples }
                        return a.key < b.key
                    }
                    .prefix(excess)
                for v in victims { tracked[v.key] = nil }
                evictions += UInt64(excess)
            }
        }
        return findings.sorted { PortKey($0.ipProtocol, $0.port) < PortKey($1.ipProtocol, $1.port) }
    }

    /// The alert of a finding under its own rule.
    public static func alert(for f: SurgeFinding) -> Alert {
        let what: String
        switch f.rule {
        case .dnsOpenResolverSurge: what = "open-resolver scan surge"
        case .reflectionScanSurge: what = "reflection scan surge"
        default: what = "scan surge"
        }
        return Alert(
            rule: f.rule, severity: f.severity, timeNs: f.startNs, key: Alert.portKey(f.ipProtocol, f.port),
            ipProtocol: f.ipProtocol, port: f.port, metric: "scan_packets", observed: Double(f.packets),
            baseline: f.packetBaseline, deviation: f.packetDeviation, observedSources: f.sources,
            baselineSources: f.sourceBaseline, topSources: f.topSources,
            message: "\(portLabel(f.ipProtocol, f.port)) \(what): \(f.packets) packets from \(f.sources) sources"
                + " (baseline \(AlertNumber.format(f.packetBaseline)) packets from"
                + " \(AlertNumber.format(f.sourceBaseline)) sources)")
    }

    /// "UDP/53 (DNS)", "TCP/23".
    public static func portLabel(_ ipProtocol: UInt8, _ port: UInt16) -> String {
        let base = "\(ProtocolName.name(ipProtocol).uppercased())/\(port)"
        guard ipProtocol == IPProtocolNumber.udp else { return base }
        let service: String? = switch port {
        case 53: "DNS"
        case 123: "NTP"
        case 1900: "SSDP"
        case 11211: "memcached"
        case 389: "CLDAP"
        case 19: "chargen"
        case 161: "SNMP"
        default: nil
        }
        return service.map { "\(base) (\($0))" } ?? base
    }
}

extension Baseline {
    /// A baseline that is warm with mean and deviation 0: a series known to have been zero.
    public init(warmAtZero p: BaselineParameters) {
        self.init()
        for _ in 0..<max(0, p.warmUpBuckets) { learn(0, p) }
    }
}

// MARK: - Event rules (backscatter-dos, scan-campaign)

/// `backscatter-dos`: every victim event at or above these figures raises an alert.
public struct BackscatterRuleConfig: Sendable, Equatable, Codable {
    public var minEstimatedAttackRate: Double
    public var minPackets: UInt64
    public var severity: Severity

    public init(minEstimatedAttackRate: Double = 0, minPackets: UInt64 = 0, severity: Severity = .warning) {
        self.minEstimatedAttackRate = minEstimatedAttackRate
        self.minPackets = minPackets
        self.severity = severity
    }

    enum CodingKeys: String, CodingKey {
        case minEstimatedAttackRate = "min_estimated_attack_rate", minPackets = "min_packets", severity
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = BackscatterRuleConfig()
        minEstimatedAttackRate = try c.value(.minEstimatedAttackRate, or: d.minEstimatedAttackRate)
        minPackets = try c.value(.minPackets, or: d.minPackets)
        severity = try c.value(.severity, or: d.severity)
    }
}

/// `scan-campaign`: scan episodes (one source sweeping one port) are aggregated into ONE
/// alert per (protocol, port) and window — "142 new scanners on TCP/23, 120 of them
/// mirai" — when at least `minNewScanners` episodes started on the port in the window. A
/// single source gets an alert of its own only when it probes at `minInternetRate` or more
/// (Internet-wide), or when it is the first scanner of its tool fingerprint seen on that
/// port (at `minFingerprintedInternetRate` or more). At telescope scale, hundreds of new
/// scanners a minute, per-source notices would make syslog unreadable.
public struct ScanCampaignRuleConfig: Sendable, Equatable, Codable {
    /// A source at or above this Internet-wide rate (packets/s) gets an alert of its own.
    public var minInternetRate: Double
    /// The first scanner of a tool fingerprint on a port gets an alert of its own from this rate.
    public var minFingerprintedInternetRate: Double
    /// Bound on remembered (fingerprint, protocol, port) triples; oldest forgotten first.
    public var rememberedFingerprints: Int
    /// Length of the aggregation window (aligned on the epoch), seconds.
    public var windowSeconds: Int64
    /// A port's window gives an alert only with at least this many new scanners.
    public var minNewScanners: UInt64
    /// Bound on ports counted in one window; episodes on further ports are counted in
    /// `EventRules.untrackedScans` only.
    public var maxWindowPorts: Int
    public var severity: Severity

    public init(minInternetRate: Double = 1_000_000, minFingerprintedInternetRate: Double = 100,
                rememberedFingerprints: Int = 10_000, windowSeconds: Int64 = 3600, minNewScanners: UInt64 = 50,
                maxWindowPorts: Int = 4096, severity: Severity = .notice) {
        self.minInternetRate = minInternetRate
        self.minFingerprintedInternetRate = minFingerprintedInternetRate
        self.rememberedFingerprints = rememberedFingerprints
        self.windowSeconds = windowSeconds
        self.minNewScanners = minNewScanners
        self.maxWindowPorts = maxWindowPorts
        self.severity = severity
    }

    enum CodingKeys: String, CodingKey {
        case minInternetRate = "min_internet_rate", minFingerprintedInternetRate = "min_fingerprinted_internet_rate"
        case rememberedFingerprints = "remembered_fingerprints", windowSeconds = "window_seconds"
        case minNewScanners = "min_new_scanners", maxWindowPorts = "max_window_ports", severity
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ScanCampaignRuleConfig()
        minInternetRate = try c.value(.minInternetRate, or: d.minInternetRate)
        minFingerprintedInternetRate = try c.value(.minFingerprintedInternetRate, or: d.minFingerprintedInternetRate)
        rememberedFingerprints = try c.value(.rememberedFingerprints, or: d.rememberedFingerprints)
        windowSeconds = try c.value(.windowSeconds, or: d.windowSeconds)
        minNewScanners = try c.value(.minNewScanners, or: d.minNewScanners)
        maxWindowPorts = try c.value(.maxWindowPorts, or: d.maxWindowPorts)
        severity = try c.value(.severity, or: d.severity)
    }

    var windowNs: Int64 { max(1, min(windowSeconds, Int64.max / 2_000_000_000)) * 1_000_000_000 }
}

/// New scanners of one (protocol, port) in the current aggregation window.
struct PortScanTally: Sendable, Equatable {
    var scanners: UInt64 = 0
    var packets: UInt64 = 0
    /// Scanners per tool fingerprint.
    var tools: [String: UInt64] = [:]
    /// The heaviest scanners so far (at most 5).
    var top: [SourceContribution] = []

    mutating func add(_ e: ScanEpisodeEvent) {
        scanners &+= 1
        packets &+= e.packets
        if let tool = e.fingerprint, !tool.isEmpty, tools.count < 16 || tools[tool] != nil { tools[tool, default: 0] += 1 }
        top = SourceContribution.top(top.map { ($0.address, $0.packets) } + [(e.source, e.packets)])
    }
}

/// `backscatter-dos` and `scan-campaign`.
public struct EventRules: Sendable {
    public let backscatter: BackscatterRuleConfig
    public let scanCampaign: ScanCampaignRuleConfig

    /// A tool fingerprint seen on a port.
    struct Fingerprint: Hashable, Sendable {
        var tool: String
        var ipProtocol: UInt8
        var port: UInt16
    }
    var known: Set<Fingerprint> = []
    var knownOrder: [Fingerprint] = []
    var knownHead = 0

    /// The open aggregation window (index of `windowSeconds` since the epoch) and its tallies.
    var window: Int64?
    var tallies: [PortKey: PortScanTally] = [:]
    /// Episodes not tallied because the window already counted `maxWindowPorts` ports.
    public internal(set) var untrackedScans: UInt64 = 0

    public init(backscatter: BackscatterRuleConfig = .init(), scanCampaign: ScanCampaignRuleConfig = .init()) {
        self.backscatter = backscatter
        self.scanCampaign = scanCampaign
    }

    public var rememberedFingerprintCount: Int { known.count }
    /// Ports with new scanners in the open window.
    public var windowPortCount: Int { tallies.count }

    public func evaluate(_ e: BackscatterVictimEvent) -> Alert? {
        let rate = AlertNumber.finite(e.estimatedAttackRate)
        guard rate >= backscatter.minEstimatedAttackRate, e.packets >= backscatter.minPackets else { return nil }
        return Alert(
            rule: .backscatterDoS, severity: backscatter.severity, timeNs: e.startNs, key: e.victim.description,
            ipProtocol: e.ipProtocol, address: e.victim, metric: "estimated_attack_pps", observed: rate,
            message: "DoS victim \(e.victim) (\(ProtocolName.name(e.ipProtocol))): \(e.packets) backscatter packets,"
                + " peak \(AlertNumber.format(e.peakRate)) pps at the darknet,"
                + " estimated attack \(AlertNumber.format(rate)) pps")
    }

    /// One scan episode: the summary of the window it closes (if its time is in a later
    /// window), then its own alert if it is fast enough or the first of its fingerprint on
    /// the port. Every episode is tallied in the open window: an episode is reported when
    /// it qualifies, often long after its first packet (`startNs`), so one timed in an
    /// earlier window counts in the open one.
    public mutating func evaluate(_ e: ScanEpisodeEvent) -> [Alert] {
        var out = closeWindows(throughNs: e.startNs)
        let key = PortKey(e.ipProtocol, e.port)
        if tallies[key] != nil || tallies.count < max(1, scanCampaign.maxWindowPorts) {
            tallies[key, default: PortScanTally()].add(e)
        } else {
            untrackedScans &+= 1
        }

        let rate = AlertNumber.finite(e.internetRate)
        var reason: String?
        if let tool = e.fingerprint, !tool.isEmpty, rate >= scanCampaign.minFingerprintedInternetRate {
            let fingerprint = Fingerprint(tool: tool, ipProtocol: e.ipProtocol, port: e.port)
            if !known.contains(fingerprint) {
                remember(fingerprint)
                reason = "first \(StringSanitizer.printable(tool)) scanner"
            }
        }
        if reason == nil, rate >= scanCampaign.minInternetRate {
            reason = e.fingerprint.map { "\(StringSanitizer.printable($0)) scan campaign" } ?? "scan campaign"
        }
        if let reason {
            out.append(Alert(
                rule: .scanCampaign, severity: scanCampaign.severity, timeNs: e.startNs, key: e.source.description,
                ipProtocol: e.ipProtocol, port: e.port, address: e.source, metric: "internet_rate_pps", observed: rate,
                topSources: [SourceContribution(address: e.source, packets: e.packets)],
                message: "\(reason) from \(e.source) on \(SurgeRules.portLabel(e.ipProtocol, e.port)):"
                    + " \(e.packets) packets to \(e.destinations) darknet addresses,"
                    + " about \(AlertNumber.format(rate)) pps Internet-wide"))
        }
        return out
    }

    /// Moves the windows' clock to `timeNs` (the end of a closed sensor bucket, or an
    /// event's time): the first call opens the window holding `timeNs`; a time in a later
    /// window closes the open one, with one alert per port that had at least
    /// `minNewScanners` new scanners (ordered by protocol, port), and opens that later one.
    public mutating func closeWindows(throughNs timeNs: Int64) -> [Alert] {
        let w = bucketIndex(timeNs, scanCampaign.windowNs)
        guard let current = window else {
            window = w
            return []
        }
        guard w > current else { return [] }
        let out = summaries(of: current)
        tallies = [:]
        window = w
        return out
    }

    /// Closes the open window now (end of a replay): its summaries.
    public mutating func flushWindow() -> [Alert] {
        guard let current = window else { return [] }
        let out = summaries(of: current)
        tallies = [:]
        window = nil
        return out
    }

    private func summaries(of window: Int64) -> [Alert] {
        let startNs = window.multipliedReportingOverflow(by: scanCampaign.windowNs).partialValue
        let minutes = AlertNumber.format(Double(scanCampaign.windowNs / 1_000_000_000) / 60)
        return tallies.keys.sorted().compactMap { key -> Alert? in
            let t = tallies[key]!
            guard t.scanners >= max(1, scanCampaign.minNewScanners) else { return nil }
            var text = "\(t.scanners) new scanners on \(SurgeRules.portLabel(key.ipProtocol, key.port))"
                + " in the \(minutes) min from \(RFC3339.format(startNs))"
            let tools = t.tools.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            if let first = tools.first {
                text += ", \(first.value) of them \(StringSanitizer.printable(first.key))"
                for other in tools.dropFirst().prefix(2) { text += ", \(other.value) \(StringSanitizer.printable(other.key))" }
            }
            text += " (\(t.packets) packets)"
            return Alert(rule: .scanCampaign, severity: scanCampaign.severity, timeNs: startNs,
                         key: Alert.portKey(key.ipProtocol, key.port), ipProtocol: key.ipProtocol, port: key.port,
                         metric: "new_scanners", observed: Double(t.scanners), topSources: t.top, message: text)
        }
    }

    private mutating func remember(_ s: Fingerprint) {
        let cap = max(1, scanCampaign.rememberedFingerprints)
        while known.count >= cap, knownHead < knownOrder.count {
            known.remove(knownOrder[knownHead])
            knownHead += 1
        }
        known.insert(s)
        knownOrder.append(s)
        if knownHead > 1024, knownHead * 2 > knownOrder.count {
            knownOrder.removeFirst(knownHead)
            knownHead = 0
        }
    }
}

/// Text made of printable characters only: controls become `\u{…}` escapes. Used where a
/// value from outside (a fingerprint name) lands in a message.
public enum StringSanitizer {
    public static func printable(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
