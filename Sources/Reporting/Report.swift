import Aggregation
import Alerts
import Capture
import Correlation
import Decoding
import Foundation
import Interchange
import Pipeline
import Ring
import Sketches
import StatsWire

/// The `packets` member of the JSON report (docs/json-schema.md).
public struct PacketsSection: Codable, Sendable, Equatable {
    public var total: UInt64
    public var decoded: UInt64
    public var bytes: UInt64
    public var ipv4: UInt64
    public var ipv6: UInt64
    public var tcp: UInt64
    public var udp: UInt64
    public var icmp: UInt64
    public var icmpv6: UInt64
    public var otherIP: UInt64
    public var fragments: UInt64
    public var nonFirstFragments: UInt64
    /// Every reason, zero or not, keyed by its documented name.
    public var decodeErrors: [String: UInt64]

    public init(_ counters: PacketCounters) {
        total = counters.total
        decoded = counters.decoded
        bytes = counters.bytes
        ipv4 = counters.ipv4
        ipv6 = counters.ipv6
        tcp = counters.tcp
        udp = counters.udp
        icmp = counters.icmp
        icmpv6 = counters.icmpv6
        otherIP = counters.otherIP
        fragments = counters.fragments
        nonFirstFragments = counters.nonFirstFragments
        var errors: [String: UInt64] = [:]
        for reason in DecodeStatus.errorCases { errors[reason.name] = counters.errors(reason) }
        decodeErrors = errors
    }

    enum CodingKeys: String, CodingKey {
        case total, decoded, bytes, ipv4, ipv6, tcp, udp, icmp, icmpv6, fragments
        case otherIP = "other_ip"
        case nonFirstFragments = "non_first_fragments"
        case decodeErrors = "decode_errors"
    }
}

/// The `capture` member: where the packets came from and what was lost on the way.
public struct CaptureSection: Codable, Sendable, Equatable {
    /// `offline` or `live`.
    public var mode: String
    public var sources: [SourceReport]
    public var ring: RingCounters
    /// Live only: the kernel's counters, widened to 64 bits.
    public var kernel: KernelStatistics?
}

/// The time span the report covers.
public struct PeriodSection: Codable, Sendable, Equatable {
    /// RFC 3339 UTC time of the first and last packet; absent with no packets.
    public var first: String?
    public var last: String?
    public var seconds: Double

    public init(firstNs: Int64?, lastNs: Int64?) {
        first = firstNs.map { RFC3339.format($0) }
        last = lastNs.map { RFC3339.format($0) }
        if let firstNs, let lastNs { seconds = Double(lastNs - firstNs) / 1e9 } else { seconds = 0 }
    }
}

/// The JSON object `darknetd analyze --format json` prints
/// (docs/json-schema.md). Names are stable: add, never rename.
public struct AnalysisReport: Sendable, Equatable {
    public var version: String = SensorVersion.string
    public var period: PeriodSection
    public var packets: PacketsSection
    public var capture: CaptureSection
    public var classes: ClassCounts
    public var fingerprints: [String: UInt64]
    public var sources: DistinctSection
    public var destinations: DistinctSection
    public var ports: [PortRow]
    public var countries: CountriesSection
    public var topSources: [SourceRow]
    public var scans: ScansSection
    public var backscatter: BackscatterSection
    public var series: SeriesSection
    public var estimates: EstimatesSection


    public init(aggregator a: Aggregator, run: Pipeline.Run, live: Bool, topPorts: Int? = nil, topSources: Int = 100) {
        period = PeriodSection(firstNs: a.counters.firstTimestampNs, lastNs: a.counters.lastTimestampNs)
        packets = PacketsSection(a.counters)
        capture = CaptureSection(mode: live ? "live" : "offline", sources: run.sources, ring: run.ring, kernel: run.kernel)
        classes = a.classes
        var prints: [String: UInt64] = [:]
        for f in ScannerFingerprint.allCases where f != .none { prints[f.name] = a.fingerprints[Int(f.rawValue)] }
        fingerprints = prints
        sources = DistinctSection(a.distinctSources)
        destinations = DistinctSection(a.distinctDestinations)
        var rows = a.ports.nonEmptyRows()
        if let topPorts { rows = Array(rows.prefix(topPorts)) }
        ports = rows.map { PortRow(key: $0.key, row: $0.row) }
        countries = CountriesSection(a)
        self.topSources = a.topSourceRows(topSources).map { SourceRow(entry: $0.entry, detail: $0.detail) }
        scans = ScansSection(a.scans)
        backscatter = BackscatterSection(a.backscatter)
        series = SeriesSection(a)
        estimates = EstimatesSection(a)
    }

