import Decoding
import GeoIP
import Sketches

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
    /// Slots of the per-bucket pair table behind per-port distinct scan sources.
    public var bucketPairSlots: Int = 1 << 18
    /// Aggregate sources to /24 (IPv4) and /48 (IPv6) prefixes.
    public var aggregateSourcePrefixes: Bool = false
    /// Ports listed per bucket in the JSON series (the busiest).
    public var seriesTopPorts: Int = 20
    /// Ports kept per bucket summary (the busiest, plus every watched port).
    public var bucketPorts: Int = 64
    /// Busiest sources a closed bucket keeps (`BucketSummary.topSources`).
    public var bucketTopSources: Int = 20
    /// Ports whose scan sources are ranked per bucket (alerts name the top contributors):
    /// UDP 53 (DNS), 123 (NTP), 1900 (SSDP), 11211 (memcached), 389 (CLDAP), 19 (chargen), 161 (SNMP).
    public var watchedUDPPorts: [UInt16] = Aggregator.defaultWatched
    /// Buckets kept in the series at most (oldest dropped first, and counted).
    public var maxSeriesBuckets: Int = 50_000
    /// Keep the exact set of source addresses up to this many (0: off). Used
    /// to compare sources with a feed exactly; past the cap the comparison
    /// falls back to HyperLogLog estimates with bounds.
    public var exactSourceCap: Int = 0
    /// Closed summaries queued for `takeClosedBuckets` (0: none; the live
    /// daemon sets this; the oldest are dropped past it).
    public var closedBucketQueue: Int = 0
    public var scan = ScanDetector.Config()
    public var backscatter = BackscatterDetector.Config()
    /// Keep every per-packet exact table (`analyze --exact`): per-source
    /// distinct destinations from the pair table instead of a sketch in the
    /// source's entry, and top sources counted packet by packet instead of
    /// once per source and bucket. Slower; the oracle the sketches are
    /// checked against (docs/sketches.md).
    public var exact: Bool = false

    public init() {}
}

/// What the aggregation side keeps about one source.
public struct SourceDetail: BoundedTableValue, Equatable {
    public var packets: UInt64 = 0
    public var firstSeenNs: Int64 = 0
    public var lastSeenNs: Int64 = 0
    /// Distinct (protocol, port/type) the source sent to.
    public var ports: UInt32 = 0
    /// Distinct darknet destinations: `exactDestinations` in `--exact` mode,
    /// else the estimate of `destinationSketch` (docs/sketches.md).
    public var destinations: UInt32 {
        destinationSketch.isEmpty ? exactDestinations
            : UInt32(min(Double(UInt32.max), destinationSketch.estimate.rounded()))
    }
    /// Distinct darknet destinations from the pair table (`--exact` only).
    public var exactDestinations: UInt32 = 0
    /// The source's distinct destinations as a 64-byte sketch (default mode).
    public var destinationSketch = DestinationSketch()
    /// Low 32 bits of (open bucket index + 1) when the source was last counted
    /// in the per-bucket distinct-source sketches; 0: not yet.
    var bucketMark: UInt32 = 0
    /// Packets not yet added to the top-source summary (default mode: added
    /// once per source at each bucket close, or when the entry is evicted).
    var unflushedPackets: UInt32 = 0
    /// Port-table rows + 1 of the source's four latest new ports (0: empty):
    /// a packet to one of them skips the per-port distinct-source pair probe,
    /// which has already counted it.
    var recentRow0: UInt32 = 0
    var recentRow1: UInt32 = 0
    var recentRow2: UInt32 = 0
    var recentRow3: UInt32 = 0
    /// Port-table row + 1 whose per-bucket scan-source pair this source has
    /// already inserted in the bucket of `bucketMark`.
    var scanRowMark: UInt32 = 0
    /// Bit i set: the source sent a packet of `TrafficClass(rawValue: i)`.
    public var classMask: UInt8 = 0
    /// TCP SYN probes, and how many of them matched each fingerprint.
    public var synPackets: UInt32 = 0
    public var zmapPackets: UInt32 = 0
    public var masscanPackets: UInt32 = 0
    public var miraiPackets: UInt32 = 0
    /// `CountryTable` row of the source's country, looked up once when the
    /// source enters the table (the per-packet path then needs no GeoIP probe).
    public var countryRow: UInt16 = 0

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

