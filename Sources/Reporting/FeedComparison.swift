import Aggregation
import Correlation
import Decoding
import Feed
import GeoIP
import Interchange

/// The study's analysis for one period: the sensor's buckets beside an
/// external feed's, correlations (total, per port, per country), overlap
/// and locality. Built from the aggregator's series and a `FeedSeries` on
/// the same bucket grid.
public struct FeedComparison: Sendable {
    public struct Options: Sendable, Equatable {
        /// Lagged correlation over −maxLag … +maxLag buckets.
        public var maxLag: Int = 3
        /// Ports and countries correlated (the busiest by combined volume).
        public var topPorts: Int = 10
        public var topCountries: Int = 10
        /// Where the darknet is (its target country, for the locality of target countries).
        public var sensorCountry: CountryCode = .unknown
        /// Entries listed per locality list (counts are always complete).
        public var listLimit: Int = 50
        /// A coefficient needs at least this many buckets where both series are non-zero;
        /// below it the row says "insufficient overlap" (`analyze --min-overlap`).
        public var minOverlapBuckets: Int = CorrelationReport.defaultMinOverlapBuckets
        /// Feed events without a time of their own, left out of the series (see `FeedTimeSource`).
        public var undatedEvents: UInt64 = 0
        public var feedTime: FeedTimeSource = .event
        public init() {}
    }

    public var feed: FeedSection
    public var comparison: ComparisonSection
    public var correlation: [SeriesCorrelation]
    public var overlap: OverlapSection
    public var locality: LocalitySection

