import Correlation
import Decoding
import Fleet
import Foundation
import Interchange

/// `darknetd fleet report`: every sensor and feed of the fleet database over
/// one range, side by side (docs/fleet.md, "Fleet report"). Built from what
/// `BucketStore.readFleet` read; computes with the `Correlation` module the
/// single-sensor reports use, renders as text, JSON or HTML.
public struct FleetReport: Sendable, Encodable {
    public struct Options: Sendable, Equatable {
        /// Lagged correlation over −maxLag … +maxLag buckets.
        public var maxLag = 3
        /// A coefficient needs at least this many buckets where both series are non-zero.
        public var minOverlapBuckets = CorrelationReport.defaultMinOverlapBuckets
        public var topPorts = 20
        public var topCountries = 20
        /// Ports in the port × time heat map.
        public var heatMapPorts = 12
        /// Entries listed per locality list (counts are always complete).
        public var listLimit = 50
        /// Half-width of the HyperLogLog intervals, in standard errors.
        public var z = 3.0
        public init() {}
    }

    /// A network (sensor or feed) and what it covered.
    public struct Network: Sendable, Encodable {
        public struct Span: Sendable, Encodable {
            public var first: String
            public var last: String
            public var buckets: Int
        }
        public struct Sources: Sendable, Encodable {
            /// "exact" (a feed's distinct sources), "hyperloglog" (a sensor's merged
            /// registers), "none" (registers that do not merge).
            public var method: String
            public var estimate: Double?
            public var lower: Double?
            public var upper: Double?
            public var relativeStandardError: Double?
            /// Sources named by rows (a sensor's bucket top sources, watched-port tops and scans; a feed's all).
            public var named: Int

            enum CodingKeys: String, CodingKey {
                case method, estimate, lower, upper, named
                case relativeStandardError = "relative_standard_error"
            }
            public func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(method, forKey: .method)
                try c.encode(estimate, forKey: .estimate)
                try c.encode(lower, forKey: .lower)
                try c.encode(upper, forKey: .upper)
                try c.encode(relativeStandardError, forKey: .relativeStandardError)
                try c.encode(named, forKey: .named)
            }
        }
        public var name: String
        public var kind: String
        /// Packets (sensor) or the sum of event weights (feed) in the range.
        public var total: Double
        public var covered: [Span]
        /// Covered buckets with rows, and covered buckets without (shown as 0).
        public var bucketsWithData: Int
        public var zeroBuckets: Int
        public var sources: Sources
        /// Sensor: the lengths of its stored buckets, in seconds.
        public var storedBucketSeconds: [Int]