    /// The tag of a port-table row in `recentRow*` and `scanRowMark` (0 is empty).
    @inline(__always)
    static func rowTag(_ row: Int) -> UInt32 { UInt32(truncatingIfNeeded: row &+ 1) }

    /// Whether `tag` is among the source's recent rows.
    @inline(__always)
    func hasRecentRow(_ tag: UInt32) -> Bool {
        recentRow0 == tag || recentRow1 == tag || recentRow2 == tag || recentRow3 == tag
    }

    /// True if `tag` is not among the recent rows, which then remember it
    /// (the oldest is forgotten).
    @inline(__always)
    mutating func rememberRow(_ tag: UInt32) -> Bool {
        if hasRecentRow(tag) { return false }
        recentRow3 = recentRow2
        recentRow2 = recentRow1
        recentRow1 = recentRow0
        recentRow0 = tag
        return true
    }
}

/// One closed time bucket: the series' unit, and what windows, correlation
/// and alerting consume. Immutable once made.
public struct BucketSummary: Sendable {
    public var startNs: Int64
    public var lengthNs: Int64
    public var counters: PacketCounters
    public var classes: ClassCounts
    /// Distinct sources in the bucket (HyperLogLog, precision 12).
    public var sources: HyperLogLog
    /// The bucket's busiest ports by descending packets, plus every watched port with packets.
    public var ports: [PortBucketFigures]
    /// Ports with packets in the bucket.
    public var portCount: Int
    /// Packets per source country in the bucket.
    public var countries: [(code: CountryCode, packets: UInt64)]
    /// Top scan sources of each watched port with traffic (≤ 5 each, Space-Saving counts).
    public var watchedTopSources: [UInt16: [(address: IPAddress, packets: UInt64)]]
    /// The bucket's busiest sources (at most `AggregationConfig.bucketTopSources`) by
    /// descending packets, then address: each source's packets in the bucket since
    /// it last entered the source table (exact for a source the table kept all
    /// bucket; a lower bound for one it evicted; docs/sketches.md).
    public var topSources: [(address: IPAddress, packets: UInt64)] = []
    /// Scan episodes and DoS attacks that first met their thresholds in this bucket.
    public var newScans: [ScanEpisode]
    public var newAttacks: [BackscatterAttack]
}

/// The consumer of packet records: classifies each one and updates every
/// aggregate. Per-interval state is closed into an immutable `BucketSummary`
/// at each bucket boundary (CAIDA corsaro3's model); whole-period tables
/// (ports, sources, countries, scans, backscatter) accumulate alongside.
/// The per-packet path allocates nothing: every table has a fixed capacity.
public struct Aggregator: Sendable {
    public internal(set) var config: AggregationConfig
    public let buckets: TimeBuckets
    let hasher: SeededHash

    /// Every packet so far: the closed buckets' counters plus the open one's.
    public var counters: PacketCounters {
        var c = closedCounters
        c.merge(bucketCounters)
        return c
    }
    /// Packets per class so far: closed buckets plus the open one.
    public var classes: ClassCounts {
        var c = closedClasses
        c.merge(bucketClasses)
        return c
    }
    /// Counters and classes of the closed buckets (the open bucket's are
    /// folded in when it closes: one set of counters a packet, not two).
    var closedCounters = PacketCounters()
    var closedClasses = ClassCounts()
    /// Packets per scanner fingerprint, indexed by raw value.
    public internal(set) var fingerprints = [UInt64](repeating: 0, count: ScannerFingerprint.allCases.count)
    public internal(set) var ports: PortTable
    public internal(set) var countries = CountryTable()
    /// Country of each source (through a cache); nil database: all unknown.
    public internal(set) var countryCache: CountryCache
    public internal(set) var pairs: DistinctPairs
    /// Distinct (source, port) pairs of the open bucket's scan traffic: small
    /// enough to stay in cache, cleared at every bucket boundary.
    public internal(set) var bucketPairs: DistinctPairs
    public internal(set) var topSources: SpaceSaving<IPAddress>
    public internal(set) var sourceDetails: BoundedTable<IPAddress, SourceDetail>
    public internal(set) var distinctSources = HyperLogLog(precision: 14)
    public internal(set) var distinctDestinations = HyperLogLog(precision: 14)
    /// Every source address while fewer than `exactSourceCap` (see `exactSourcesComplete`).
    public internal(set) var exactSources: Set<IPAddress> = []
    public internal(set) var exactSourcesComplete = true
    public internal(set) var scans: ScanDetector
    public internal(set) var backscatter: BackscatterDetector