    public init(aggregator a: Aggregator, feed f: FeedSeries, status: FeedStatus, options: Options) {
        let width = a.buckets.lengthNs

        // Sensor series, keyed by bucket start.
        var sensorTotal: [Int64: Double] = [:]
        var sensorPorts: [UInt16: [Int64: Double]] = [:]
        var sensorCountries: [String: [Int64: Double]] = [:]
        var sensorPortTotals: [UInt16: UInt64] = [:]
        for point in a.series {
            sensorTotal[point.startNs] = Double(point.counters.total)
            for figures in point.topPorts + point.watchedPorts
            where figures.key.ipProtocol == IPProtocolNumber.tcp || figures.key.ipProtocol == IPProtocolNumber.udp {
                sensorPorts[figures.key.port, default: [:]][point.startNs, default: 0] += Double(figures.packets)
            }
            for c in point.countries {
                sensorCountries[c.code.description, default: [:]][point.startNs, default: 0] += Double(c.packets)
            }
        }
        for (key, row) in a.ports.nonEmptyRows()
        where key.ipProtocol == IPProtocolNumber.tcp || key.ipProtocol == IPProtocolNumber.udp {
            sensorPortTotals[key.port, default: 0] += row.packets
        }

        // Feed series on the same grid.
        var feedTotal: [Int64: Double] = [:]
        var feedPorts: [UInt16: [Int64: Double]] = [:]
        var feedCountries: [String: [Int64: Double]] = [:]
        var feedPortTotals: [UInt16: UInt64] = [:]
        var feedCountryTotals: [CountryCode: UInt64] = [:]
        var feedTargetTotals: [CountryCode: UInt64] = [:]
        for bucket in f.orderedBuckets {
            feedTotal[bucket.startNs] = Double(bucket.total)
            for (port, events) in bucket.ports {
                feedPorts[port, default: [:]][bucket.startNs] = Double(events)
                feedPortTotals[port, default: 0] += events
            }
            for (code, events) in bucket.sourceCountries {
                feedCountries[code.description, default: [:]][bucket.startNs] = Double(events)
                feedCountryTotals[code, default: 0] += events
            }
            for (code, events) in bucket.targetCountries { feedTargetTotals[code, default: 0] += events }
        }

        let grid = FeedComparison.grid(sensorTotal.keys, feedTotal.keys, width: width)
        var correlations: [SeriesCorrelation] = []
        if let grid {
            if let pair = try? Alignment.align(sensor: sensorTotal, feed: feedTotal, bucketWidthNs: width, first: grid.first, count: grid.count) {
                correlations.append(CorrelationReport.series("total", pair: pair, maxLag: options.maxLag,
                                                             minOverlap: options.minOverlapBuckets))
            }
            correlations += (try? CorrelationReport.perPort(sensor: sensorPorts, feed: feedPorts, bucketWidthNs: width,
                                                           first: grid.first, count: grid.count, top: options.topPorts,
                                                           maxLag: options.maxLag, ranking: .sumOfShares,
                                                           minOverlap: options.minOverlapBuckets)) ?? []
            correlations += (try? CorrelationReport.perCountry(sensor: sensorCountries, feed: feedCountries, bucketWidthNs: width,
                                                              first: grid.first, count: grid.count, top: options.topCountries,
                                                              maxLag: options.maxLag, ranking: .sumOfShares,
                                                              minOverlap: options.minOverlapBuckets)) ?? []
        }
        correlation = correlations

        // Side-by-side tables.
        var rows: [ComparisonSection.Bucket] = []
        if let grid {
            for i in 0..<grid.count {
                let start = grid.first + Int64(i) * width
                rows.append(.init(start: RFC3339.format(start), sensorPackets: UInt64(sensorTotal[start] ?? 0),
                                  feedEvents: UInt64(feedTotal[start] ?? 0)))
            }
        }
        let portKeys = Set(sensorPortTotals.keys).union(feedPortTotals.keys)
        let portRows = portKeys.map { ComparisonSection.Port(port: $0, sensorPackets: sensorPortTotals[$0] ?? 0, feedEvents: feedPortTotals[$0] ?? 0) }
            .sorted { ($0.sensorPackets + $0.feedEvents, $1.port) > ($1.sensorPackets + $1.feedEvents, $0.port) }
        var sensorCountryTotals: [CountryCode: UInt64] = [:]
        for (code, row) in a.countries.nonEmptyRows() { sensorCountryTotals[code] = row.packets }
        let countryKeys = Set(sensorCountryTotals.keys).union(feedCountryTotals.keys)
        let countryRows = countryKeys.map {
            ComparisonSection.Country(country: $0.description, sensorPackets: sensorCountryTotals[$0] ?? 0, feedEvents: feedCountryTotals[$0] ?? 0)
        }.sorted { ($0.sensorPackets + $0.feedEvents, $1.country) > ($1.sensorPackets + $1.feedEvents, $0.country) }
        comparison = ComparisonSection(bucketSeconds: a.buckets.lengthSeconds, buckets: rows,
                                       ports: Array(portRows.prefix(options.listLimit * 2)),
                                       countries: countryRows)

        feed = FeedSection(status: status, series: f, targetTotals: feedTargetTotals, listLimit: options.listLimit)
        feed.feedTime = options.feedTime
        feed.undatedEvents = options.undatedEvents

        // Overlap: sources exact when both sides kept every address.
        let sourcesOverlap: OverlapSection.Sources
        if a.exactSourcesComplete && a.config.exactSourceCap > 0 && f.sources.isExact {
            let exact = Overlap.exact(sensor: a.exactSources, feed: f.sources.exact)
            sourcesOverlap = .init(exact: true, shared: Double(exact.shared), sensorOnly: Double(exact.sensorOnly),
                                   feedOnly: Double(exact.feedOnly), jaccard: exact.jaccard, bounds: nil)
        } else {
            var union = a.distinctSources
            union.merge(f.sources.hyperLogLog)
            let estimate = Overlap.estimated(
                sensor: CardinalityEstimate(value: a.distinctSources.estimate, relativeStandardError: a.distinctSources.relativeStandardError),
                feed: CardinalityEstimate(value: f.sources.hyperLogLog.estimate, relativeStandardError: f.sources.hyperLogLog.relativeStandardError),
                union: CardinalityEstimate(value: union.estimate, relativeStandardError: union.relativeStandardError))
            sourcesOverlap = .init(exact: false, shared: estimate.shared.estimate, sensorOnly: estimate.sensorOnly.estimate,
                                   feedOnly: estimate.feedOnly.estimate, jaccard: estimate.jaccard?.estimate, bounds: estimate)
        }
        let sensorPortSet = Set(sensorPortTotals.keys)
        let sensorCountrySet = Set(sensorCountryTotals.keys.filter(\.isKnown).map(\.description))
        let feedCountrySet = Set(feedCountryTotals.keys.filter(\.isKnown).map(\.description))
        overlap = OverlapSection(sources: sourcesOverlap,
                                 ports: Overlap.exact(sensor: sensorPortSet, feed: f.ports),
                                 countries: Overlap.exact(sensor: sensorCountrySet, feed: feedCountrySet))

        // Locality.
        let sensorTargets: Set<String> = options.sensorCountry.isKnown ? [options.sensorCountry.description] : []
        let feedTargets = Set(feedTargetTotals.keys.filter(\.isKnown).map(\.description))
        var sensorOnlySources: [IPAddress] = []
        var feedOnlySources: [IPAddress] = []
        var sourceListsExact = false
        if a.exactSourcesComplete && a.config.exactSourceCap > 0 && f.sources.isExact {
            sourceListsExact = true
            sensorOnlySources = a.exactSources.subtracting(f.sources.exact).sorted()
            feedOnlySources = f.sources.exact.subtracting(a.exactSources).sorted()
        }
        locality = LocalitySection(
            sourcesListed: sourceListsExact,
            sensorOnlySources: Array(sensorOnlySources.prefix(options.listLimit).map(\.description)),
            sensorOnlySourceCount: sourceListsExact ? sensorOnlySources.count : nil,
            feedOnlySources: Array(feedOnlySources.prefix(options.listLimit).map(\.description)),
            feedOnlySourceCount: sourceListsExact ? feedOnlySources.count : nil,
            sensorOnlyPorts: Array(sensorPortSet.subtracting(f.ports).sorted { (sensorPortTotals[$0] ?? 0, $1) > (sensorPortTotals[$1] ?? 0, $0) }.prefix(options.listLimit)),
            feedOnlyPorts: Array(f.ports.subtracting(sensorPortSet).sorted { (feedPortTotals[$0] ?? 0, $1) > (feedPortTotals[$1] ?? 0, $0) }.prefix(options.listLimit)),
            feedOnlyTargetCountries: feedTargets.subtracting(sensorTargets).sorted(),
            sensorCountry: options.sensorCountry.isKnown ? options.sensorCountry.description : nil,
            singleTargetSources: f.singleTargetSources().prefix(options.listLimit).map {
                LocalitySection.SingleTarget(address: $0.address.description, country: $0.country.description, events: $0.events,
                                             seenBySensor: a.config.exactSourceCap > 0 ? a.exactSources.contains($0.address) : nil)
            },
            singleTargetSourceCount: f.singleTargetSources().count,
            incomplete: f.localityIncomplete)
    }