    /// Sorted keys, so the same input always prints the same bytes.
    public func json() -> String {
        var out = ""
        writeJSON { out += $0 }
        return out
    }

    /// Writes the object member by member, keys sorted, long arrays one
    /// element per line. Memory stays proportional to one element rather
    /// than to the report: JSONEncoder's tree for 130,000 port rows alone
    /// took over 200 MiB.
    public func writeJSON(_ sink: (String) -> Void) {
        var members: [(key: String, write: ((String) -> Void) -> Void)] = [
            ("version", { $0(StreamingJSON.encode(version)) }),
            ("period", { $0(StreamingJSON.encode(period)) }),
            ("packets", { $0(StreamingJSON.encode(packets)) }),
            ("capture", { $0(StreamingJSON.encode(capture)) }),
            ("classes", { $0(StreamingJSON.encode(classes)) }),
            ("fingerprints", { $0(StreamingJSON.encode(fingerprints)) }),
            ("sources", { $0(StreamingJSON.encode(sources)) }),
            ("destinations", { $0(StreamingJSON.encode(destinations)) }),
            ("ports", { StreamingJSON.writeArray(ports, to: $0) }),
            ("countries", { StreamingJSON.writeObject(countries.stripped, arrayKey: "rows", elements: countries.rows, to: $0) }),
            ("top_sources", { StreamingJSON.writeArray(topSources, to: $0) }),
            ("scans", { StreamingJSON.writeObject(scans.stripped, arrayKey: "episodes", elements: scans.episodes, to: $0) }),
            ("backscatter", { StreamingJSON.writeObject(backscatter.stripped, arrayKey: "attacks", elements: backscatter.attacks, to: $0) }),
            ("series", { StreamingJSON.writeObject(series.stripped, arrayKey: "buckets", elements: series.buckets, to: $0) }),
            ("estimates", { $0(StreamingJSON.encode(estimates)) }),
        ]
        members += extraMembers.map { ($0.key, $0.write) }
        members.sort { $0.key < $1.key }
        sink("{\n")
        for (i, member) in members.enumerated() {
            sink("\"\(member.key)\": ")
            member.write(sink)
            sink(i == members.count - 1 ? "\n" : ",\n")
        }
        sink("}\n")
    }

    /// Members added by other stages (feed, correlation, alerts), written in key order.
    public var extraMembers: [(key: String, write: @Sendable ((String) -> Void) -> Void)] = []

    public static func == (a: AnalysisReport, b: AnalysisReport) -> Bool { a.json() == b.json() }
}

/// Compact, key-sorted JSON, one value at a time.
public enum StreamingJSON {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    public static func encode<T: Encodable>(_ value: T) -> String {
        guard let data = try? encoder().encode(value) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }

    /// `[` then one element per line, then `]`.
    public static func writeArray<T: Encodable>(_ elements: [T], to sink: (String) -> Void) {
        let encoder = encoder()
        if elements.isEmpty {
            sink("[]")
            return
        }
        sink("[\n")
        for (i, element) in elements.enumerated() {
            let data = (try? encoder.encode(element)) ?? Data("null".utf8)
            sink(String(decoding: data, as: UTF8.self))
            sink(i == elements.count - 1 ? "\n]" : ",\n")
        }
    }

    /// Port rows, one per line. A 5 M-packet capture has 128 K of them, and one
    /// JSONEncoder call per row was 13 % of `analyze`'s time (perf): they are
    /// written directly, in exactly the encoder's form (a test compares the two).
    public static func writeArray(_ rows: [PortRow], to sink: (String) -> Void) {
        if rows.isEmpty {
            sink("[]")
            return
        }
        sink("[\n")
        var chunk = ""
        chunk.reserveCapacity(64 * 1024)
        for (i, row) in rows.enumerated() {
            chunk += row.json
            chunk += i == rows.count - 1 ? "\n]" : ",\n"
            if chunk.utf8.count >= 60 * 1024 {
                sink(chunk)
                chunk.removeAll(keepingCapacity: true)
            }
        }
        sink(chunk)
    }