    // The open bucket.
    public internal(set) var currentBucket: Int64?
    /// Shards merged into this aggregator (`Aggregator.merged`); 1 for one thread.
    public internal(set) var shards = 1
    /// The last bucket closed: a packet of it or an earlier one is late.
    public internal(set) var closedThrough: Int64?
    /// The open bucket's time range [start, end): a packet inside it needs no
    /// division to find its bucket. Empty (start > end) with no open bucket.
    var openStartNs: Int64 = .max
    var openEndNs: Int64 = .min
    /// Low 32 bits of (open bucket index + 1), for `SourceDetail.bucketMark`.
    var openMark: UInt32 = 0
    var bucketCounters = PacketCounters()
    var bucketClasses = ClassCounts()
    var bucketSources = HyperLogLog(precision: 12)
    var bucketWatched: SpaceSaving<AddressPort>
    let watchedPortMask: [Bool]
    /// Packets whose time fell before the open bucket (counted in it).
    public internal(set) var latePackets: UInt64 = 0
    /// Evictions of the per-bucket pair table, all buckets together.
    public internal(set) var bucketPairEvictions: UInt64 = 0

    /// Closed buckets, oldest first (without their sketches, to stay small).
    public internal(set) var series: [SeriesPoint] = []
    public internal(set) var seriesDropped: UInt64 = 0
    public internal(set) var windows: [RollingWindow]
    /// Summaries not yet taken by `takeClosedBuckets` (bounded: the oldest go first).
    var closedBuckets: [BucketSummary] = []

    public init(config: AggregationConfig = AggregationConfig(), geoip: GeoIPDatabase? = nil) {
        self.config = config
        self.countryCache = CountryCache(database: geoip)
        self.ports = PortTable(destinationSketches: !config.exact)
        self.buckets = TimeBuckets(lengthSeconds: config.bucketSeconds, utcOffsetSeconds: config.utcOffsetSeconds)
        self.hasher = config.hashSeed
        self.pairs = DistinctPairs(slots: config.pairSlots)
        self.bucketPairs = DistinctPairs(slots: config.bucketPairSlots)
        self.topSources = SpaceSaving(capacity: config.topSourceCapacity, hasher: config.hashSeed)
        self.sourceDetails = BoundedTable(capacity: config.sourceDetailCapacity, hasher: config.hashSeed)
        self.scans = ScanDetector(config: config.scan, darknetSize: config.darknetSize, hasher: config.hashSeed,
                                  exactDestinations: config.exact)
        self.backscatter = BackscatterDetector(config: config.backscatter, darknetSize: config.darknetSize, hasher: config.hashSeed)
        self.windows = config.windowBuckets.map { RollingWindow(buckets: $0) }
        self.bucketWatched = SpaceSaving(capacity: 512, hasher: config.hashSeed)
        self.watchedPortMask = Aggregator.watchedMask(config)
    }

    /// Pair-table key spaces, so one table serves every distinct count.
    enum PairKind: UInt64 {
        case portSource = 1, portDestination = 2, sourceDestination = 3, bucketScanSource = 5
    }

    /// What `add` derives from a record before touching any table; computed
    /// once per record, by `consume`'s prefetch stage or by `add(_:)`.
    struct RecordKeys: Sendable {
        var source: IPAddress = .zero
        var sourceHash: UInt64 = 0
        var destinationHash: UInt64 = 0
        /// `PortTable` row, or -1 when the record has no port or type.
        var row: Int = -1
        var trafficClass: TrafficClass = .other
    }

