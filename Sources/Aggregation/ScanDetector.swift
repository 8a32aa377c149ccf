import Decoding
import Sketches

/// Scan episodes after Durumeric et al., "An Internet-Wide View of
/// Internet-Wide Scanning" (USENIX Security 2014): a source that reaches at
/// least `minDestinations` distinct darknet addresses on one protocol/port,
/// at an estimated Internet-wide rate of at least `minInternetRate`
/// packets/s; the episode ends after `timeout` of silence.
///
/// Estimated Internet-wide rate = observed rate × 2³² / darknet size (IPv4
/// address space over the darknet's addresses). Observed rate = packets /
/// episode duration (at least one second).
///
/// Distinct destinations: in `--exact` mode each (episode, destination) pair
/// goes through the aggregator's pair table (exact while it has not
/// evicted); by default each episode counts them in a `DestinationSketch`
/// inside its own state, so a scan packet touches no table line beyond its
/// episode's (docs/sketches.md gives the error at the threshold).
public struct ScanDetector: Sendable {
    public struct Config: Sendable, Equatable {
        public var minDestinations: UInt32 = 100
        public var timeoutSeconds: Int64 = 480
        public var minInternetRate: Double = 10
        /// Candidate (source, protocol, port) states kept at once.
        public var capacity: Int = 1 << 16
        /// Finished episodes kept for the report (the count goes on).
        public var maxEpisodes: Int = 10_000
        public init() {}
    }

    struct State: BoundedTableValue {
        var first: Int64 = 0
        var last: Int64 = 0
        var packets: UInt64 = 0
        var destinations: UInt32 = 0
        var fingerprint: ScannerFingerprint = .none
        /// Reported as newly qualified already.
        var announced = false
        /// Sketch mode: registers of `destinationSketch` that are not zero.
        var occupiedRegisters: UInt8 = 0
        /// `--exact` mode: names the episode in the pair table, a hash of its
        /// source, protocol/port and start time, computed once when it starts.
        var episodeHash: UInt64 = 0
        /// Sketch mode: the episode's distinct destinations.
        var destinationSketch = DestinationSketch()
        init() {}
        var evictionWeight: UInt64 { UInt64(destinations) << 32 | min(packets, 0xFFFF_FFFF) }

        /// Sketch mode: the distinct destinations the sketch gives now, by
        /// linear counting over the occupied registers while that is the
        /// better estimator (at most `DestinationSketch.linearCountingRegisters`
        /// occupied), else by the sketch's own estimator.
        var sketchedDestinations: UInt32 {
            let occupied = Int(occupiedRegisters)
            if occupied <= DestinationSketch.linearCountingRegisters { return DestinationSketch.linearCounts[occupied] }
            return UInt32(min(Double(UInt32.max), destinationSketch.estimate.rounded()))
        }

        /// Distinct destinations. Exact mode: the pair table's count. Sketch
        /// mode: `destinations` (kept up to date while linear counting applies),
        /// past that `sketchedDestinations`; never more than the packets, which
        /// bound the true count (an estimate can overshoot them).
        var destinationCount: UInt32 {
            let count = Int(occupiedRegisters) > DestinationSketch.linearCountingRegisters ? sketchedDestinations : destinations
            return UInt32(min(UInt64(count), packets))
        }
    }

    public let config: Config
    /// Relative standard error of an episode's destinations in the default
    /// mode, at most: linear counting's over 128 registers is 7.2 % at 100
    /// destinations and 10.4 % at 320, where the sketch's own estimator (9.2 %)
    /// takes over (docs/sketches.md).
    public static let destinationRelativeStandardError = 0.104
    /// Count destinations through the pair table (`--exact`) rather than a
    /// sketch in each episode's state.
    public let exactDestinations: Bool
    let darknetSize: UInt64
    var table: BoundedTable<AddressPort, State>
    public internal(set) var episodes: [ScanEpisode] = []
    /// Episodes found, including those beyond `maxEpisodes`: counted when an
    /// episode first meets the thresholds (the moment it is reported in
    /// `BucketSummary.newScans` and may raise an alert), not when it ends, so
    /// the count agrees with the alerts while the episodes are still going on.
    public internal(set) var episodeCount: UInt64 = 0
    /// Episodes that met the thresholds since the last `takeNewlyQualified`.
    var newlyQualified: [ScanEpisode] = []