    /// An object whose member `arrayKey` is long: `stripped` is the object
    /// with that array emptied; the elements are streamed where `[]` stands.
    public static func writeObject<T: Encodable, E: Encodable>(_ stripped: T, arrayKey: String, elements: [E], to sink: (String) -> Void) {
        let text = encode(stripped)
        let marker = "\"\(arrayKey)\":[]"
        guard let split = text.range(of: marker) else {
            sink(text)
            return
        }
        sink(String(text[..<split.lowerBound]) + "\"\(arrayKey)\":")
        writeArray(elements, to: sink)
        sink(String(text[split.upperBound...]))
    }
}


/// An estimated distinct count with its standard error.
public struct DistinctSection: Codable, Sendable, Equatable {
    public var estimate: UInt64
    /// Relative standard error of the estimator (HyperLogLog: 1.04/√m).
    public var relativeError: Double
    public var exact: Bool = false

    package init(_ h: HyperLogLog) {
        estimate = UInt64(h.estimate.rounded())
        relativeError = h.relativeStandardError
    }

    enum CodingKeys: String, CodingKey {
        case estimate, exact
        case relativeError = "relative_error"
    }
}

public struct PortRow: Codable, Sendable, Equatable {
    public var proto: String
    /// TCP/UDP destination port, or the ICMP/ICMPv6 type.
    public var port: UInt16
    public var packets: UInt64
    public var bytes: UInt64
    /// Distinct sources and darknet destinations; see estimates.distinct_pairs for exactness.
    public var sources: UInt32
    public var destinations: UInt32
    public var classes: ClassCounts

    /// The row as `StreamingJSON.encoder()` encodes it (sorted keys, compact).
    /// Every member is a number except `proto`, which is "tcp", "udp", "icmp",
    /// "icmpv6" or a decimal number: nothing needs escaping.
    var json: String {
        let c = classes
        return "{\"bytes\":\(bytes),\"classes\":{\"backscatter\":\(c.backscatter),\"misconfiguration\":\(c.misconfiguration),"
            + "\"other\":\(c.other),\"reflection-recon\":\(c.reflectionRecon),\"scan\":\(c.scan)},"
            + "\"destinations\":\(destinations),\"packets\":\(packets),\"port\":\(port),\"proto\":\"\(proto)\",\"sources\":\(sources)}"
    }

    package init(key: ProtocolPort, row: PortTable.Row) {
        proto = ProtocolName.name(key.ipProtocol)
        port = key.port
        packets = row.packets
        bytes = row.bytes
        sources = row.sources
        destinations = row.destinations
        classes = row.classes
    }
}

/// Sources' countries (GeoIP); "??" when unknown or when no database is configured.
public struct CountriesSection: Codable, Sendable, Equatable {
    public struct Row: Codable, Sendable, Equatable {
        public var country: String
        public var packets: UInt64
        public var bytes: UInt64
        public var sources: UInt32
        public var classes: ClassCounts
    }

    /// Path of the .mmdb database used, if any.
    public var database: String?
    public var rows: [Row]

    package init(_ a: Aggregator) {
        database = a.countryCache.database?.path
        rows = a.countries.nonEmptyRows().map {
            Row(country: $0.code.description, packets: $0.row.packets, bytes: $0.row.bytes, sources: $0.row.sources, classes: $0.row.classes)
        }
    }
}

extension CountriesSection { var stripped: Self { var c = self; c.rows = []; return c } }
extension ScansSection { var stripped: Self { var c = self; c.episodes = []; return c } }
extension BackscatterSection { var stripped: Self { var c = self; c.attacks = []; return c } }
extension SeriesSection { var stripped: Self { var c = self; c.buckets = []; return c } }

public struct SourceRow: Codable, Sendable, Equatable {
    public var address: String
    /// Space-Saving count: an upper bound; the true count is within [packets - packets_error, packets].
    public var packets: UInt64
    public var packetsError: UInt64
    /// Detail from the per-source table (absent when the source was evicted from it).
    public var ports: UInt32?
    public var destinations: UInt32?
    public var firstSeen: String?
    public var lastSeen: String?
    public var classes: [String]
    public var fingerprint: String?