    @inline(__always)
    func keys(of r: PacketRecord) -> RecordKeys {
        let source = config.aggregateSourcePrefixes ? r.source.sourcePrefix : r.source
        return RecordKeys(source: source, sourceHash: hasher.hash(source), destinationHash: hasher.hash(r.destination),
                          row: PortTable.rowIndex(r) ?? -1, trafficClass: Classifier.classify(r))
    }

    public mutating func add(_ r: PacketRecord) {
        add(r, keys: r.status == .ok ? keys(of: r) : RecordKeys())
    }

    /// Finds the bucket of a packet outside the open bucket's range: opens
    /// the first bucket, closes the open one for a later packet, or counts a
    /// late packet (which is then counted in the open bucket).
    @inline(never)
    mutating func enterBucket(of timestampNs: Int64) {
        let bucket = buckets.index(of: timestampNs)
        if let open = currentBucket {
            if bucket > open {
                closeBucket()
                openBucket(bucket)
            } else {
                latePackets &+= 1
            }
        } else if let closed = closedThrough, bucket <= closed {
            // Its bucket was closed already (by the clock, `advance`): late,
            // counted in the bucket after the last one closed.
            latePackets &+= 1
            openBucket(closed &+ 1)
        } else {
            openBucket(bucket)
        }
    }

    mutating func openBucket(_ bucket: Int64) {
        currentBucket = bucket
        openStartNs = buckets.start(of: bucket)
        openEndNs = openStartNs &+ buckets.lengthNs
        openMark = UInt32(truncatingIfNeeded: bucket &+ 1)
        if openMark == 0 { openMark = 1 }
    }

