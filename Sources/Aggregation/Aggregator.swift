import Decoding

/// Aggregation settings; memory caps bound every table.
public struct AggregationConfig: Sendable, Equatable {
    /// Bucket length (default 60 s), aligned to multiples since the Unix epoch.
    public var bucketSeconds: Int64 = 60
    /// Shifts bucket boundaries (e.g. +32400 for +09:00 daily buckets).
    public var utcOffsetSeconds: Int64 = 0
    /// Rolling windows, in buckets (defaults: 1 h and 24 h of 60 s buckets).
    public var windowBuckets: [Int] = [60, 1440]
    /// Number of addresses the darknet covers, for Internet-wide rate estimates.
    public var darknetSize: UInt64 = 65_536
    /// Key for every hash of an attacker-chosen value. Fixed by default so a
    /// replay of the same file gives the same output; set per deployment.
    public var hashSeed = SeededHash(seed0: 0x6461_726B_6E65_7431, seed1: 0x5345_4E53_4F52_2D31)
    /// Space-Saving capacity for top sources (error ≤ packets / capacity).
    public var topSourceCapacity: Int = 8192
    /// Exact per-source detail entries (ports, destinations, classes, first/last seen).
    public var sourceDetailCapacity: Int = 1 << 16
    /// Slots of the distinct-pair table (8 bytes each).
    public var pairSlots: Int = 1 << 22
    /// Aggregate sources to /24 (IPv4) and /48 (IPv6) prefixes.
    public var aggregateSourcePrefixes: Bool = false
    /// Ports listed per bucket in the series (the busiest).
    public var seriesTopPorts: Int = 20
    /// Buckets kept in the series at most (oldest dropped first, and counted).
    public var maxSeriesBuckets: Int = 50_000
    public var scan = ScanDetector.Config()
    public var backscatter = BackscatterDetector.Config()

    public init() {}
}

/// What the aggregation side keeps about one source.
public struct SourceDetail: BoundedTableValue, Equatable {
    public var packets: UInt64 = 0
    public var firstSeenNs: Int64 = 0
    public var lastSeenNs: Int64 = 0
    /// Distinct (protocol, port/type) the source sent to.
    public var ports: UInt32 = 0
    /// Distinct darknet destinations.
    public var destinations: UInt32 = 0
    /// Bit i set: the source sent a packet of `TrafficClass(rawValue: i)`.
    public var classMask: UInt8 = 0
    /// TCP SYN probes, and how many of them matched each fingerprint.
    public var synPackets: UInt32 = 0
    public var zmapPackets: UInt32 = 0
    public var masscanPackets: UInt32 = 0
    public var miraiPackets: UInt32 = 0

    public init() {}
    public var evictionWeight: UInt64 { packets }

    /// The fingerprint that more than half of the source's SYN probes match
    /// (one matching packet by chance, e.g. an IP ID of 54321, is not enough).
    public var fingerprint: ScannerFingerprint {
        let best = max(zmapPackets, masscanPackets, miraiPackets)
        guard best > 0, UInt64(best) * 2 > UInt64(synPackets) else { return .none }
        return best == miraiPackets ? .mirai : best == masscanPackets ? .masscan : .zmap
    }

    @inline(__always)
    mutating func countSYN(_ f: ScannerFingerprint) {
        synPackets &+= 1
        switch f {
        case .zmap: zmapPackets &+= 1
        case .masscan: masscanPackets &+= 1
        case .mirai: miraiPackets &+= 1
        case .none: break
        }
    }

    public var classes: [TrafficClass] { TrafficClass.allCases.filter { classMask & (1 << $0.rawValue) != 0 } }
}

/// One closed time bucket: the series' unit.
public struct BucketSummary: Sendable, Equatable {
    public var startNs: Int64
    public var counters: PacketCounters
    public var classes: ClassCounts
    /// Distinct sources in the bucket (HyperLogLog, precision 12).
    public var sources: HyperLogLog
    /// The bucket's busiest ports, by descending packets.
    public var topPorts: [(key: ProtocolPort, packets: UInt64)]
    /// Ports with packets in the bucket.
    public var portCount: Int

    public static func == (a: BucketSummary, b: BucketSummary) -> Bool {
        a.startNs == b.startNs && a.counters == b.counters && a.classes == b.classes && a.sources == b.sources
            && a.portCount == b.portCount && a.topPorts.map(\.key) == b.topPorts.map(\.key)
            && a.topPorts.map(\.packets) == b.topPorts.map(\.packets)
    }
}