        enum CodingKeys: String, CodingKey {
            case name, kind, total, covered, sources
            case bucketsWithData = "buckets_with_data"
            case zeroBuckets = "zero_buckets"
            case storedBucketSeconds = "stored_bucket_seconds"
        }
    }

    /// One report bucket: each network's value in network order; null = not covered.
    public struct Row: Sendable, Encodable {
        public var start: String
        public var values: [Double?]
    }

    /// Two networks' series compared over the buckets both covered.
    public struct Pair: Sendable, Encodable {
        public var a: String
        public var b: String
        /// First and last bucket compared (the longest run both covered); nil when none.
        public var comparedFirst: String?
        public var comparedLast: String?
        /// Lag sign: positive when `b` leads. Nil when the two never covered a bucket together.
        public var correlation: SeriesCorrelation?

        enum CodingKeys: String, CodingKey {
            case a, b, correlation
            case comparedFirst = "compared_first"
            case comparedLast = "compared_last"
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(a, forKey: .a)
            try c.encode(b, forKey: .b)
            try c.encode(comparedFirst, forKey: .comparedFirst)
            try c.encode(comparedLast, forKey: .comparedLast)
            try c.encode(correlation, forKey: .correlation)
        }
    }

    /// A port or country: each network's count and its share of that network's total.
    public struct ShareRow: Sendable, Encodable {
        public var key: String
        public var counts: [Double]
        public var shares: [Double?]
    }

    /// The sources two networks share.
    public struct SourceOverlap: Sendable, Encodable {
        public var a: String
        public var b: String
        /// "hyperloglog" (two sensors: inclusion–exclusion over their merged registers),
        /// "exact" (two feeds), "bounds" (a sensor and a feed: no estimate, an interval).
        public var method: String
        public var shared: Double?
        /// The interval the shared count lies in (for "hyperloglog": when each of the
        /// three estimates is within z standard errors of its truth).
        public var sharedLower: Double
        /// Nil when nothing bounds it (no registers).
        public var sharedUpper: Double?
        public var aOnly: Double?
        public var bOnly: Double?
        public var jaccard: Double?
        /// Sources named by rows of both (exact; a lower bound of `shared`).
        public var namedShared: Int
        public var note: String

        enum CodingKeys: String, CodingKey {
            case a, b, method, shared, jaccard, note
            case sharedLower = "shared_lower"
            case sharedUpper = "shared_upper"
            case aOnly = "a_only"
            case bOnly = "b_only"
            case namedShared = "named_shared"
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(a, forKey: .a)
            try c.encode(b, forKey: .b)
            try c.encode(method, forKey: .method)
            try c.encode(shared, forKey: .shared)
            try c.encode(sharedLower, forKey: .sharedLower)
            try c.encode(sharedUpper, forKey: .sharedUpper)
            try c.encode(aOnly, forKey: .aOnly)
            try c.encode(bOnly, forKey: .bOnly)
            try c.encode(jaccard, forKey: .jaccard)
            try c.encode(namedShared, forKey: .namedShared)
            try c.encode(note, forKey: .note)
        }
    }

    /// What one network saw and no other network of the report did.
    public struct Locality: Sendable, Encodable {
        public struct Port: Sendable, Encodable {
            public var port: UInt16
            public var count: Double
        }
        public var network: String
        public var portCount: Int
        /// The busiest of them, at most `listLimit`.
        public var ports: [Port]
        /// Feeds only: sources in no other feed and named by no sensor; nil for a sensor.
        public var sourceCount: Int?
        public var sources: [String]

        enum CodingKeys: String, CodingKey {
            case network, ports, sources
            case portCount = "port_count"
            case sourceCount = "source_count"
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(network, forKey: .network)
            try c.encode(portCount, forKey: .portCount)
            try c.encode(ports, forKey: .ports)
            try c.encode(sourceCount, forKey: .sourceCount)
            try c.encode(sources, forKey: .sources)
        }
    }

    public struct Alert: Sendable, Encodable {
        public var sensor: String
        public var time: String
        public var rule: String
        public var severity: String
        public var key: String
        public var port: Int?
        public var address: String?
        public var message: String

        enum CodingKeys: String, CodingKey { case sensor, time, rule, severity, key, port, address, message }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(sensor, forKey: .sensor)
            try c.encode(time, forKey: .time)
            try c.encode(rule, forKey: .rule)
            try c.encode(severity, forKey: .severity)
            try c.encode(key, forKey: .key)
            try c.encode(port, forKey: .port)
            try c.encode(address, forKey: .address)
            try c.encode(message, forKey: .message)
        }
    }

    /// The port × time heat map: `values[network][port][bucket]`, null where the
    /// network did not cover the bucket.
    public struct HeatMap: Sendable, Encodable {
        public var ports: [UInt16]
        public var values: [[[Double?]]]
    }

    public var from: String
    public var to: String
    public var bucketSeconds: Int64
    public var networks: [Network]
    public var buckets: [Row]
    public var correlation: [Pair]
    public var ports: [ShareRow]
    public var countries: [ShareRow]
    public var heatMap: HeatMap
    public var overlap: [SourceOverlap]
    public var locality: [Locality]
    public var alerts: [Alert]
    public var alertCount: Int
    public var minOverlapBuckets: Int
    public var maxLag: Int
    public var notes: [String]

    enum CodingKeys: String, CodingKey {
        case from, to, networks, buckets, correlation, ports, countries, overlap, locality, alerts, notes
        case bucketSeconds = "bucket_seconds"
        case heatMap = "heat_map"
        case alertCount = "alert_count"
        case minOverlapBuckets = "min_overlap_buckets"
        case maxLag = "max_lag"
    }

    /// The hash-key caveat every report carries when two sensors' registers are merged.
    public static let hashKeyNote = "Distinct sources of two sensors are estimated by merging their HyperLogLog registers, which is meaningful only when both sensors hash with the same key (aggregation.hash_seed); the database does not record the key, so this report assumes it is shared."
    public static let missingNote = "Missing and zero: a network covers the buckets from its first to its last stored bucket in the range (a sensor writes no bucket without packets, so a gap inside is 0) or, for a feed, each import's first to last event; outside that the bucket is missing (\"-\", null) and left out of every comparison."

    /// The heat map's ports for `data` (what `BucketStore.readPortSeries` is asked for).
    public static func heatMapPorts(_ data: FleetData, options: Options) -> [UInt16] {
        rankByShares(data.networks.map(\.ports), totals: data.networks.map(\.total), count: options.heatMapPorts)
    }

    /// Keys by the sum of their shares of each network's total (each network weighs
    /// the same whatever its scale), ties by key.
    static func rankByShares<Key: Hashable & Comparable>(_ counts: [[Key: Double]], totals: [Double], count: Int) -> [Key] {
        var score: [Key: Double] = [:]
        for (i, table) in counts.enumerated() {
            for (key, value) in table { score[key, default: 0] += totals[i] > 0 ? value / totals[i] : 0 }
        }
        return score.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(count).map(\.key)
    }

    public init(data: FleetData, portSeries: [[UInt16: [Int64: Double]]], options: Options = Options()) {
        let q = data.query
        let width = q.bucketSeconds
        let nets = data.networks
        func time(_ bucket: Int64) -> String { RFC3339.format(bucket * width * 1_000_000_000) }
        from = RFC3339.format(q.fromSeconds * 1_000_000_000)
        to = RFC3339.format(q.toSeconds * 1_000_000_000)
        bucketSeconds = width
        maxLag = options.maxLag
        minOverlapBuckets = options.minOverlapBuckets
        let grid = Array(q.firstBucket..<q.endBucket)

        // Networks.
        networks = nets.map { n in
            let coveredBuckets = n.covered.reduce(0) { $0 + Int($1.upperBound - $1.lowerBound + 1) }
            let withData = n.series.keys.filter { n.isCovered($0) }.count
            let sources: Network.Sources
            switch n.kind {
            case .feed:
                let count = Double(n.namedSources.count)
                sources = .init(method: "exact", estimate: count, lower: count, upper: count, relativeStandardError: 0, named: n.namedSources.count)
            case .sensor:
                if let sketch = n.sourceSketch {
                    let e = CardinalityEstimate(value: sketch.estimate, relativeStandardError: sketch.relativeStandardError)
                    let h = Overlap.halfWidth(e, z: options.z)
                    sources = .init(method: "hyperloglog", estimate: e.value, lower: max(Double(n.namedSources.count), e.value - h),
                                    upper: e.value + h, relativeStandardError: e.relativeStandardError, named: n.namedSources.count)
                } else {
                    sources = .init(method: "none", estimate: nil, lower: Double(n.namedSources.count), upper: nil,
                                    relativeStandardError: nil, named: n.namedSources.count)
                }
            }
            return Network(name: n.name, kind: n.kind.rawValue, total: n.total,
                           covered: n.covered.map { .init(first: time($0.lowerBound), last: time($0.upperBound), buckets: Int($0.upperBound - $0.lowerBound + 1)) },
                           bucketsWithData: withData, zeroBuckets: coveredBuckets - withData, sources: sources,
                           storedBucketSeconds: n.storedBucketSeconds.sorted())
        }

        // Series side by side.
        func value(_ n: FleetNetworkData, _ bucket: Int64) -> Double? { n.isCovered(bucket) ? (n.series[bucket] ?? 0) : nil }
        buckets = grid.map { b in Row(start: time(b), values: nets.map { value($0, b) }) }

        // Pairwise correlation over the longest run of buckets both covered.
        var pairs: [Pair] = []
        for i in nets.indices {
            for j in nets.indices where j > i {
                let a = nets[i], b = nets[j]
                var best: (Int64, Int)? = nil
                var runStart: Int64? = nil
                for bucket in grid + [q.endBucket] {
                    let both = bucket < q.endBucket && a.isCovered(bucket) && b.isCovered(bucket)
                    if both, runStart == nil { runStart = bucket }
                    if !both, let start = runStart {
                        let length = Int(bucket - start)
                        if length > (best?.1 ?? 0) { best = (start, length) }
                        runStart = nil
                    }
                }
                guard let (first, count) = best else {
                    pairs.append(Pair(a: a.name, b: b.name, comparedFirst: nil, comparedLast: nil, correlation: nil))
                    continue
                }
                let ns = width * 1_000_000_000
                func keyed(_ s: [Int64: Double]) -> [Int64: Double] {
                    Dictionary(uniqueKeysWithValues: s.map { ($0.key * ns, $0.value) })
                }
                let pair = try? Alignment.align(sensor: keyed(a.series), feed: keyed(b.series), bucketWidthNs: ns, first: first * ns, count: count)
                pairs.append(Pair(a: a.name, b: b.name, comparedFirst: time(first), comparedLast: time(first + Int64(count) - 1),
                                  correlation: pair.map { CorrelationReport.series("total", pair: $0, maxLag: options.maxLag, minOverlap: options.minOverlapBuckets) }))
            }
        }
        correlation = pairs

        // Ports and countries with each network's share.
        let totals = nets.map(\.total)
        func shareRows<Key: Hashable & Comparable>(_ tables: [[Key: Double]], top: Int, name: (Key) -> String) -> [ShareRow] {
            Self.rankByShares(tables, totals: totals, count: top).map { key in
                let counts = tables.map { $0[key] ?? 0 }
                return ShareRow(key: name(key), counts: counts, shares: counts.indices.map { totals[$0] > 0 ? counts[$0] / totals[$0] : nil })
            }
        }
        ports = shareRows(nets.map(\.ports), top: options.topPorts, name: { String($0) })
        countries = shareRows(nets.map(\.countries), top: options.topCountries, name: { $0 })

        let mapPorts = Self.heatMapPorts(data, options: options)
        heatMap = HeatMap(ports: mapPorts, values: nets.indices.map { i in
            mapPorts.map { port in
                grid.map { b in nets[i].isCovered(b) ? ((i < portSeries.count ? portSeries[i][port]?[b] : nil) ?? 0) : nil }
            }
        })

        // Overlap of sources, every pair.
        var overlaps: [SourceOverlap] = []
        for i in nets.indices {
            for j in nets.indices where j > i {
                overlaps.append(Self.sourceOverlap(nets[i], nets[j], z: options.z))
            }
        }
        overlap = overlaps

        // Locality: ports (every network) and sources (feeds, exact).
        var local: [Locality] = []
        for (i, n) in nets.enumerated() {
            var others = Set<UInt16>()
            for (j, m) in nets.enumerated() where j != i { others.formUnion(m.ports.filter { $0.value > 0 }.keys) }
            let only = n.ports.filter { $0.value > 0 && !others.contains($0.key) }
                .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            var sourceCount: Int?
            var sources: [String] = []
            if n.kind == .feed {
                var seen = Set<String>()
                for (j, m) in nets.enumerated() where j != i { seen.formUnion(m.namedSources) }
                let alone = n.namedSources.subtracting(seen)
                sourceCount = alone.count
                sources = alone.map { (IPAddress($0), $0) }
                    .sorted { a, b in
                        switch (a.0, b.0) {
                        case let (x?, y?): return x < y
                        case (nil, nil): return a.1 < b.1
                        case (nil, _): return false
                        case (_, nil): return true
                        }
                    }
                    .prefix(options.listLimit).map(\.1)
            }
            local.append(Locality(network: n.name, portCount: only.count,
                                  ports: only.prefix(options.listLimit).map { .init(port: $0.key, count: $0.value) },
                                  sourceCount: sourceCount, sources: sources))
        }
        locality = local

        alerts = data.alerts.map {
            Alert(sensor: $0.sensor, time: RFC3339.format($0.timeMicroseconds * 1000), rule: $0.rule, severity: $0.severity,
                  key: $0.key, port: $0.port, address: $0.address, message: $0.message)
        }
        alertCount = data.alertCount

        var notes = [Self.missingNote]
        if nets.filter({ $0.kind == .sensor }).count >= 2 { notes.append(Self.hashKeyNote) }
        if nets.contains(where: { $0.kind == .sensor }) {
            notes.append("A sensor's ports are the ones its buckets kept (the busiest of each bucket, aggregation.bucket_ports, and its watched UDP ports): a port \"seen by one network only\" may have reached another sensor below that cap.")
        }
        if nets.contains(where: { $0.kind == .sensor }) && nets.contains(where: { $0.kind == .feed }) {
            notes.append("A sensor and a feed: the sensor's sources are stored only as HyperLogLog registers of its keyed hash, which the report cannot apply to the feed's addresses without the sensor's key (not in the database); the shared count is therefore an interval: at least the feed's sources the sensor's rows name (each bucket's top sources, watched-port tops, scan episodes), at most the smaller of the feed's count and the sensor's upper estimate. For the same reason a feed source \"seen by no other network\" means: in no other feed and named by no sensor.")
        }
        if data.alertCount > data.alerts.count {
            notes.append("\(data.alertCount) alerts in the range; the first \(data.alerts.count) are listed.")
        }
        self.notes = notes
    }

    /// The overlap of two networks' sources, by the most exact method their storage allows.
    static func sourceOverlap(_ a: FleetNetworkData, _ b: FleetNetworkData, z: Double) -> SourceOverlap {
        let named = a.namedSources.count <= b.namedSources.count
            ? a.namedSources.reduce(0) { $0 + (b.namedSources.contains($1) ? 1 : 0) }
            : b.namedSources.reduce(0) { $0 + (a.namedSources.contains($1) ? 1 : 0) }
        switch (a.kind, b.kind) {
        case (.feed, .feed):
            let exact = Overlap.exact(sensor: a.namedSources, feed: b.namedSources)
            return SourceOverlap(a: a.name, b: b.name, method: "exact", shared: Double(exact.shared), sharedLower: Double(exact.shared),
                                 sharedUpper: Double(exact.shared), aOnly: Double(exact.sensorOnly), bOnly: Double(exact.feedOnly),
                                 jaccard: exact.jaccard, namedShared: named, note: "exact: the feeds' distinct sources")
        case (.sensor, .sensor):
            guard let sa = a.sourceSketch, let sb = b.sourceSketch, sa.precision == sb.precision else {
                let uppers = [a.sourceSketch, b.sourceSketch].compactMap { $0 }.map { sketch in
                    let e = CardinalityEstimate(value: sketch.estimate, relativeStandardError: sketch.relativeStandardError)
                    return e.value + Overlap.halfWidth(e, z: z)
                }
                return SourceOverlap(a: a.name, b: b.name, method: "bounds", shared: nil, sharedLower: Double(named),
                                     sharedUpper: uppers.min().map { max($0, Double(named)) },
                                     aOnly: nil, bOnly: nil, jaccard: nil, namedShared: named,
                                     note: "the sensors' registers do not merge (none stored, or different precisions): at least the sources both name")
            }
            var union = sa
            union.merge(sb)
            let e = Overlap.estimated(sensor: CardinalityEstimate(value: sa.estimate, relativeStandardError: sa.relativeStandardError),
                                      feed: CardinalityEstimate(value: sb.estimate, relativeStandardError: sb.relativeStandardError),
                                      union: CardinalityEstimate(value: union.estimate, relativeStandardError: union.relativeStandardError), z: z)
            let lower = max(e.shared.lower, Double(named))
            let upper = max(lower, e.shared.upper)
            return SourceOverlap(a: a.name, b: b.name, method: "hyperloglog", shared: min(upper, max(lower, e.shared.estimate)),
                                 sharedLower: lower, sharedUpper: upper, aOnly: e.sensorOnly.estimate, bOnly: e.feedOnly.estimate,
                                 jaccard: e.jaccard?.estimate, namedShared: named,
                                 note: String(format: "HyperLogLog inclusion–exclusion |A| + |B| − |A ∪ B|, interval at z = %.0f standard errors (%.1f%% each); valid only if both sensors share aggregation.hash_seed", z,
                                              sa.relativeStandardError * 100))
        default:
            let (sensor, feed) = a.kind == .sensor ? (a, b) : (b, a)
            var upper = Double(feed.namedSources.count)
            if let sketch = sensor.sourceSketch {
                let e = CardinalityEstimate(value: sketch.estimate, relativeStandardError: sketch.relativeStandardError)
                upper = min(upper, e.value + Overlap.halfWidth(e, z: z))
            }
            upper = max(upper, Double(named))
            return SourceOverlap(a: a.name, b: b.name, method: "bounds", shared: nil, sharedLower: Double(named), sharedUpper: upper,
                                 aOnly: nil, bOnly: nil, jaccard: nil, namedShared: named,
                                 note: "a sensor and a feed: at least the feed's sources the sensor's rows name, at most min(feed sources, the sensor's upper estimate); the sensor's hash key is not in the database")
        }
    }

    public func json() -> String { StreamingJSON.encode(self) + "\n" }
}