    /// First bucket start and bucket count covering both sides, nil when both are empty.
    static func grid(_ a: some Collection<Int64>, _ b: some Collection<Int64>, width: Int64) -> (first: Int64, count: Int)? {
        let all = Array(a) + Array(b)
        guard let lo = all.min(), let hi = all.max() else { return nil }
        let count = (hi - lo) / width + 1
        guard count <= Alignment.maximumBuckets else { return nil }
        return (lo, Int(count))
    }

    /// Adds the feed members to an analysis report.
    public func addMembers(to report: inout AnalysisReport) {
        let feed = self.feed, comparison = self.comparison, correlation = self.correlation
        let overlap = self.overlap, locality = self.locality
        report.extraMembers.append(("feed", { $0(StreamingJSON.encode(feed)) }))
        report.extraMembers.append(("comparison", { $0(StreamingJSON.encode(comparison)) }))
        report.extraMembers.append(("correlation", { StreamingJSON.writeArray(correlation, to: $0) }))
        report.extraMembers.append(("overlap", { $0(StreamingJSON.encode(overlap)) }))
        report.extraMembers.append(("locality", { $0(StreamingJSON.encode(locality)) }))
    }
}

/// Where a feed event's time comes from. A line without a time of its own (a NORSE line
/// without `timestamp`, a CSV without a time column) can only be stamped with the time it
/// was read: right for a live feed, wrong for a file read after the fact, where every such
/// event lands in the bucket of "now" (an older capture then spans years of empty buckets
/// and correlates with nothing). Offline, such events are therefore left out unless asked
/// for (`analyze --feed-time arrival`); the daemon, reading a live feed, stamps them.
public enum FeedTimeSource: String, Sendable, Codable, CaseIterable {
    /// The line's own time; events without one are refused for correlation.
    case event
    /// The line's own time, or the time it was read.
    case arrival