    package init(entry: SpaceSaving<IPAddress>.Entry, detail: SourceDetail?) {
        address = entry.key.description
        packets = entry.count
        packetsError = entry.error
        ports = detail?.ports
        destinations = detail?.destinations
        firstSeen = detail.map { RFC3339.format($0.firstSeenNs) }
        lastSeen = detail.map { RFC3339.format($0.lastSeenNs) }
        classes = detail?.classes.map(\.name) ?? []
        fingerprint = detail.flatMap { $0.fingerprint == .none ? nil : $0.fingerprint.name }
    }

    enum CodingKeys: String, CodingKey {
        case address, packets, ports, destinations, classes, fingerprint
        case packetsError = "packets_error"
        case firstSeen = "first_seen"
        case lastSeen = "last_seen"
    }
}

public struct ScansSection: Codable, Sendable, Equatable {
    public struct Episode: Codable, Sendable, Equatable {
        public var source: String
        public var proto: String
        public var port: UInt16
        public var start: String
        public var end: String
        public var packets: UInt64
        public var destinations: UInt32
        /// Packets/s seen by this darknet, and × 2^32 / darknet size.
        public var observedRate: Double
        public var internetRate: Double
        public var fingerprint: String?
        public var ongoing: Bool

        enum CodingKeys: String, CodingKey {
            case source, proto, port, start, end, packets, destinations, fingerprint, ongoing
            case observedRate = "observed_rate"
            case internetRate = "internet_rate"
        }
    }

    /// Episodes found (closed and still open), including any beyond the kept list.
    public var count: UInt64
    public var episodes: [Episode]
    public var minDestinations: UInt32
    public var timeoutSeconds: Int64
    public var minInternetRate: Double

    package init(_ d: ScanDetector) {
        let report = d.report()
        count = d.episodeCount
        episodes = report.map {
            Episode(source: $0.source.description, proto: ProtocolName.name($0.ipProtocol), port: $0.port,
                    start: RFC3339.format($0.startNs), end: RFC3339.format($0.endNs), packets: $0.packets,
                    destinations: $0.destinations, observedRate: $0.observedRate, internetRate: $0.internetRate,
                    fingerprint: $0.fingerprint == .none ? nil : $0.fingerprint.name, ongoing: $0.ongoing)
        }
        minDestinations = d.config.minDestinations
        timeoutSeconds = d.config.timeoutSeconds
        minInternetRate = d.config.minInternetRate
    }

    enum CodingKeys: String, CodingKey {
        case count, episodes
        case minDestinations = "min_destinations"
        case timeoutSeconds = "timeout_seconds"
        case minInternetRate = "min_internet_rate"
    }
}

public struct BackscatterSection: Codable, Sendable, Equatable {
    public struct Attack: Codable, Sendable, Equatable {
        public var victim: String
        public var proto: String
        public var start: String
        public var end: String
        public var packets: UInt64
        public var peakRate: Double
        public var observedRate: Double
        public var estimatedAttackRate: Double
        public var ongoing: Bool

        enum CodingKeys: String, CodingKey {
            case victim, proto, start, end, packets, ongoing
            case peakRate = "peak_rate"
            case observedRate = "observed_rate"
            case estimatedAttackRate = "estimated_attack_rate"
        }
    }

    public var count: UInt64
    public var attacks: [Attack]

    package init(_ d: BackscatterDetector) {
        let report = d.report()
        count = d.attackCount
        attacks = report.map {
            Attack(victim: $0.victim.description, proto: ProtocolName.name($0.ipProtocol), start: RFC3339.format($0.startNs),
                   end: RFC3339.format($0.endNs), packets: $0.packets, peakRate: $0.peakRate,
                   observedRate: $0.observedRate, estimatedAttackRate: $0.estimatedAttackRate, ongoing: $0.ongoing)
        }
    }
}

public struct SeriesSection: Codable, Sendable, Equatable {
    public struct Bucket: Codable, Sendable, Equatable {
        public struct Port: Codable, Sendable, Equatable {
            public var proto: String
            public var port: UInt16
            public var packets: UInt64

            package init(proto: String, port: UInt16, packets: UInt64) {
                self.proto = proto
                self.port = port
                self.packets = packets
            }
        }