/// The consumer of packet records: classifies each one and updates every
/// aggregate. Per-interval state is closed into an immutable `BucketSummary`
/// at each bucket boundary (CAIDA corsaro3's model); whole-period tables
/// (ports, sources, countries, scans, backscatter) accumulate alongside.
/// The per-packet path allocates nothing: every table has a fixed capacity.
public struct Aggregator: Sendable {
    public let config: AggregationConfig
    public let buckets: TimeBuckets
    let hasher: SeededHash

    public private(set) var counters = PacketCounters()
    public private(set) var classes = ClassCounts()
    /// Packets per scanner fingerprint, indexed by raw value.
    public private(set) var fingerprints = [UInt64](repeating: 0, count: ScannerFingerprint.allCases.count)
    public private(set) var ports = PortTable()
    public private(set) var pairs: DistinctPairs
    public private(set) var topSources: SpaceSaving<IPAddress>
    public private(set) var sourceDetails: BoundedTable<IPAddress, SourceDetail>
    public private(set) var distinctSources = HyperLogLog(precision: 14)
    public private(set) var distinctDestinations = HyperLogLog(precision: 14)
    public private(set) var scans: ScanDetector
    public private(set) var backscatter: BackscatterDetector

    // The open bucket.
    public private(set) var currentBucket: Int64?
    var bucketCounters = PacketCounters()
    var bucketClasses = ClassCounts()
    var bucketSources = HyperLogLog(precision: 12)
    /// Packets whose time fell before the open bucket (counted in it).
    public private(set) var latePackets: UInt64 = 0

    /// Closed buckets, oldest first (without their sketches, to stay small).
    public private(set) var series: [SeriesPoint] = []
    public private(set) var seriesDropped: UInt64 = 0
    public private(set) var windows: [RollingWindow]

    public init(config: AggregationConfig = AggregationConfig()) {
        self.config = config
        self.buckets = TimeBuckets(lengthSeconds: config.bucketSeconds, utcOffsetSeconds: config.utcOffsetSeconds)
        self.hasher = config.hashSeed
        self.pairs = DistinctPairs(slots: config.pairSlots)
        self.topSources = SpaceSaving(capacity: config.topSourceCapacity)
        self.sourceDetails = BoundedTable(capacity: config.sourceDetailCapacity, hasher: config.hashSeed)
        self.scans = ScanDetector(config: config.scan, darknetSize: config.darknetSize, hasher: config.hashSeed)
        self.backscatter = BackscatterDetector(config: config.backscatter, darknetSize: config.darknetSize, hasher: config.hashSeed)
        self.windows = config.windowBuckets.map { RollingWindow(buckets: $0) }
    }

    /// Pair-table key spaces, so one table serves every distinct count.
    enum PairKind: UInt64 {
        case portSource = 1, portDestination = 2, sourceDestination = 3
    }

    public mutating func add(_ r: PacketRecord) {
        let bucket = buckets.index(of: r.timestampNs)
        if let open = currentBucket {
            if bucket > open {
                closeBucket()
                currentBucket = bucket
            } else if bucket < open {
                latePackets &+= 1
            }
        } else {
            currentBucket = bucket
        }
        counters.add(r)
        bucketCounters.add(r)
        guard r.status == .ok else { return }

        let source = config.aggregateSourcePrefixes ? Aggregator.prefix(of: r.source) : r.source
        let trafficClass = Classifier.classify(r)
        let fingerprint = Classifier.fingerprint(r)
        classes.add(trafficClass)
        bucketClasses.add(trafficClass)
        fingerprints[Int(fingerprint.rawValue)] &+= 1

        let sourceHash = hasher.hash(source)
        let destinationHash = hasher.hash(r.destination)
        distinctSources.insert(hash: sourceHash)
        bucketSources.insert(hash: sourceHash)
        distinctDestinations.insert(hash: destinationHash)
        topSources.add(source)

        var fresh = SourceDetail()
        fresh.firstSeenNs = r.timestampNs
        fresh.lastSeenNs = r.timestampNs
        let slot = sourceDetails.findOrInsert(source, initial: fresh).slot
        var detail = sourceDetails[slot: slot]
        detail.packets &+= 1
        if r.timestampNs < detail.firstSeenNs { detail.firstSeenNs = r.timestampNs }
        if r.timestampNs > detail.lastSeenNs { detail.lastSeenNs = r.timestampNs }
        detail.classMask |= 1 << trafficClass.rawValue
        if r.ipProtocol == IPProtocolNumber.tcp && r.tcpFlags & (TCPFlag.syn | TCPFlag.ack) == TCPFlag.syn {
            detail.countSYN(fingerprint)
        }

        var port: UInt16 = 0
        if let row = PortTable.rowIndex(r) {
            port = PortTable.key(ofRow: row).port
            ports.count(row: row, bytes: r.wireLength, trafficClass: trafficClass)
            if pairs.insert(hasher.hash(sourceHash, PairKind.portSource.rawValue << 32 | UInt64(row))) {
                ports.addSource(row: row)
                detail.ports &+= 1
            }
            if pairs.insert(hasher.hash(destinationHash, PairKind.portDestination.rawValue << 32 | UInt64(row))) {
                ports.addDestination(row: row)
            }
        }
        if pairs.insert(hasher.hash(sourceHash, destinationHash, PairKind.sourceDestination.rawValue)) {
            detail.destinations &+= 1
        }
        sourceDetails[slot: slot] = detail

        switch trafficClass {
        case .scan, .reflectionRecon:
            scans.observe(r, port: port, fingerprint: fingerprint, pairs: &pairs, hasher: hasher)
        case .backscatter:
            backscatter.observe(r)
        default:
            break
        }
    }

