import Decoding
import Sketches

/// DoS victims from backscatter, after Moore et al., "Inferring Internet
/// Denial-of-Service Activity" (USENIX Security 2001; ACM TOCS 2006): one
/// attack is a victim address and protocol with at least `minPackets`
/// backscatter packets, lasting at least `minDurationSeconds`, with a peak
/// of at least `minPeakRate` packets/s over a one-minute window. The attack
/// ends after `timeoutSeconds` of silence.
///
/// The one-minute windows are consecutive minutes starting at the attack's
/// first packet. Estimated attack rate = observed rate × 2³² / darknet size
/// (the victim's replies are spread uniformly over the spoofed sources).
public struct BackscatterDetector: Sendable {
    public struct Config: Sendable, Equatable {
        public var minPackets: UInt64 = 25
        public var minDurationSeconds: Int64 = 60
        public var minPeakRate: Double = 0.5
        public var timeoutSeconds: Int64 = 300
        public var capacity: Int = 1 << 15
        public var maxAttacks: Int = 10_000
        public init() {}
    }

    struct State: BoundedTableValue {
        var first: Int64 = 0
        var last: Int64 = 0
        var packets: UInt64 = 0
        var windowStart: Int64 = 0
        var windowPackets: UInt32 = 0
        var peakWindowPackets: UInt32 = 0
        var lastPort: UInt16 = 0
        var announced = false
        init() {}
        var evictionWeight: UInt64 { packets }
    }

    public let config: Config
    let darknetSize: UInt64
    var table: BoundedTable<AddressPort, State>
    public internal(set) var attacks: [BackscatterAttack] = []
    /// Attacks found, counted when an attack first meets the thresholds (as
    /// `ScanDetector.episodeCount`), including those beyond `maxAttacks`.
    public internal(set) var attackCount: UInt64 = 0
    /// Attacks that met the thresholds since the last `takeNewlyQualified`.
    var newlyQualified: [BackscatterAttack] = []

    mutating func takeNewlyQualified() -> [BackscatterAttack] {
        defer { newlyQualified.removeAll() }
        return newlyQualified
    }
    public var evictions: UInt64 { table.evictions }
    /// Candidates the table holds at most (summed over merged shards).
    public var capacity: Int { table.capacity }

    static let windowNs: Int64 = 60_000_000_000

    public init(config: Config, darknetSize: UInt64, hasher: SeededHash) {
        self.config = config
        self.darknetSize = max(1, darknetSize)
        self.table = BoundedTable(capacity: config.capacity, hasher: hasher)
    }

    /// Prefetches the state `observe(r)` will read.
    @inline(__always)
    func prefetch(_ r: PacketRecord) {
        table.prefetch(hash: table.hasher.hash(AddressPort(address: r.source, ipProtocol: r.ipProtocol, port: 0)))
    }

    @inline(__always)
    mutating func observe(_ r: PacketRecord) {
        // Keyed by victim and protocol; the port field is unused (0).
        let key = AddressPort(address: r.source, ipProtocol: r.ipProtocol, port: 0)
        var fresh = State()
        fresh.first = r.timestampNs
        fresh.last = r.timestampNs
        fresh.windowStart = r.timestampNs
        let result = table.findOrInsert(key, initial: fresh)
        if let evicted = result.evicted { close(evicted.key, evicted.value, ongoing: false) }
        var s = table[slot: result.slot]
        if !result.inserted && r.timestampNs - s.last > config.timeoutSeconds * 1_000_000_000 {
            close(key, s, ongoing: false)
            s = fresh
        }
        if r.timestampNs - s.windowStart >= BackscatterDetector.windowNs {
            let windows = (r.timestampNs - s.windowStart) / BackscatterDetector.windowNs
            s.windowStart &+= windows &* BackscatterDetector.windowNs
            s.windowPackets = 0
        }
        s.windowPackets &+= 1
        s.peakWindowPackets = max(s.peakWindowPackets, s.windowPackets)
        s.packets &+= 1
        if r.timestampNs > s.last { s.last = r.timestampNs }
        s.lastPort = r.sourcePort
        if !s.announced && qualifies(s) {
            s.announced = true
            attackCount &+= 1
            if newlyQualified.count < config.maxAttacks { newlyQualified.append(attack(key, s, ongoing: true)) }
        }
        table[slot: result.slot] = s
    }

    mutating func expire(now: Int64) {
        let limit = config.timeoutSeconds * 1_000_000_000
        var closing: [(AddressPort, State)] = []
        table.forEach { key, s in
            if now - s.last > limit { closing.append((key, s)) }
        }
        for (key, s) in closing {
            close(key, s, ongoing: false)
            _ = table.remove(key)
        }
    }

    func qualifies(_ s: State) -> Bool {
        let durationNs = s.last - s.first
        let peak = Double(s.peakWindowPackets) / 60.0
        return s.packets >= config.minPackets && durationNs >= config.minDurationSeconds * 1_000_000_000
            && peak >= config.minPeakRate
    }

    func attack(_ key: AddressPort, _ s: State, ongoing: Bool) -> BackscatterAttack {
        let seconds = max(1.0, Double(s.last - s.first) / 1e9)
        let observed = Double(s.packets) / seconds
        return BackscatterAttack(victim: key.address, ipProtocol: key.ipProtocol, startNs: s.first, endNs: s.last,
                                 packets: s.packets, peakRate: Double(s.peakWindowPackets) / 60.0,
                                 observedRate: observed, estimatedAttackRate: observed * 4_294_967_296.0 / Double(darknetSize),
                                 ongoing: ongoing)
    }

    mutating func close(_ key: AddressPort, _ s: State, ongoing: Bool) {
        guard qualifies(s) else { return }
        if !s.announced { attackCount &+= 1 }  // counted already when it qualified
        guard attacks.count < config.maxAttacks else { return }
        attacks.append(attack(key, s, ongoing: ongoing))
    }

    public func report() -> [BackscatterAttack] {
        var result = attacks
        table.forEach { key, s in
            if qualifies(s) { result.append(attack(key, s, ongoing: true)) }
        }
        result.sort { ($0.startNs, $0.victim, $0.ipProtocol) < ($1.startNs, $1.victim, $1.ipProtocol) }
        return result
    }
}

/// One inferred DoS attack.
public struct BackscatterAttack: Sendable, Equatable {
    public var victim: IPAddress
    public var ipProtocol: UInt8
    public var startNs: Int64
    public var endNs: Int64
    public var packets: UInt64
    /// Highest packets/s over one of the attack's one-minute windows.
    public var peakRate: Double
    public var observedRate: Double
    /// Observed rate × 2³² / darknet size.
    public var estimatedAttackRate: Double
    public var ongoing: Bool
}