    /// `add` with the record's keys already computed (only read when the record decoded).
    @inline(__always)
    mutating func add(_ r: PacketRecord, keys k: RecordKeys) {
        let time = r.timestampNs
        if time < openStartNs || time >= openEndNs { enterBucket(of: time) }
        bucketCounters.add(r)
        guard r.status == .ok else { return }

        let source = k.source
        let trafficClass = k.trafficClass
        let fingerprint = Classifier.fingerprint(r)
        bucketClasses.add(trafficClass)
        fingerprints[Int(fingerprint.rawValue)] &+= 1

        let sourceHash = k.sourceHash
        let destinationHash = k.destinationHash
        let exact = config.exact
        distinctDestinations.insert(hash: destinationHash)
        if exact {
            distinctSources.insert(hash: sourceHash)
            bucketSources.insert(hash: sourceHash)
            topSources.add(source, hash: sourceHash)
        }

        // Default mode: an evicted source's packets not yet in the top-source
        // summary go there now, unless it was a single-packet source (a
        // spoofed flood evicts one on almost every packet; what dropping them
        // costs a heavy source is in docs/sketches.md).
        let placed = sourceDetails.findOrInsert(source, hash: sourceHash, reportEviction: { !exact && $0 > 1 }) {
            var fresh = SourceDetail()
            fresh.firstSeenNs = time
            fresh.lastSeenNs = time
            return fresh
        }
        if let evicted = placed.evicted, evicted.value.unflushedPackets > 0 {
            topSources.add(evicted.key, count: UInt64(evicted.value.unflushedPackets))
        }
        let slot = placed.slot
        if placed.inserted {
            // A source new to the table: its country once, and one more distinct
            // source for that country (a source evicted and seen again counts again:
            // country sources overcount by at most the table's evictions).
            let row = CountryTable.rowIndex(countryCache.country(of: r.source))
            sourceDetails[slot: slot].countryRow = UInt16(row)
            countries.addSource(row: row)
        }
        let mark = openMark
        let firstInBucket = sourceDetails[slot: slot].bucketMark != mark
        if firstInBucket {
            // The source's first packet in this bucket (or since it entered the
            // table): the distinct-source sketches need it once a bucket, and
            // inserting the same hash again would change nothing.
            if !exact {
                distinctSources.insert(hash: sourceHash)
                bucketSources.insert(hash: sourceHash)
            }
            if config.exactSourceCap > 0 && exactSourcesComplete {
                if exactSources.count < config.exactSourceCap {
                    exactSources.insert(source)
                } else if !exactSources.contains(source) {
                    exactSourcesComplete = false
                }
            }
        }
        let isScan = trafficClass == .scan || trafficClass == .reflectionRecon
        let isSYN = r.ipProtocol == IPProtocolNumber.tcp && r.tcpFlags & (TCPFlag.syn | TCPFlag.ack) == TCPFlag.syn
        let rowTag = k.row >= 0 ? SourceDetail.rowTag(k.row) : 0
        // The source's entry changed in place, in one pass: it is 150 bytes,
        // and copying it out and back cost about 5 % of a packet (perf).
        let (newRow, newScanRow, countryRow) = sourceDetails.update(slot: slot) { d -> (Bool, Bool, UInt16) in
            if firstInBucket {
                d.bucketMark = mark
                d.scanRowMark = 0
            }
            d.packets &+= 1
            d.unflushedPackets &+= 1
            if time < d.firstSeenNs { d.firstSeenNs = time }
            if time > d.lastSeenNs { d.lastSeenNs = time }
            d.classMask |= 1 << trafficClass.rawValue
            if isSYN { d.countSYN(fingerprint) }
            var newRow = false, newScanRow = false
            if rowTag != 0 {
                // A port among the source's recent ones is already in the pair table.
                newRow = d.rememberRow(rowTag)
                if isScan && d.scanRowMark != rowTag {
                    // Per-bucket scan sources of a port: once a source and port
                    // a bucket (the mark only skips a pair already inserted).
                    d.scanRowMark = rowTag
                    newScanRow = true
                }
            }
            if !exact { d.destinationSketch.insert(hash: destinationHash) }
            return (newRow, newScanRow, d.countryRow)
        }

        var port: UInt16 = 0
        if k.row >= 0 {
            let row = k.row
            port = PortTable.key(ofRow: row).port
            ports.count(row: row, bytes: r.wireLength, trafficClass: trafficClass)
            if newRow && pairs.insert(portSourceKey(sourceHash, row)) {
                ports.addSource(row: row)
                sourceDetails.update(slot: slot) { $0.ports &+= 1 }
            }
            if exact {
                if pairs.insert(portDestinationKey(destinationHash, row)) { ports.addDestination(row: row) }
            } else {
                ports.insertDestination(row: row, hash: destinationHash)
            }
            if isScan {
                if newScanRow && bucketPairs.insert(bucketScanSourceKey(sourceHash, row)) {
                    ports.addBucketScanSource(row: row)
                }
                if r.ipProtocol == IPProtocolNumber.udp && watchedPortMask[Int(port)] {
                    bucketWatched.add(AddressPort(address: source, ipProtocol: r.ipProtocol, port: port))
                }
            }
        }
        if exact && pairs.insert(sourceDestinationKey(sourceHash, destinationHash)) {
            sourceDetails.update(slot: slot) { $0.exactDestinations &+= 1 }
        }
        countries.count(row: Int(countryRow), bytes: r.wireLength, trafficClass: trafficClass)

        switch trafficClass {
        case .scan, .reflectionRecon:
            scans.observe(r, port: port, fingerprint: fingerprint, destinationHash: destinationHash, pairs: &pairs, hasher: hasher)
        case .backscatter:
            backscatter.observe(r)
        default:
            break
        }
    }

    public static let defaultWatched: [UInt16] = [53, 123, 1900, 11211, 389, 19, 161]

    @inline(__always)
    func portSourceKey(_ sourceHash: UInt64, _ row: Int) -> UInt64 {
        hasher.hash(sourceHash, PairKind.portSource.rawValue << 32 | UInt64(row))
    }

    @inline(__always)
    func portDestinationKey(_ destinationHash: UInt64, _ row: Int) -> UInt64 {
        hasher.hash(destinationHash, PairKind.portDestination.rawValue << 32 | UInt64(row))
    }

    @inline(__always)
    func bucketScanSourceKey(_ sourceHash: UInt64, _ row: Int) -> UInt64 {
        hasher.hash(sourceHash, PairKind.bucketScanSource.rawValue << 32 | UInt64(row))
    }