    /// Stands for "no time" in the reader's output: the reader is given a clock that
    /// returns it, so an event carrying it had no time of its own (no real event is dated
    /// 292 billion years BC).
    public static let undatedMarker = Int64.min
    public static let undatedClock: @Sendable () -> Int64 = { undatedMarker }

    /// The events to use under this policy, and how many had no time of their own:
    /// `event` drops them; `arrival` gives them `arrivalNs`.
    public func resolve(_ events: [FeedEvent], arrivalNs: Int64) -> (events: [FeedEvent], undated: UInt64) {
        var undated: UInt64 = 0
        var out: [FeedEvent] = []
        out.reserveCapacity(events.count)
        for var e in events {
            if e.timestampNs == FeedTimeSource.undatedMarker {
                undated += 1
                guard self == .arrival else { continue }
                e.timestampNs = arrivalNs
            }
            out.append(e)
        }
        return (out, undated)
    }
}

/// The feed side: import status and the feed's own tables.
public struct FeedSection: Codable, Sendable {
    public struct Bucket: Codable, Sendable { public var start: String; public var events: UInt64; public var sources: UInt64 }
    public struct Port: Codable, Sendable { public var port: UInt16; public var events: UInt64 }
    public struct Country: Codable, Sendable { public var country: String; public var events: UInt64 }

    public var status: FeedStatus
    public var events: UInt64
    public var sources: UInt64
    public var sourcesExact: Bool
    public var buckets: [Bucket]
    public var ports: [Port]
    public var countries: [Country]
    public var targetCountries: [Country]
    /// Where event times came from: the lines' own (`event`) or, for lines without one,
    /// the time they were read (`arrival`, asked for with `--feed-time arrival`).
    public var feedTime: FeedTimeSource = .event
    /// Events without a time of their own. With `feed_time` `event` they are left out of
    /// the series, the correlation and the alerts; with `arrival` they are in, stamped
    /// with the time they were read.
    public var undatedEvents: UInt64 = 0

    init(status: FeedStatus, series f: FeedSeries, targetTotals: [CountryCode: UInt64], listLimit: Int) {
        self.status = status
        events = f.events
        sources = UInt64(f.sources.count.rounded())
        sourcesExact = f.sources.isExact
        buckets = f.orderedBuckets.map { Bucket(start: RFC3339.format($0.startNs), events: $0.total, sources: UInt64($0.distinctSources.rounded())) }
        var portTotals: [UInt16: UInt64] = [:]
        var countryTotals: [CountryCode: UInt64] = [:]
        for b in f.orderedBuckets {
            for (p, n) in b.ports { portTotals[p, default: 0] += n }
            for (c, n) in b.sourceCountries { countryTotals[c, default: 0] += n }
        }
        ports = portTotals.map { Port(port: $0.key, events: $0.value) }.sorted { ($0.events, $1.port) > ($1.events, $0.port) }
        ports = Array(ports.prefix(listLimit * 2))
        countries = countryTotals.map { Country(country: $0.key.description, events: $0.value) }
            .sorted { ($0.events, $1.country) > ($1.events, $0.country) }
        targetCountries = targetTotals.map { Country(country: $0.key.description, events: $0.value) }
            .sorted { ($0.events, $1.country) > ($1.events, $0.country) }
    }