        public var start: String
        public var packets: UInt64
        public var bytes: UInt64
        public var decoded: UInt64
        public var tcp: UInt64
        public var udp: UInt64
        public var icmp: UInt64
        public var icmpv6: UInt64
        public var sources: UInt64
        public var classes: ClassCounts
        /// The bucket's busiest ports (at most `top_ports_per_bucket`).
        public var ports: [Port]
        /// Ports with packets in the bucket.
        public var portCount: Int

        package init(start: String, packets: UInt64, bytes: UInt64, decoded: UInt64, tcp: UInt64, udp: UInt64,
                     icmp: UInt64, icmpv6: UInt64, sources: UInt64, classes: ClassCounts, ports: [Port], portCount: Int) {
            self.start = start
            self.packets = packets
            self.bytes = bytes
            self.decoded = decoded
            self.tcp = tcp
            self.udp = udp
            self.icmp = icmp
            self.icmpv6 = icmpv6
            self.sources = sources
            self.classes = classes
            self.ports = ports
            self.portCount = portCount
        }

        enum CodingKeys: String, CodingKey {
            case start, packets, bytes, decoded, tcp, udp, icmp, icmpv6, sources, classes, ports
            case portCount = "port_count"
        }
    }

    public var bucketSeconds: Int64
    public var utcOffsetSeconds: Int64
    /// Relative standard error of each bucket's `sources` (HyperLogLog, precision 12).
    public var sourcesRelativeError: Double
    /// Oldest buckets dropped to respect the series cap.
    public var dropped: UInt64
    /// Buckets with packets, oldest first (empty buckets are omitted).
    public var buckets: [Bucket]

    package init(_ a: Aggregator) {
        bucketSeconds = a.buckets.lengthSeconds
        utcOffsetSeconds = a.buckets.utcOffsetSeconds
        sourcesRelativeError = HyperLogLog(precision: 12).relativeStandardError
        dropped = a.seriesDropped
        buckets = a.series.map { p in
            Bucket(start: RFC3339.format(p.startNs), packets: p.counters.total, bytes: p.counters.bytes,
                   decoded: p.counters.decoded, tcp: p.counters.tcp, udp: p.counters.udp, icmp: p.counters.icmp,
                   icmpv6: p.counters.icmpv6, sources: UInt64(p.sources.rounded()), classes: p.classes,
                   ports: p.topPorts.map {
                       Bucket.Port(proto: ProtocolName.name($0.key.ipProtocol), port: $0.key.port, packets: $0.packets)
                   },
                   portCount: p.portCount)
        }
    }

    enum CodingKeys: String, CodingKey {
        case buckets, dropped
        case bucketSeconds = "bucket_seconds"
        case utcOffsetSeconds = "utc_offset_seconds"
        case sourcesRelativeError = "sources_relative_error"
    }
}

/// How exact each estimated figure is.
public struct EstimatesSection: Codable, Sendable, Equatable {
    /// Distinct-pair table behind ports[].sources, top_sources[].ports (and, in `exact` mode, every
    /// destination count): exact while evictions == 0; otherwise each such count may overcount by at most `evictions`.
    public var distinctPairs: Table
    /// Space-Saving behind top_sources[].packets: every error ≤ max_error = packets / capacity.
    public var topSources: TopSources
    /// Per-source detail table: entries evicted (their detail restarts if they return).
    public var sourceDetails: Table
    public var scanCandidates: Table
    public var backscatterCandidates: Table
    /// Packets whose timestamp fell before the open bucket (counted in it).
    public var latePackets: UInt64
    /// `exact` (`analyze --exact`: per-packet exact tables) or `sketch` (the default).
    public var mode: String
    /// top_sources[].destinations: exact from the pair table in `exact` mode; else each is
    /// estimated by a 128-register sketch in the source's entry (docs/sketches.md).
    public var sourceDestinations: Sketch
    /// ports[].destinations: the pair table in `exact` mode; else a 128-register sketch per port row.
    public var portDestinations: Sketch
    /// scans.episodes[].destinations, and so which candidates reach the threshold: the pair table in
    /// `exact` mode; else a 128-register sketch in each candidate's state (at most 10.4 %, docs/sketches.md).
    public var scanDestinations: Sketch
    /// Aggregation shards (threads) the figures were merged from.
    public var shards: Int

    public struct Sketch: Codable, Sendable, Equatable {
        public var exact: Bool
        /// One relative standard error of each estimate (0 when exact).
        public var relativeStandardError: Double