    mutating func takeNewlyQualified() -> [ScanEpisode] {
        defer { newlyQualified.removeAll() }
        return newlyQualified
    }

    /// Candidates pushed out of the table before they finished.
    public var evictions: UInt64 { table.evictions }
    /// Candidates the table holds at most (summed over merged shards).
    public var capacity: Int { table.capacity }

    public init(config: Config, darknetSize: UInt64, hasher: SeededHash, exactDestinations: Bool) {
        self.config = config
        self.exactDestinations = exactDestinations
        self.darknetSize = max(1, darknetSize)
        self.table = BoundedTable(capacity: config.capacity, hasher: hasher)
    }

    /// Prefetches the state `observe(r, port:)` will read.
    @inline(__always)
    func prefetch(_ r: PacketRecord, port: UInt16) {
        table.prefetch(hash: table.hasher.hash(AddressPort(address: r.source, ipProtocol: r.ipProtocol, port: port)))
    }

    /// The episode's name in the pair table: its source, protocol/port and
    /// start time, hashed once when the episode starts.
    @inline(__always)
    func episodeHash(_ r: PacketRecord, port: UInt16, first: Int64, hasher: SeededHash) -> UInt64 {
        hasher.hash(hasher.hash(r.source), UInt64(bitPattern: first), UInt64(r.ipProtocol) << 16 | UInt64(port))
    }

    /// `--exact` mode: prefetches the destination pair `observe` will insert,
    /// if the episode's state is already in the table (a hint: see
    /// `Aggregator.prefetchDependent`).
    @inline(__always)
    func prefetchPair(_ r: PacketRecord, port: UInt16, destinationHash: UInt64, pairs: DistinctPairs, hasher: SeededHash) {
        let key = AddressPort(address: r.source, ipProtocol: r.ipProtocol, port: port)
        let hash = table.hasher.hash(key)
        guard let slot = table.slot(of: key, hash: hash) else {
            // A new episode: it will start at this packet.
            pairs.prefetch(hasher.hash(episodeHash(r, port: port, first: r.timestampNs, hasher: hasher), destinationHash))
            return
        }
        pairs.prefetch(hasher.hash(table[slot: slot].episodeHash, destinationHash))
    }

    /// Counts a scan-like packet (scan or reflection-recon class);
    /// `destinationHash` is the seeded hash of its destination by `hasher`.
    @inline(__always)
    mutating func observe(_ r: PacketRecord, port: UInt16, fingerprint: ScannerFingerprint, destinationHash: UInt64,
                          pairs: inout DistinctPairs, hasher: SeededHash) {
        let key = AddressPort(address: r.source, ipProtocol: r.ipProtocol, port: port)
        var fresh = State()
        fresh.first = r.timestampNs
        fresh.last = r.timestampNs
        // An evicted candidate matters only if it may qualify: its weight's
        // high half is its destination count.
        let minDestinations32 = config.minDestinations
        let minDestinations = UInt64(minDestinations32)
        let result = table.findOrInsert(key, hash: table.hasher.hash(key), initial: fresh,
                                        reportEviction: { $0 >> 32 >= minDestinations })
        if let evicted = result.evicted { close(evicted.key, evicted.value, ongoing: false) }
        let slot = result.slot
        let time = r.timestampNs
        if !result.inserted && time - table[slot: slot].last > config.timeoutSeconds * 1_000_000_000 {
            close(key, table[slot: slot], ongoing: false)
            table[slot: slot] = fresh
        }
        // The episode's start time is part of its name in the pair table, so a
        // new episode of the same key (after a timeout, an expiry at a bucket
        // boundary, or an eviction from this table) counts its destinations
        // afresh instead of finding the previous episode's pairs.
        let exact = exactDestinations
        let starting = exact && table[slot: slot].packets == 0
        let name = starting ? episodeHash(r, port: port, first: table[slot: slot].first, hasher: hasher) : 0
        // The state changed in place (no copy out and back).
        let reachedThreshold = table.update(slot: slot) { state -> Bool in
            if starting { state.episodeHash = name }
            state.packets &+= 1
            if time > state.last { state.last = time }
            if fingerprint != .none { state.fingerprint = fingerprint }
            if exact {
                if pairs.insert(hasher.hash(state.episodeHash, destinationHash)) { state.destinations &+= 1 }
            } else {
                let change = state.destinationSketch.insertReportingChange(hash: destinationHash)
                if change == .filled { state.occupiedRegisters &+= 1 }
                // In linear counting's range the count is a table lookup; past it
                // only an unannounced episode needs the sketch's estimate (once
                // per register change, which grows rarer as the count grows).
                let linear = Int(state.occupiedRegisters) <= DestinationSketch.linearCountingRegisters
                if change != .none && (linear || !state.announced) {
                    state.destinations = state.sketchedDestinations
                }
            }
            // An estimate above the packets is capped by them, as in `destinationCount`.
            return !state.announced && min(UInt64(state.destinations), state.packets) >= minDestinations
        }
        if reachedThreshold {
            let state = table[slot: slot]
            let (ok, observed, internet) = qualifies(state)
            if ok {
                table.update(slot: slot) { $0.announced = true }
                episodeCount &+= 1
                if newlyQualified.count < config.maxEpisodes {
                    newlyQualified.append(ScanEpisode(key: key, state: state, observedRate: observed, internetRate: internet, ongoing: true))
                }
            }
        }
    }