    enum CodingKeys: String, CodingKey {
        case status, events, sources, buckets, ports, countries
        case sourcesExact = "sources_exact"
        case targetCountries = "target_countries"
        case feedTime = "feed_time"
        case undatedEvents = "undated_events"
    }
}

/// Both sides side by side: per bucket, per port (protocol-agnostic), per source country.
public struct ComparisonSection: Codable, Sendable {
    public struct Bucket: Codable, Sendable {
        public var start: String
        public var sensorPackets: UInt64
        public var feedEvents: UInt64
        enum CodingKeys: String, CodingKey { case start; case sensorPackets = "sensor_packets"; case feedEvents = "feed_events" }
    }
    public struct Port: Codable, Sendable {
        public var port: UInt16
        public var sensorPackets: UInt64
        public var feedEvents: UInt64
        enum CodingKeys: String, CodingKey { case port; case sensorPackets = "sensor_packets"; case feedEvents = "feed_events" }
    }
    public struct Country: Codable, Sendable {
        public var country: String
        public var sensorPackets: UInt64
        public var feedEvents: UInt64
        enum CodingKeys: String, CodingKey { case country; case sensorPackets = "sensor_packets"; case feedEvents = "feed_events" }
    }

    public var bucketSeconds: Int64
    /// Every bucket of the common grid, zeros included.
    public var buckets: [Bucket]
    public var ports: [Port]
    public var countries: [Country]

    enum CodingKeys: String, CodingKey {
        case buckets, ports, countries
        case bucketSeconds = "bucket_seconds"
    }
}

public struct OverlapSection: Codable, Sendable {
    public struct Sources: Codable, Sendable {
        /// True when both sides kept every source address: the counts are exact.
        public var exact: Bool
        public var shared: Double
        public var sensorOnly: Double
        public var feedOnly: Double
        public var jaccard: Double?
        /// When estimated: each figure with its lower and upper bound (3 standard errors).
        public var bounds: EstimatedOverlap?

        enum CodingKeys: String, CodingKey {
            case exact, shared, jaccard, bounds
            case sensorOnly = "sensor_only"
            case feedOnly = "feed_only"
        }
    }

    public var sources: Sources
    public var ports: SetOverlap
    public var countries: SetOverlap
}

public struct LocalitySection: Codable, Sendable {
    public struct SingleTarget: Codable, Sendable {
        public var address: String
        public var country: String
        public var events: UInt64
        /// Whether the darknet saw this address as a source too (absent when the sensor's set was not kept).
        public var seenBySensor: Bool?
        enum CodingKeys: String, CodingKey { case address, country, events; case seenBySensor = "seen_by_sensor" }
    }

    /// True when the source lists below are complete (both sides kept every address).
    public var sourcesListed: Bool
    public var sensorOnlySources: [String]
    public var sensorOnlySourceCount: Int?
    public var feedOnlySources: [String]
    public var feedOnlySourceCount: Int?
    public var sensorOnlyPorts: [UInt16]
    public var feedOnlyPorts: [UInt16]
    /// Countries the feed's events target that the darknet (in `sensor_country`) does not cover.
    public var feedOnlyTargetCountries: [String]
    public var sensorCountry: String?
    /// Feed sources whose events all target one country (the study's Hong Kong case).
    public var singleTargetSources: [SingleTarget]
    public var singleTargetSourceCount: Int
    /// The feed's per-source target lists overflowed their cap somewhere.
    public var incomplete: Bool

    enum CodingKeys: String, CodingKey {
        case incomplete
        case sourcesListed = "sources_listed"
        case sensorOnlySources = "sensor_only_sources"
        case sensorOnlySourceCount = "sensor_only_source_count"
        case feedOnlySources = "feed_only_sources"
        case feedOnlySourceCount = "feed_only_source_count"
        case sensorOnlyPorts = "sensor_only_ports"
        case feedOnlyPorts = "feed_only_ports"
        case feedOnlyTargetCountries = "feed_only_target_countries"
        case sensorCountry = "sensor_country"
        case singleTargetSources = "single_target_sources"
        case singleTargetSourceCount = "single_target_source_count"
    }
}