    @inline(__always)
    func sourceDestinationKey(_ sourceHash: UInt64, _ destinationHash: UInt64) -> UInt64 {
        hasher.hash(sourceHash, destinationHash, PairKind.sourceDestination.rawValue)
    }

    /// Prefetches the table lines `add(r)` will need: the three distinct-pair
    /// sets, the source's detail and top-source entries, and its scan or
    /// backscatter state. Called `lookahead` records ahead, so those misses
    /// (tables keyed by attacker-chosen addresses, most of them larger than
    /// the caches) overlap instead of stalling one by one.
    /// Returns the record's keys, which `consume` hands to `add`.
    ///
    /// `mutating` although it only reads: called from the mutating `consume`,
    /// a non-mutating method made the compiler copy the whole 1,600-byte
    /// `Aggregator` for every record (one `memcpy` a packet in the release
    /// build; 547 → 516 ns a packet with it gone, docs/benchmarks.md).
    @inline(__always)
    mutating func prefetch(_ r: PacketRecord) -> RecordKeys {
        guard r.status == .ok else { return RecordKeys() }
        let k = keys(of: r)
        let sourceHash = k.sourceHash
        let destinationHash = k.destinationHash
        let trafficClass = k.trafficClass
        sourceDetails.prefetch(hash: sourceHash)
        if config.exact {
            pairs.prefetch(sourceDestinationKey(sourceHash, destinationHash))
            topSources.prefetch(hash: sourceHash)
        }
        if k.row >= 0 {
            let row = k.row
            ports.prefetch(row: row)
            if config.exact {
                pairs.prefetch(portSourceKey(sourceHash, row))
                pairs.prefetch(portDestinationKey(destinationHash, row))
            }
            if trafficClass == .scan || trafficClass == .reflectionRecon {
                bucketPairs.prefetch(bucketScanSourceKey(sourceHash, row))
                scans.prefetch(r, port: PortTable.key(ofRow: row).port)
            }
        }
        if trafficClass == .backscatter { backscatter.prefetch(r) }
        return k
    }

    /// The second, nearer prefetch: lines whose address depends on state the
    /// first prefetch brought in (a scan episode's destination pair is keyed
    /// by the episode's start time). A hint only: if the state changes before
    /// `add`, the prefetch was merely wasted.
    @inline(__always)
    mutating func prefetchDependent(_ r: PacketRecord, _ k: RecordKeys) {
        guard r.status == .ok, k.row >= 0 else { return }
        if !config.exact {
            // The per-port distinct-source pair is probed only for a port not
            // among the source's recent ones (its entry was prefetched earlier).
            let known = sourceDetails.slot(of: k.source, hash: k.sourceHash)
                .map { sourceDetails[slot: $0].hasRecentRow(SourceDetail.rowTag(k.row)) } ?? false
            if !known { pairs.prefetch(portSourceKey(k.sourceHash, k.row)) }
        }
        guard config.exact, k.trafficClass == .scan || k.trafficClass == .reflectionRecon else { return }
        scans.prefetchPair(r, port: PortTable.key(ofRow: k.row).port, destinationHash: k.destinationHash, pairs: pairs, hasher: hasher)
    }

    /// Records ahead of `add` that `consume` prefetches table lines for, and
    /// (`dependentLookahead`) lines that depend on those. At most 15: the
    /// keys wait in a ring of 16.
    static let lookahead = 12
    static let dependentLookahead = 6

    /// Every record of a run, with each record's table lines prefetched
    /// `lookahead` records before it is added.
    /// The keys computed by the prefetch stage wait in a ring of 16 on the
    /// stack (an `InlineArray`: no allocation) until their record is added.
    public mutating func consume(_ records: Span<PacketRecord>) {
        let n = records.count
        let ahead = Aggregator.lookahead, near = Aggregator.dependentLookahead
        var pending = InlineArray<16, RecordKeys>(repeating: RecordKeys())
        for i in 0..<min(ahead, n) { pending[i & 15] = prefetch(records[i]) }
        for i in 0..<min(near, n) { prefetchDependent(records[i], pending[i & 15]) }
        for j in 0..<n {
            if j + ahead < n { pending[(j + ahead) & 15] = prefetch(records[j + ahead]) }
            if j + near < n { prefetchDependent(records[j + near], pending[(j + near) & 15]) }
            add(records[j], keys: pending[j & 15])
        }
    }