    /// Closes the episodes silent for longer than the timeout at `now`.
    mutating func expire(now: Int64) {
        let limit = config.timeoutSeconds * 1_000_000_000
        var closing: [(AddressPort, State)] = []
        table.forEach { key, state in
            if now - state.last > limit { closing.append((key, state)) }
        }
        for (key, state) in closing {
            close(key, state, ongoing: false)
            _ = table.remove(key)
        }
    }

    func qualifies(_ s: State) -> (Bool, observed: Double, internet: Double) {
        let seconds = max(1.0, Double(s.last - s.first) / 1e9)
        let observed = Double(s.packets) / seconds
        let internet = observed * 4_294_967_296.0 / Double(darknetSize)
        return (s.destinationCount >= config.minDestinations && internet >= config.minInternetRate, observed, internet)
    }

    mutating func close(_ key: AddressPort, _ s: State, ongoing: Bool) {
        let (ok, observed, internet) = qualifies(s)
        guard ok else { return }
        if !s.announced { episodeCount &+= 1 }  // counted already when it qualified
        guard episodes.count < config.maxEpisodes else { return }
        episodes.append(ScanEpisode(key: key, state: s, observedRate: observed, internetRate: internet, ongoing: ongoing))
    }

    /// Finished episodes plus those still open that already qualify.
    public func report() -> [ScanEpisode] {
        var result = episodes
        table.forEach { key, state in
            let (ok, observed, internet) = qualifies(state)
            if ok { result.append(ScanEpisode(key: key, state: state, observedRate: observed, internetRate: internet, ongoing: true)) }
        }
        result.sort { ($0.startNs, $0.source, $0.port) < ($1.startNs, $1.source, $1.port) }
        return result
    }
}

/// One scan episode.
public struct ScanEpisode: Sendable, Equatable {
    public var source: IPAddress
    public var ipProtocol: UInt8
    /// Destination port (TCP/UDP) or ICMP type.
    public var port: UInt16
    public var startNs: Int64
    public var endNs: Int64
    public var packets: UInt64
    /// Distinct darknet destinations: in `--exact` mode exact while the pair
    /// table has not evicted; by default an estimate (docs/sketches.md).
    public var destinations: UInt32
    public var observedRate: Double
    public var internetRate: Double
    public var fingerprint: ScannerFingerprint
    /// Still active at the end of the data.
    public var ongoing: Bool

    init(key: AddressPort, state: ScanDetector.State, observedRate: Double, internetRate: Double, ongoing: Bool) {
        source = key.address
        ipProtocol = key.ipProtocol
        port = key.port
        startNs = state.first
        endNs = state.last
        packets = state.packets
        destinations = state.destinationCount
        self.observedRate = observedRate
        self.internetRate = internetRate
        fingerprint = state.fingerprint
        self.ongoing = ongoing
    }
}