        enum CodingKeys: String, CodingKey {
            case exact
            case relativeStandardError = "relative_standard_error"
        }
    }

    public struct Table: Codable, Sendable, Equatable {
        public var capacity: Int
        public var evictions: UInt64
        public var exact: Bool
    }

    public struct TopSources: Codable, Sendable, Equatable {
        public var capacity: Int
        public var maxError: UInt64
        public var exact: Bool

        enum CodingKeys: String, CodingKey {
            case capacity, exact
            case maxError = "max_error"
        }
    }

    package init(_ a: Aggregator) {
        distinctPairs = Table(capacity: a.pairs.capacity, evictions: a.pairs.evictions, exact: a.pairs.isExact)
        topSources = TopSources(capacity: a.topSources.capacity, maxError: a.topSources.maxError, exact: a.topSources.isExact)
        sourceDetails = Table(capacity: a.sourceDetails.capacity, evictions: a.sourceDetails.evictions, exact: a.sourceDetails.evictions == 0)
        scanCandidates = Table(capacity: a.scans.capacity, evictions: a.scans.evictions, exact: a.scans.evictions == 0)
        backscatterCandidates = Table(capacity: a.backscatter.capacity, evictions: a.backscatter.evictions,
                                      exact: a.backscatter.evictions == 0)
        latePackets = a.latePackets
        mode = a.config.exact ? "exact" : "sketch"
        sourceDestinations = Sketch(exact: a.config.exact,
                                    relativeStandardError: a.config.exact ? 0 : DestinationSketch.relativeStandardError)
        portDestinations = sourceDestinations
        scanDestinations = Sketch(exact: a.config.exact,
                                  relativeStandardError: a.config.exact ? 0 : ScanDetector.destinationRelativeStandardError)
        shards = a.shards
    }

    enum CodingKeys: String, CodingKey {
        case distinctPairs = "distinct_pairs"
        case topSources = "top_sources"
        case sourceDetails = "source_details"
        case scanCandidates = "scan_candidates"
        case backscatterCandidates = "backscatter_candidates"
        case latePackets = "late_packets"
        case mode
        case sourceDestinations = "source_destinations"
        case portDestinations = "port_destinations"
        case scanDestinations = "scan_destinations"
        case shards
    }
}