    /// Closes the open bucket into a summary (series, windows) and expires
    /// scan episodes and attacks that went silent.
    mutating func closeBucket() {
        guard let open = currentBucket else { return }
        let bucketTop = closeSourceBucket()
        let start = buckets.start(of: open)
        let end = start + buckets.lengthNs
        let touched = ports.takeBucket()
        var watched: [UInt16: [(address: IPAddress, packets: UInt64)]] = [:]
        for entry in bucketWatched.top(bucketWatched.count) where (watched[entry.key.port]?.count ?? 0) < 5 {
            watched[entry.key.port, default: []].append((entry.key.address, entry.count))
        }
        bucketWatched.removeAll()
        scans.expire(now: end)
        backscatter.expire(now: end)
        let summary = BucketSummary(startNs: start, lengthNs: buckets.lengthNs, counters: bucketCounters, classes: bucketClasses,
                                    sources: bucketSources, ports: keptPorts(touched), portCount: touched.count,
                                    countries: countries.takeBucket(), watchedTopSources: watched, topSources: bucketTop,
                                    newScans: scans.takeNewlyQualified(), newAttacks: backscatter.takeNewlyQualified())
        record(summary)
        bucketCounters = PacketCounters()
        bucketClasses = ClassCounts()
        bucketSources.reset()
        bucketPairEvictions &+= bucketPairs.evictions
        bucketPairs.removeAll()
        currentBucket = nil
        closedThrough = open
        openStartNs = .max
        openEndNs = .min
    }

    /// The ports a summary keeps of those touched in its bucket: the
    /// `bucketPorts` busiest (ties: protocol, port), then every watched UDP
    /// port with packets. A shard keeps them all (`bucketPorts` = .max): the
    /// cut is made after its summaries are merged.
    func keptPorts(_ touched: [PortBucketFigures]) -> [PortBucketFigures] {
        Aggregator.keptPorts(touched, limit: config.bucketPorts, watched: watchedPortMask)
    }

    static func keptPorts(_ touched: [PortBucketFigures], limit: Int, watched: [Bool]) -> [PortBucketFigures] {
        var sorted = touched
        sorted.sort { $0.packets != $1.packets ? $0.packets > $1.packets : $0.key < $1.key }
        guard sorted.count > limit else { return sorted }
        var kept = Array(sorted.prefix(limit))
        for figures in sorted.dropFirst(limit)
        where figures.key.ipProtocol == IPProtocolNumber.udp && watched[Int(figures.key.port)] {
            kept.append(figures)
        }
        return kept
    }

    /// `watchedPortMask` of a configuration: true at each watched UDP port.
    static func watchedMask(_ config: AggregationConfig) -> [Bool] {
        var mask = [Bool](repeating: false, count: 65_536)
        for port in config.watchedUDPPorts { mask[Int(port)] = true }
        return mask
    }

    /// A closed bucket into the series, the windows, the queue of closed
    /// buckets and the closed counters.
    mutating func record(_ summary: BucketSummary) {
        if series.count >= config.maxSeriesBuckets {
            series.removeFirst()
            seriesDropped &+= 1
        }
        series.append(SeriesPoint(summary, topPorts: config.seriesTopPorts, watched: watchedPortMask))
        for i in windows.indices { windows[i].append(summary, bucketLengthNs: buckets.lengthNs) }
        if config.closedBucketQueue > 0 {
            if closedBuckets.count >= config.closedBucketQueue { closedBuckets.removeFirst() }
            closedBuckets.append(summary)
        }
        closedCounters.merge(summary.counters)
        closedClasses.merge(summary.classes)
    }