    /// /24 for IPv4, /48 for IPv6.
    static func prefix(of a: IPAddress) -> IPAddress {
        a.isIPv4 ? IPAddress(ipv4: a.ipv4 & 0xFFFF_FF00) : IPAddress(high: a.high & 0xFFFF_FFFF_FFFF_0000, low: 0)
    }

    /// Closes the open bucket into a summary (series, windows) and expires
    /// scan episodes and attacks that went silent.
    mutating func closeBucket() {
        guard let open = currentBucket else { return }
        let start = buckets.start(of: open)
        var touched = ports.takeBucket()
        touched.sort { $0.packets != $1.packets ? $0.packets > $1.packets : $0.key < $1.key }
        let summary = BucketSummary(startNs: start, counters: bucketCounters, classes: bucketClasses,
                                    sources: bucketSources, topPorts: Array(touched.prefix(config.seriesTopPorts)),
                                    portCount: touched.count)
        if series.count >= config.maxSeriesBuckets {
            series.removeFirst()
            seriesDropped &+= 1
        }
        series.append(SeriesPoint(summary))
        for i in windows.indices { windows[i].append(summary, bucketLengthNs: buckets.lengthNs) }
        bucketCounters = PacketCounters()
        bucketClasses = ClassCounts()
        bucketSources.reset()
        let end = start + buckets.lengthNs
        scans.expire(now: end)
        backscatter.expire(now: end)
        currentBucket = nil
    }

    /// Closes the open bucket: call once the input has ended.
    public mutating func finish() {
        closeBucket()
    }

    /// Top sources by packets with their detail (if still tracked).
    public func topSourceRows(_ n: Int) -> [(entry: SpaceSaving<IPAddress>.Entry, detail: SourceDetail?)] {
        topSources.top(n).map { ($0, sourceDetails[$0.key]) }
    }
}

/// A closed bucket as the series keeps it: figures only, the distinct-source
/// sketch reduced to its estimate.
public struct SeriesPoint: Sendable, Equatable {
    public var startNs: Int64
    public var counters: PacketCounters
    public var classes: ClassCounts
    public var sources: Double
    public var sourcesRelativeError: Double
    public var topPorts: [PortCount]
    public var portCount: Int

    public struct PortCount: Sendable, Equatable {
        public var key: ProtocolPort
        public var packets: UInt64
    }

    init(_ s: BucketSummary) {
        startNs = s.startNs
        counters = s.counters
        classes = s.classes
        sources = s.sources.estimate
        sourcesRelativeError = s.sources.relativeStandardError
        topPorts = s.topPorts.map { PortCount(key: $0.key, packets: $0.packets) }
        portCount = s.portCount
    }
}

/// The last N bucket summaries, merged on demand: a rolling window.
public struct RollingWindow: Sendable {
    public let capacity: Int
    public private(set) var summaries: [BucketSummary] = []

    public init(buckets: Int) {
        capacity = max(1, buckets)
    }

    /// Adds the newest summary and drops what is no longer among the last
    /// `capacity` buckets: by count, and, given the bucket length, by time --
    /// buckets without packets produce no summary, so after a gap fewer than
    /// `capacity` summaries may already reach further back than the window.
    mutating func append(_ s: BucketSummary, bucketLengthNs: Int64 = 0) {
        if bucketLengthNs > 0 {
            let oldest = s.startNs &- Int64(capacity - 1) &* bucketLengthNs
            summaries.removeAll { $0.startNs < oldest }
        }
        if summaries.count == capacity { summaries.removeFirst() }
        summaries.append(s)
    }

    /// Totals over the window.
    public func totals() -> (counters: PacketCounters, classes: ClassCounts, sources: HyperLogLog) {
        var counters = PacketCounters()
        var classes = ClassCounts()
        var sources = HyperLogLog(precision: 12)
        for s in summaries {
            counters.merge(s.counters)
            classes.merge(s.classes)
            sources.merge(s.sources)
        }
        return (counters, classes, sources)
    }
}