/// Human-readable summaries for `--format text` and the live status line.
public enum TextSummary {
    public static func report(_ report: AnalysisReport) -> String {
        let p = report.packets
        var lines: [String] = []
        lines.append("period      \(report.period.first ?? "-") .. \(report.period.last ?? "-") (\(String(format: "%.3f", report.period.seconds)) s)")
        lines.append("packets     \(p.total) total, \(p.decoded) decoded, \(p.bytes) bytes")
        lines.append("ip          ipv4 \(p.ipv4)  ipv6 \(p.ipv6)  fragments \(p.fragments) (non-first \(p.nonFirstFragments))")
        lines.append("protocols   tcp \(p.tcp)  udp \(p.udp)  icmp \(p.icmp)  icmpv6 \(p.icmpv6)  other \(p.otherIP)")
        let darknetReasons: Set<String> = [DecodeStatus.destinationOutsideDarknet.name, DecodeStatus.sourceInsideDarknet.name]
        let counted = p.decodeErrors.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        let errors = counted.filter { !darknetReasons.contains($0.key) }
        lines.append("not decoded " + (errors.isEmpty ? "0" : errors.map { "\($0.key) \($0.value)" }.joined(separator: "  ")))
        let outside = counted.filter { darknetReasons.contains($0.key) }
        if !outside.isEmpty {
            lines.append("not darknet " + outside.map { "\($0.key) \($0.value)" }.joined(separator: "  "))
        }
        let r = report.capture.ring
        lines.append("ring        captured \(r.captured)  consumed \(r.consumed)  dropped \(r.ringDropped)  in-flight \(r.inFlight)")
        if let k = report.capture.kernel {
            lines.append("kernel      received \(k.received)  dropped \(k.dropped)  if-dropped \(k.interfaceDropped)")
        }
        for source in report.capture.sources {
            var line = "source      \(source.source) [\(source.linkType)] \(source.packets) packets"
            if let error = source.error { line += " -- stopped early: \(error)" }
            lines.append(line)
        }
        let c = report.classes
        lines.append("classes     scan \(c.scan)  backscatter \(c.backscatter)  reflection-recon \(c.reflectionRecon)  misconfiguration \(c.misconfiguration)  other \(c.other)")
        lines.append("scanners    " + report.fingerprints.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: "  "))
        lines.append(String(format: "distinct    sources ~%llu  destinations ~%llu (±%.1f%%)", report.sources.estimate,
                            report.destinations.estimate, report.sources.relativeError * 100))
        if !report.ports.isEmpty {
            lines.append("")
            lines.append(pad("proto/port", 14) + pad("packets", 12) + pad("bytes", 14) + pad("sources", 10) + "destinations")
            for row in report.ports.prefix(15) {
                lines.append(pad("\(row.proto)/\(row.port)", 14) + pad("\(row.packets)", 12) + pad("\(row.bytes)", 14)
                             + pad("\(row.sources)", 10) + "\(row.destinations)")
            }
            if report.ports.count > 15 { lines.append("(\(report.ports.count - 15) more ports; --format json lists them)") }
        }
        if !report.topSources.isEmpty {
            lines.append("")
            lines.append(pad("source", 42) + pad("packets (±err)", 18) + pad("ports", 8) + pad("dests", 8) + "classes")
            for row in report.topSources.prefix(10) {
                lines.append(pad(row.address, 42) + pad("\(row.packets) (±\(row.packetsError))", 18)
                             + pad(row.ports.map(String.init) ?? "-", 8) + pad(row.destinations.map(String.init) ?? "-", 8)
                             + row.classes.joined(separator: ",") + (row.fingerprint.map { " [\($0)]" } ?? ""))
            }
        }
        lines.append("countries   " + report.countries.rows.prefix(12).map { "\($0.country) \($0.packets)" }.joined(separator: "  ")
                     + (report.countries.database == nil ? "  (no GeoIP database: --geoip FILE.mmdb)" : ""))
        lines.append("")
        lines.append("scans       \(report.scans.count) episodes")
        for e in report.scans.episodes.prefix(10) {
            lines.append("  \(e.source) \(e.proto)/\(e.port) \(e.start) .. \(e.end) \(e.packets) pkts \(e.destinations) dsts"
                         + String(format: " ~%.0f pps Internet-wide", e.internetRate) + (e.fingerprint.map { " [\($0)]" } ?? ""))
        }
        lines.append("backscatter \(report.backscatter.count) attacks")
        for a in report.backscatter.attacks.prefix(10) {
            lines.append("  victim \(a.victim) \(a.proto) \(a.start) .. \(a.end) \(a.packets) pkts"
                         + String(format: " peak %.2f pps, ~%.0f pps attack", a.peakRate, a.estimatedAttackRate))
        }
        return lines.joined(separator: "\n")
    }

    /// The alerts for `--format text`.
    public static func alerts(_ a: AlertsSection) -> String {
        var lines = ["", "alerts      \(a.count)"]
        for row in a.rows.prefix(40) {
            lines.append("  \(row.time) \(pad(row.rule, 24)) \(pad(row.severity, 8)) \(row.key): " + row.message)
        }
        if a.rows.count > 40 { lines.append("  (\(a.rows.count - 40) more; --format json lists them)") }
        return lines.joined(separator: "\n")
    }

    /// The feed comparison for `--format text`.
    public static func comparison(_ c: FeedComparison) -> String {
        var lines: [String] = [""]
        let status = c.feed.status
        lines.append("feed        \(status.path) [\(status.format ?? "?")] \(c.feed.events) events, \(status.lines) lines, \(status.skippedTotal) skipped, ~\(c.feed.sources) sources")
        lines.append("")
        lines.append(pad("bucket", 32) + pad("sensor packets", 16) + "feed events")
        for b in c.comparison.buckets.prefix(60) {
            lines.append(pad(b.start, 32) + pad("\(b.sensorPackets)", 16) + "\(b.feedEvents)")
        }
        if c.comparison.buckets.count > 60 { lines.append("(\(c.comparison.buckets.count - 60) more buckets)") }
        lines.append("")
        if c.feed.undatedEvents > 0 {
            lines.append(c.feed.feedTime == .event
                ? "feed time   \(c.feed.undatedEvents) events without a time of their own were left out (--feed-time arrival stamps them with the time they were read)"
                : "feed time   \(c.feed.undatedEvents) events without a time of their own were stamped with the time they were read (--feed-time arrival)")
        }
        lines.append(contentsOf: correlationTable(c.correlation))
        let o = c.overlap
        lines.append("")
        lines.append(String(format: "overlap     sources: shared %.0f, sensor-only %.0f, feed-only %.0f%@", o.sources.shared, o.sources.sensorOnly,
                            o.sources.feedOnly, o.sources.exact ? " (exact)" : " (estimated)"))
        lines.append("            ports: shared \(o.ports.shared), sensor-only \(o.ports.sensorOnly), feed-only \(o.ports.feedOnly)")
        lines.append("            countries: shared \(o.countries.shared), sensor-only \(o.countries.sensorOnly), feed-only \(o.countries.feedOnly)")
        let l = c.locality
        lines.append("locality    feed-only ports: \(l.feedOnlyPorts.prefix(10).map(String.init).joined(separator: " "))")
        lines.append("            feed-only target countries: \(l.feedOnlyTargetCountries.joined(separator: " "))")
        lines.append("            sources targeting one country: \(l.singleTargetSourceCount)")
        for s in l.singleTargetSources.prefix(10) {
            lines.append("              \(s.address) -> \(s.country) (\(s.events) events)" + (s.seenBySensor == false ? ", never seen by the sensor" : ""))
        }
        return lines.joined(separator: "\n")
    }

    /// The correlation rows: every r with the buckets it rests on, "buckets" being the
    /// buckets compared and "both" those where both series are non-zero.
    public static func correlationTable(_ rows: [SeriesCorrelation]) -> [String] {
        var lines = [pad("series", 16) + pad("pearson", 10) + pad("spearman", 10) + pad("p", 12) + pad("r of diffs", 12)
                     + pad("p adj (n_eff)", 20) + pad("buckets (both)", 16) + "best lag (r, buckets, both)"]
        func f(_ v: Double?) -> String { v.map { String(format: "%.3f", $0) } ?? "-" }
        func g(_ v: Double?) -> String { v.map { String(format: "%.2g", $0) } ?? "-" }
        for s in rows {
            let counts = pad("\(s.buckets) (\(s.overlapBuckets))", 16)
            if s.insufficientOverlap {
                lines.append(pad(s.series, 16) + "insufficient overlap: \(s.overlapBuckets) of \(s.buckets) buckets non-zero on both sides,"
                             + " at least \(s.minOverlapBuckets) needed")
                continue
            }
            let best = s.bestLagBuckets.map { lag in
                "\(lag > 0 ? "+" : "")\(lag) (\(f(s.bestLagPearson)), \(s.bestLagPairs ?? 0), \(s.bestLagOverlapBuckets ?? 0))"
            } ?? "-"
            let adjusted = s.pValuePearsonAdjusted.map { p in "\(g(p)) (\(s.effectiveBuckets.map { String(format: "%.1f", $0) } ?? "-"))" } ?? "-"
            lines.append(pad(s.series, 16) + pad(f(s.pearson), 10) + pad(f(s.spearman), 10) + pad(g(s.pValuePearson), 12)
                         + pad(f(s.pearsonDifferenced), 12) + pad(adjusted, 20) + counts + best)
        }
        lines.append("lag: positive when the feed leads; both: buckets where sensor and feed are both non-zero;"
                     + " r of diffs: Pearson of bucket-to-bucket changes; p adj: p of pearson with n_eff independent buckets")
        return lines
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    /// One line for the live status print.
    public static func liveLine(counters: PacketCounters, ring: RingCounters, kernel: KernelStatistics, elapsed: Double) -> String {
        let rate = elapsed > 0 ? Double(counters.total) / elapsed : 0
        return String(format: "%.0fs pkts %llu (%.0f/s) bytes %llu tcp %llu udp %llu icmp %llu icmpv6 %llu other %llu errors %llu kernel-drop %llu if-drop %llu ring-drop %llu",
                      elapsed, counters.total, rate, counters.bytes, counters.tcp, counters.udp, counters.icmp,
                      counters.icmpv6, counters.otherIP, counters.totalErrors, kernel.dropped, kernel.interfaceDropped,
                      ring.ringDropped)
    }
}