    /// The closing bucket's busiest sources. Default mode: also adds every
    /// source's packets of the closing bucket to the top-source summary, one
    /// weighted Space-Saving update per source and bucket instead of one per packet.
    mutating func closeSourceBucket() -> [(address: IPAddress, packets: UInt64)] {
        // One pass over the source table at bucket close: each source's packets
        // since the last close (`unflushedPackets`) are its packets in the bucket;
        // in sketch mode they also go to the whole-run top-source summary.
        var pending: [(IPAddress, UInt64)] = []
        var top = TopSelection(limit: config.bucketTopSources)
        let sketch = !config.exact
        sourceDetails.updateEach { key, detail in
            if detail.unflushedPackets > 0 {
                let packets = UInt64(detail.unflushedPackets)
                if sketch { pending.append((key, packets)) }
                top.offer(key, packets)
                detail.unflushedPackets = 0
            }
        }
        for (key, packets) in pending { topSources.add(key, count: packets) }
        return top.sorted
    }

    /// Bucket summaries closed since the last call, oldest first: what the
    /// daemon hands to correlation, alerting and the stats snapshot.
    public mutating func takeClosedBuckets() -> [BucketSummary] {
        defer { closedBuckets.removeAll(keepingCapacity: true) }
        return closedBuckets
    }

    /// Closes the open bucket if `now` is past its end: the clock's tick, so
    /// a quiet bucket still closes on time. With no bucket open, every bucket
    /// before `now`'s counts as passed: a packet of one of them arriving later
    /// is late (counted in the bucket after), as after a bucket closed, so a
    /// shard that passed a bucket by the clock never hands it in afterwards.
    public mutating func advance(to now: Int64) {
        let bucket = buckets.index(of: now)
        guard let open = currentBucket else {
            closedThrough = Swift.max(closedThrough ?? .min, bucket &- 1)
            return
        }
        guard bucket > open else { return }
        closeBucket()
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
    /// The bucket's busiest ports (`seriesTopPorts` of them), by descending packets.
    public var topPorts: [PortBucketFigures]
    /// Watched amplifier ports with packets that are not among `topPorts`.
    public var watchedPorts: [PortBucketFigures]
    public var portCount: Int
    public var countries: [CountryPackets]

    public struct CountryPackets: Sendable, Equatable {
        public var code: CountryCode
        public var packets: UInt64
    }

    /// `watched`: true at each watched UDP port (`Aggregator.watchedMask` of the configuration).
    init(_ s: BucketSummary, topPorts limit: Int, watched: [Bool]) {
        startNs = s.startNs
        counters = s.counters
        classes = s.classes
        sources = s.sources.estimate
        sourcesRelativeError = s.sources.relativeStandardError
        topPorts = Array(s.ports.prefix(limit))
        watchedPorts = s.ports.dropFirst(limit).filter {
            $0.key.ipProtocol == IPProtocolNumber.udp && watched[Int($0.key.port)]
        }
        portCount = s.portCount
        // The 64 busiest countries of the bucket (a bucket can touch all 677 rows).
        countries = s.countries.sorted { $0.packets != $1.packets ? $0.packets > $1.packets : $0.code < $1.code }
            .prefix(64).map { CountryPackets(code: $0.code, packets: $0.packets) }
    }
}

/// The last N bucket summaries, merged on demand: a rolling window.
public struct RollingWindow: Sendable {
    public let capacity: Int
    public internal(set) var summaries: [BucketSummary] = []

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

/// The `limit` largest (address, packets) offered, kept in one small array:
/// descending packets, then ascending address (the order a merge of shards'
/// lists reproduces).
struct TopSelection {
    let limit: Int
    private(set) var items: [(address: IPAddress, packets: UInt64)] = []

    init(limit: Int) { self.limit = max(0, limit) }

    static func before(_ a: (address: IPAddress, packets: UInt64), _ b: (address: IPAddress, packets: UInt64)) -> Bool {
        a.packets != b.packets ? a.packets > b.packets : a.address < b.address
    }

    mutating func offer(_ address: IPAddress, _ packets: UInt64) {
        guard limit > 0 else { return }
        let item = (address: address, packets: packets)
        if items.count < limit {
            items.append(item)
            return
        }
        // Replace the last in order if the new one comes before it.
        var worst = 0
        for i in 1..<items.count where Self.before(items[worst], items[i]) { worst = i }
        if Self.before(item, items[worst]) { items[worst] = item }
    }

    var sorted: [(address: IPAddress, packets: UInt64)] { items.sorted(by: Self.before) }
}
