import Decoding

// MARK: configuration

/// What `DarknetTraffic` generates. Every field has a realistic default;
/// change only what a test or benchmark cares about.
public struct DarknetTrafficConfig: Sendable {
    /// An IPv4 prefix such as 198.18.0.0/16.
    public struct IPv4Prefix: Sendable, Equatable, CustomStringConvertible {
        public var address: UInt32
        public var length: Int

        public init(address: UInt32, length: Int) {
            precondition((0...32).contains(length), "IPv4 prefix length \(length) outside 0...32")
            self.length = length
            self.address = address & Self.mask(length)
        }

        /// Parses "a.b.c.d/len".
        public init?(_ text: String) {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let length = Int(parts[1]), (0...32).contains(length),
                  let address = IPAddress(parts[0]), address.isIPv4 else { return nil }
            self.init(address: address.ipv4, length: length)
        }

        static func mask(_ length: Int) -> UInt32 { length == 0 ? 0 : UInt32.max << UInt32(32 - length) }

        public var hostMask: UInt32 { ~Self.mask(length) }
        public func contains(_ value: UInt32) -> Bool { value & Self.mask(length) == address }
        public var description: String { "\(IPAddress(ipv4: address))/\(length)" }
    }

    /// An IPv6 prefix such as 2001:db8:dead::/48.
    public struct IPv6Prefix: Sendable, Equatable, CustomStringConvertible {
        public var address: IPAddress
        public var length: Int

        public init(address: IPAddress, length: Int) {
            precondition((0...128).contains(length), "IPv6 prefix length \(length) outside 0...128")
            self.length = length
            let (highMask, lowMask) = Self.masks(length)
            self.address = IPAddress(high: address.high & highMask, low: address.low & lowMask)
        }

        /// Parses "x:x::/len".
        public init?(_ text: String) {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let length = Int(parts[1]), (0...128).contains(length),
                  let address = IPAddress(parts[0]), !address.isIPv4 else { return nil }
            self.init(address: address, length: length)
        }

        static func masks(_ length: Int) -> (UInt64, UInt64) {
            let high: UInt64 = length >= 64 ? .max : (length == 0 ? 0 : UInt64.max << UInt64(64 - length))
            let low: UInt64 = length <= 64 ? 0 : (length == 128 ? .max : UInt64.max << UInt64(128 - length))
            return (high, low)
        }

        public func contains(_ value: IPAddress) -> Bool {
            let (highMask, lowMask) = Self.masks(length)
            return value.high & highMask == address.high && value.low & lowMask == address.low
        }

        /// `address` with the host bits taken from `high`/`low`.
        func address(hostHigh: UInt64, hostLow: UInt64) -> IPAddress {
            let (highMask, lowMask) = Self.masks(length)
            return IPAddress(high: address.high | (hostHigh & ~highMask), low: address.low | (hostLow & ~lowMask))
        }

        public var description: String { "\(address)/\(length)" }
    }

    /// How fast background traffic arrives. Inter-arrival gaps are uniform
    /// in [0.5, 1.5) × the mean gap, so timestamps are strictly paced but
    /// not metronomic.
    public enum Pace: Sendable, Equatable {
        case packetsPerSecond(Double)
        /// Spread `packetCount` packets over this many nanoseconds (the surge,
        /// if any, comes on top and makes the capture end earlier).
        case duration(nanoseconds: Int64)
    }

    /// Relative weights of the traffic classes. They are normalised, so they
    /// need not sum to 1. Each draw is one *event*; every event is one packet
    /// except `ipv4Fragments`, which emits a first and a non-first fragment
    /// back to back (two packets).
    public struct Mix: Sendable, Equatable {
        /// IPv4 TCP SYN scans to a Zipf-weighted port list. Split by tool with
        /// the `*Share` fields below; the rest are generic OS-stack SYNs.
        public var tcpSyn = 0.58
        /// UDP/53 DNS queries (real query encoding).
        public var dnsQuery = 0.08
        /// UDP/123 NTP mode 7 MON_GETLIST / MON_GETLIST_1 requests.
        public var ntpMonlist = 0.03
        /// UDP/1900 SSDP M-SEARCH.
        public var ssdpMSearch = 0.03
        /// Other UDP probes: memcached stats (11211), SNMP GetNext (161),
        /// CLDAP rootDSE search (389), chargen (19), SIP OPTIONS (5060), and
        /// junk to random high ports.
        public var otherUDP = 0.06
        /// ICMP echo requests (ping sweeps).
        public var icmpEchoRequest = 0.02
        /// Backscatter: SYN-ACKs from victims of spoofed SYN floods.
        public var synAckBackscatter = 0.06
        /// Backscatter: RST+ACKs from victims.
        public var rstBackscatter = 0.04
        /// Backscatter: ICMP destination unreachable quoting the spoofed
        /// TCP or UDP packet (IPv4 header + first 8 L4 bytes).
        public var icmpUnreachableBackscatter = 0.04
        /// Backscatter: ICMP echo replies to spoofed pings.
        public var icmpEchoReplyBackscatter = 0.03
        /// IPv6 TCP SYNs to the IPv6 darknet.
        public var ipv6Syn = 0.02
        /// IPv4 UDP datagrams in two fragments (first with MF, then the tail).
        public var ipv4Fragments = 0.01

        /// Of the IPv4 SYNs: ZMap (IP ID 54321, window 65535, no options).
        public var zmapShare = 0.20
        /// Of the IPv4 SYNs: Masscan (IP ID = dst low 16 ^ dst port ^ seq low 16, window 1024).
        public var masscanShare = 0.15
        /// Of the IPv4 SYNs: Mirai (sequence = destination IPv4, ports 23/2323).
        public var miraiShare = 0.35

        /// Of the DNS queries: QTYPE ANY.
        public var dnsAnyShare = 0.30
        /// Of the DNS queries: EDNS0 OPT advertising 4096 bytes or more.
        public var dnsLargeEDNSShare = 0.30
        /// Of the DNS queries: EDNS0 OPT advertising 512 or 1232 bytes.
        public var dnsSmallEDNSShare = 0.15

        public init() {}

        var eventWeights: [Double] {
            [tcpSyn, dnsQuery, ntpMonlist, ssdpMSearch, otherUDP, icmpEchoRequest, synAckBackscatter,
             rstBackscatter, icmpUnreachableBackscatter, icmpEchoReplyBackscatter, ipv6Syn, ipv4Fragments]
        }
    }

    /// A UDP/53 scan surge: between `startOffsetNs` and `endOffsetNs` after
    /// `startTimeNs`, `packetsPerSecond` extra DNS queries from `sourceCount`
    /// sources that send nothing else, to random darknet addresses. They are
    /// labelled `.surgeDNSQuery` and interleave with the background in time.
    public struct Surge: Sendable, Equatable {
        public var startOffsetNs: Int64
        public var endOffsetNs: Int64
        public var packetsPerSecond: Double
        public var sourceCount: Int

        public init(startOffsetNs: Int64, endOffsetNs: Int64, packetsPerSecond: Double, sourceCount: Int = 500) {
            self.startOffsetNs = startOffsetNs
            self.endOffsetNs = endOffsetNs
            self.packetsPerSecond = packetsPerSecond
            self.sourceCount = sourceCount
        }
    }

    /// Same seed, same bytes.
    public var seed: UInt64 = 1
    /// Total packets generated, surge and both fragments included.
    public var packetCount = 1_000_000
    /// Timestamp of the first packet, nanoseconds since the epoch (default 2024-01-01T00:00:00Z).
    public var startTimeNs: Int64 = 1_704_067_200_000_000_000
    public var pace: Pace = .packetsPerSecond(20_000)
    /// Destination space of IPv4 traffic (default RFC 2544 benchmark space).
    public var darknetIPv4 = IPv4Prefix(address: 0xC612_0000, length: 16)  // 198.18.0.0/16
    /// Destination space of IPv6 traffic (documentation space).
    public var darknetIPv6 = IPv6Prefix(address: IPAddress(high: 0x2001_0DB8_DEAD_0000, low: 0), length: 48)
    /// Distinct background IPv4 sources (scanners, probers and backscatter
    /// victims together; at least 6). IPv6 sources are a further
    /// Swift.max(4, sourceCount / 50).
    public var sourceCount = 20_000
    public var mix = Mix()
    /// Every packet from a source never used before (IPv4 and IPv6): a
    /// worst case for per-source state. Tool fingerprints and the mix stay.
    public var spoofedFlood = false
    /// With `spoofedFlood`: this many heavy IPv4 sources send
    /// `heavyFloodShare` of the packets between them, evenly, amid the flood
    /// (the heavy hitters the per-source tables must still find).
    public var heavyFloodSources = 0
    public var heavyFloodShare = 0.1
    public var surge: Surge?

    public init() {}
}

// MARK: output

/// What a generated packet is; ground truth for tests.
public enum DarknetPacketKind: UInt8, Sendable, CaseIterable {
    case zmapSyn, masscanSyn, miraiSyn, genericSyn
    case dnsQuery, ntpMonlist, ssdpMSearch, otherUDP, icmpEchoRequest
    case synAckBackscatter, rstBackscatter, icmpUnreachableBackscatter, icmpEchoReplyBackscatter
    case ipv6Syn, ipv4FirstFragment, ipv4NonFirstFragment
    case surgeDNSQuery
}

/// One generated Ethernet frame with its label.
public struct DarknetPacket: Sendable {
    public var timestampNs: Int64
    public var bytes: [UInt8]
    public var kind: DarknetPacketKind
}

// MARK: generator

/// Deterministic synthetic darknet traffic: Ethernet II frames a network
/// telescope would capture, in timestamp order.
///
/// Background sources are a fixed pool split by role, and each role's
/// activity is heavy-tailed (index ∝ u³), so a few sources send most of its
/// packets and sweep many darknet addresses, as real scanners do:
///
/// | role            | share of pool | sends                                                              |
/// |-----------------|---------------|--------------------------------------------------------------------|
/// | ZMap            | 8 %           | SYN, IP ID 54321, TTL 255−hops, window 65535, sport 32768–61000    |
/// | Masscan         | 7 %           | SYN, IP ID = dst&0xFFFF ^ dport ^ seq&0xFFFF, window 1024, fixed sport |
/// | Mirai           | 30 %          | SYN to 23 (90 %) / 2323, seq = dst IPv4, random window and IP ID    |
/// | generic scanner | 20 %          | SYN with the OS's options (Linux/Windows), DF; ICMP echo requests  |
/// | UDP prober      | 15 %          | DNS, NTP monlist, SSDP, other UDP, IPv4 fragments                  |
/// | victim          | 20 %          | backscatter: SYN-ACK, RST-ACK, ICMP unreachable, echo reply        |
///
/// Non-Mirai SYN ports follow a Zipf(1) law over `synPorts` (23, 22, 80,
/// 443, 445, 8080, 3389, ...), with 10 % to a uniformly random port.
/// Destinations are uniform over the darknet prefixes. TTLs are a per-source
/// initial TTL (64/128/255) minus 5–30 hops. See `DarknetTrafficConfig.Mix`
/// for the per-class fractions.
public struct DarknetTraffic: Sequence, IteratorProtocol {
    public typealias Element = (timestampNs: Int64, bytes: [UInt8])

    public let config: DarknetTrafficConfig

    /// Zipf-weighted destination ports of non-Mirai SYN scans, most popular first.
    public static let synPorts: [UInt16] = [
        23, 22, 80, 443, 445, 8080, 3389, 2323, 5555, 7547, 1433, 3306, 6379, 81, 8443,
        21, 25, 8081, 5900, 139, 135, 8888, 9200, 37215, 52869, 60001, 5060, 502, 1723, 110,
        143, 993, 995, 5432, 27017, 11211, 9000, 8000, 49152, 2375,
    ]
    private static let synPortCumulative: [Double] = {
        var total = 0.0
        var cumulative: [Double] = []
        for rank in 1...synPorts.count {
            total += 1.0 / Double(rank)
            cumulative.append(total)
        }
        return cumulative.map { $0 / total }
    }()

    private enum Role: Int, CaseIterable { case zmap, masscan, mirai, generic, udp, victim }
    private static let roleShares: [Double] = [0.08, 0.07, 0.30, 0.20, 0.15, 0.20]

    private var rng: Xoshiro256StarStar
    private let eventCumulative: [Double]
    private let meanGapNs: Double

    // Background IPv4 pool, indexed by source; roles are contiguous ranges.
    private let sources: [UInt32]
    private let sourceTTL: [UInt8]
    private let sourcePort: [UInt16]
    private let roleRanges: [Range<Int>]
    private let ipv6Sources: [IPAddress]
    private let ipv6TTL: [UInt8]
    private let surgeSourceAddresses: [UInt32]

    private var emitted = 0
    private var lastTimestamp: Int64
    private var backgroundOffset = 0.0
    private var surgeOffset = 0.0
    private var surgeActive: Bool
    private var pending: DarknetPacket?
    private var floodCounter: UInt32 = 0
    /// Heavy flood sources: the first this many of `sources`.
    private var heavyCount: Int { Swift.min(config.heavyFloodSources, sources.count) }
    private var floodCounter6: UInt64 = 0

    /// The heavy sources of a flood (`heavyFloodSources`; empty otherwise).
    public var heavyFloodSources: [IPAddress] {
        config.spoofedFlood ? sources.prefix(heavyCount).map { IPAddress(ipv4: $0) } : []
    }

    public init(config: DarknetTrafficConfig) {
        precondition(config.packetCount >= 0, "packetCount must not be negative")
        precondition(config.heavyFloodSources <= Swift.max(config.sourceCount, Role.allCases.count),
                     "heavyFloodSources must not exceed sourceCount")
        self.config = config
        var rng = Xoshiro256StarStar(seed: config.seed)

        let weights = config.mix.eventWeights.map { Swift.max($0, 0) }
        let total = weights.reduce(0, +)
        precondition(total > 0, "the traffic mix has no positive weight")
        var running = 0.0
        eventCumulative = weights.map { running += $0; return running / total }

        let rate: Double
        switch config.pace {
        case .packetsPerSecond(let pps): rate = pps
        case .duration(let nanoseconds): rate = Double(Swift.max(config.packetCount, 1)) / (Double(Swift.max(nanoseconds, 1)) / 1e9)
        }
        precondition(rate > 0, "packet rate must be positive")
        meanGapNs = 1e9 / rate

        // Pools: unique public addresses outside the darknet.
        var taken = Set<UInt32>()
        let count = Swift.max(config.sourceCount, Role.allCases.count)
        taken.reserveCapacity(count + (config.surge?.sourceCount ?? 0))
        var addresses: [UInt32] = []
        var ttls: [UInt8] = []
        var ports: [UInt16] = []
        addresses.reserveCapacity(count)
        var ranges: [Range<Int>] = []
        var assigned = 0
        for (index, role) in Role.allCases.enumerated() {
            let share = index == Role.allCases.count - 1
                ? count - assigned
                : Swift.max(1, Int(Double(count) * Self.roleShares[index]))
            let end = Swift.min(count - (Role.allCases.count - 1 - index), assigned + share)
            ranges.append(assigned..<end)
            for _ in assigned..<end {
                var address: UInt32
                repeat { address = rng.nextUInt32() } while !Self.isPlausibleSource(address, darknet: config.darknetIPv4) || taken.contains(address)
                taken.insert(address)
                addresses.append(address)
                ttls.append(Self.observedTTL(initial: Self.initialTTL(role: role, rng: &rng), rng: &rng))
                ports.append(UInt16(truncatingIfNeeded: rng.next(in: 1024...65535)))
            }
            assigned = end
        }
        sources = addresses
        sourceTTL = ttls
        sourcePort = ports
        roleRanges = ranges

        let v6Count = Swift.max(4, count / 50)
        var v6: [IPAddress] = []
        var v6TTL: [UInt8] = []
        for _ in 0..<v6Count {
            // Global unicast 2000::/3, outside 2001:db8::/32.
            var high: UInt64
            repeat { high = 0x2000_0000_0000_0000 | (rng.next() >> 3) } while high >> 32 == 0x2001_0DB8
            v6.append(IPAddress(high: high, low: rng.next()))
            v6TTL.append(Self.observedTTL(initial: rng.chance(0.8) ? 64 : 128, rng: &rng))
        }
        ipv6Sources = v6
        ipv6TTL = v6TTL

        var surgeAddresses: [UInt32] = []
        if let surge = config.surge {
            precondition(surge.endOffsetNs >= surge.startOffsetNs && surge.packetsPerSecond > 0 && surge.sourceCount > 0,
                         "surge needs start <= end, a positive rate and sources")
            for _ in 0..<surge.sourceCount {
                var address: UInt32
                repeat { address = rng.nextUInt32() } while !Self.isPlausibleSource(address, darknet: config.darknetIPv4) || taken.contains(address)
                taken.insert(address)
                surgeAddresses.append(address)
            }
            surgeOffset = Double(surge.startOffsetNs)
        }
        surgeSourceAddresses = surgeAddresses
        surgeActive = config.surge != nil
        lastTimestamp = config.startTimeNs
        self.rng = rng
    }

    /// Sources of the injected surge (empty without one). They send nothing else.
    public var surgeSources: [IPAddress] { surgeSourceAddresses.map { IPAddress(ipv4: $0) } }

    /// Background IPv4 sources (not used in spoofed-flood mode).
    public var backgroundSources: [IPAddress] { sources.map { IPAddress(ipv4: $0) } }

    public mutating func next() -> Element? {
        guard let packet = nextPacket() else { return nil }
        return (packet.timestampNs, packet.bytes)
    }

    /// The next frame with its label, or nil after `packetCount` packets.
    public mutating func nextPacket() -> DarknetPacket? {
        guard emitted < config.packetCount else { return nil }
        emitted += 1
        if var packet = pending {
            pending = nil
            packet.timestampNs = stamp(packet.timestampNs)
            return packet
        }
        if surgeActive, let surge = config.surge, surgeOffset < backgroundOffset {
            if surgeOffset < Double(surge.endOffsetNs) {
                let at = surgeOffset
                surgeOffset += gap(mean: 1e9 / surge.packetsPerSecond)
                let source = surgeSourceAddresses[Int(rng.next(below: UInt64(surgeSourceAddresses.count)))]
                let bytes = dnsQueryFrame(source: source, ttl: 64 - UInt8(truncatingIfNeeded: rng.next(below: 20)))
                return DarknetPacket(timestampNs: stamp(config.startTimeNs + Int64(at)), bytes: bytes, kind: .surgeDNSQuery)
            }
            surgeActive = false
        }
        let at = backgroundOffset
        backgroundOffset += gap(mean: meanGapNs)
        let timestamp = stamp(config.startTimeNs + Int64(at))
        let (bytes, kind) = backgroundEvent(timestampNs: timestamp)
        return DarknetPacket(timestampNs: timestamp, bytes: bytes, kind: kind)
    }

    private mutating func gap(mean: Double) -> Double { mean * (0.5 + rng.nextUnit()) }

    private mutating func stamp(_ candidate: Int64) -> Int64 {
        lastTimestamp = Swift.max(lastTimestamp, candidate)
        return lastTimestamp
    }

    // MARK: events

    private mutating func backgroundEvent(timestampNs: Int64) -> ([UInt8], DarknetPacketKind) {
        let u = rng.nextUnit()
        var event = 0
        while event < eventCumulative.count - 1 && u >= eventCumulative[event] { event += 1 }
        switch event {
        case 0: return ipv4Syn()
        case 1:
            let (source, ttl) = pick(.udp)
            return (dnsQueryFrame(source: source, ttl: ttl), .dnsQuery)
        case 2: return (udpProbe(port: 123, payload: ntpMonlistPayload()), .ntpMonlist)
        case 3: return (udpProbe(port: 1900, payload: ssdpPayload()), .ssdpMSearch)
        case 4: return (otherUDPFrame(), .otherUDP)
        case 5: return (icmpEchoRequestFrame(), .icmpEchoRequest)
        case 6: return (synAckFrame(), .synAckBackscatter)
        case 7: return (rstFrame(), .rstBackscatter)
        case 8: return (icmpUnreachableFrame(), .icmpUnreachableBackscatter)
        case 9: return (icmpEchoReplyFrame(), .icmpEchoReplyBackscatter)
        case 10: return (ipv6SynFrame(), .ipv6Syn)
        default:
            let (first, second) = fragmentPair()
            if emitted < config.packetCount {
                pending = DarknetPacket(timestampNs: timestampNs + 1_000, bytes: second, kind: .ipv4NonFirstFragment)
            }
            return (first, .ipv4FirstFragment)
        }
    }

    /// A source of `role` (heavy-tailed) or, in flood mode, a fresh address.
    private mutating func pick(_ role: Role) -> (address: UInt32, ttl: UInt8) {
        if config.spoofedFlood {
            if config.heavyFloodSources > 0 && rng.chance(config.heavyFloodShare) {
                let index = Int(rng.next() % UInt64(heavyCount))
                return (sources[index], sourceTTL[index])
            }
            let initial = Self.initialTTL(role: role, rng: &rng)
            return (nextFloodAddress(), Self.observedTTL(initial: initial, rng: &rng))
        }
        let index = pickIndex(roleRanges[role.rawValue])
        return (sources[index], sourceTTL[index])
    }

    private mutating func pickIndex(_ range: Range<Int>) -> Int {
        let u = rng.nextUnit()
        return range.lowerBound + Swift.min(range.count - 1, Int(Double(range.count) * u * u * u))
    }

    private mutating func darknetIPv4Address() -> UInt32 {
        config.darknetIPv4.address | (rng.nextUInt32() & config.darknetIPv4.hostMask)
    }

    private mutating func ipv4Syn() -> ([UInt8], DarknetPacketKind) {
        let mix = config.mix
        let u = rng.nextUnit() * Swift.max(mix.zmapShare + mix.masscanShare + mix.miraiShare, 1)
        let destination = darknetIPv4Address()
        if u < mix.zmapShare {
            let (source, ttl) = pick(.zmap)
            let frame = ipv4TCPFrame(source: source, destination: destination,
                                     sourcePort: UInt16(rng.next(in: 32768...61000)), destinationPort: synPort(),
                                     flags: TCPFlag.syn, sequence: rng.nextUInt32(), window: 65535,
                                     ttl: ttl, identification: 54321, dontFragment: false)
            return (frame, .zmapSyn)
        }
        if u < mix.zmapShare + mix.masscanShare {
            let (source, ttl) = pick(.masscan)
            let port = synPort()
            let sequence = rng.nextUInt32()
            let identification = UInt16(truncatingIfNeeded: destination) ^ port ^ UInt16(truncatingIfNeeded: sequence)
            let sourcePort = config.spoofedFlood ? UInt16(rng.next(in: 40000...60999)) : sourcePortOf(source)
            let frame = ipv4TCPFrame(source: source, destination: destination, sourcePort: sourcePort, destinationPort: port,
                                     flags: TCPFlag.syn, sequence: sequence, window: 1024,
                                     ttl: ttl, identification: identification, dontFragment: false)
            return (frame, .masscanSyn)
        }
        if u < mix.zmapShare + mix.masscanShare + mix.miraiShare {
            let (source, ttl) = pick(.mirai)
            let frame = ipv4TCPFrame(source: source, destination: destination,
                                     sourcePort: rng.nextUInt16() | 1024, destinationPort: rng.chance(0.9) ? 23 : 2323,
                                     flags: TCPFlag.syn, sequence: destination, window: rng.nextUInt16() | 1,
                                     ttl: ttl, identification: rng.nextUInt16(), dontFragment: false)
            return (frame, .miraiSyn)
        }
        let (source, ttl) = pick(.generic)
        let frame = ipv4TCPFrame(source: source, destination: destination,
                                 sourcePort: UInt16(rng.next(in: 32768...60999)), destinationPort: synPort(),
                                 flags: TCPFlag.syn, sequence: rng.nextUInt32(), window: ttl > 64 && ttl <= 128 ? 64240 : 29200,
                                 ttl: ttl, identification: rng.nextUInt16(), dontFragment: true,
                                 options: synOptions(ttl: ttl))
        return (frame, .genericSyn)
    }

    /// Masscan keeps one source port per run: derive it from the address.
    private func sourcePortOf(_ address: UInt32) -> UInt16 {
        40000 + UInt16(SplitMix64.mix(UInt64(address) ^ config.seed) % 21000)
    }

    private mutating func synPort() -> UInt16 {
        if rng.chance(0.1) { return UInt16(rng.next(in: 1...65535)) }
        let u = rng.nextUnit()
        var low = 0
        var high = Self.synPortCumulative.count - 1
        while low < high {
            let middle = (low + high) / 2
            if Self.synPortCumulative[middle] > u { high = middle } else { low = middle + 1 }
        }
        return Self.synPorts[low]
    }

    /// OS-stack SYN options: Windows-like below TTL 128, Linux-like otherwise.
    private mutating func synOptions(ttl: UInt8) -> [UInt8] {
        if ttl > 64 && ttl <= 128 {
            return [0x02, 0x04, 0x05, 0xB4, 0x01, 0x03, 0x03, 0x08, 0x01, 0x01, 0x04, 0x02]
        }
        var options: [UInt8] = [0x02, 0x04, 0x05, 0xB4, 0x04, 0x02, 0x08, 0x0A]
        options.appendBE32(rng.nextUInt32())
        options += [0, 0, 0, 0, 0x01, 0x03, 0x03, 0x07]
        return options
    }

    private mutating func udpProbe(port: UInt16, payload: [UInt8]) -> [UInt8] {
        let (source, ttl) = pick(.udp)
        return ipv4UDPFrame(source: source, destination: darknetIPv4Address(),
                            sourcePort: UInt16(rng.next(in: 1024...65535)), destinationPort: port,
                            ttl: ttl, payload: payload)
    }

    private mutating func dnsQueryFrame(source: UInt32, ttl: UInt8) -> [UInt8] {
        ipv4UDPFrame(source: source, destination: darknetIPv4Address(),
                     sourcePort: UInt16(rng.next(in: 1024...65535)), destinationPort: 53,
                     ttl: ttl, payload: dnsQueryPayload())
    }

    private static let dnsNames = [
        "example.com", "google.com", "isc.org", "ripe.net", "cloudflare.com", "amazon.com",
        "pizzaseo.com", "sl", "", "version.bind", "qq.com", "testdns.net",
    ]

    /// RFC 1035 query: ID, RD (80 %), one question, optionally one EDNS0 OPT RR.
    private mutating func dnsQueryPayload() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        bytes.appendBE16(rng.nextUInt16())
        bytes.appendBE16(rng.chance(0.8) ? 0x0100 : 0x0000)
        let mix = config.mix
        let ednsDraw = rng.nextUnit()
        let edns: UInt16? = ednsDraw < mix.dnsLargeEDNSShare ? [4096, 4096, 8192, 65535][Int(rng.next(below: 4))]
            : ednsDraw < mix.dnsLargeEDNSShare + mix.dnsSmallEDNSShare ? (rng.chance(0.5) ? 512 : 1232) : nil
        bytes += [0, 1, 0, 0, 0, 0, 0, edns == nil ? 0 : 1]
        var name = Self.dnsNames[Int(rng.next(below: UInt64(Self.dnsNames.count)))]
        if rng.chance(0.2) {
            // Random-subdomain probing ("water torture" style): a fresh label.
            var label = ""
            for _ in 0..<8 { label.unicodeScalars.append(Unicode.Scalar(UInt8(ascii: "a") + UInt8(rng.next(below: 26)))) }
            name = label + ".example.net"
        }
        for label in name.split(separator: ".") {
            bytes.append(UInt8(label.utf8.count))
            bytes += Array(label.utf8)
        }
        bytes.append(0)
        let qtype: UInt16 = rng.chance(mix.dnsAnyShare) ? 255 : [1, 1, 1, 28, 16, 2][Int(rng.next(below: 6))]
        bytes.appendBE16(qtype)
        bytes.appendBE16(1)  // IN
        if let edns {
            bytes.append(0)  // root name
            bytes.appendBE16(41)  // OPT
            bytes.appendBE16(edns)  // requestor's UDP payload size
            bytes += [0, 0, rng.chance(0.5) ? 0x80 : 0x00, 0]  // ext RCODE, version, DO, Z
            bytes.appendBE16(0)
        }
        return bytes
    }

    /// ntpdc-style mode 7 request: version 2, XNTPD implementation (3),
    /// MON_GETLIST_1 (42) or MON_GETLIST (20), padded to 8 or 48 bytes.
    private mutating func ntpMonlistPayload() -> [UInt8] {
        var bytes: [UInt8] = [0x17, 0x00, 0x03, rng.chance(0.75) ? 0x2A : 0x14]
        bytes += [UInt8](repeating: 0, count: rng.chance(0.5) ? 4 : 44)
        return bytes
    }

    private mutating func ssdpPayload() -> [UInt8] {
        let target = rng.chance(0.7) ? "ssdp:all" : "upnp:rootdevice"
        return Array("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: \(rng.next(in: 1...3))\r\nST: \(target)\r\n\r\n".utf8)
    }

    private mutating func otherUDPFrame() -> [UInt8] {
        let draw = rng.nextUnit()
        let port: UInt16
        var payload: [UInt8]
        switch draw {
        case ..<0.20:
            port = 11211  // memcached UDP frame header + "stats"
            payload = [0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00] + Array("stats\r\n".utf8)
            payload[1] = UInt8(truncatingIfNeeded: rng.next(below: 256))  // request id
        case ..<0.40:
            port = 161  // SNMPv2c GetNextRequest, community "public", OID 1.3.6.1.2.1
            payload = [0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06] + Array("public".utf8)
                + [0xA1, 0x19, 0x02, 0x04]
            payload.appendBE32(rng.nextUInt32() & 0x7FFF_FFFF)
            payload += [0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0B, 0x30, 0x09,
                        0x06, 0x05, 0x2B, 0x06, 0x01, 0x02, 0x01, 0x05, 0x00]
        case ..<0.55:
            port = 389  // CLDAP searchRequest for the rootDSE, filter (objectclass=*)
            payload = [0x30, 0x25, 0x02, 0x01, 0x01, 0x63, 0x20, 0x04, 0x00, 0x0A, 0x01, 0x00, 0x0A, 0x01, 0x00,
                       0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x01, 0x01, 0x00, 0x87, 0x0B] + Array("objectclass".utf8) + [0x30, 0x00]
        case ..<0.65:
            port = 19  // chargen
            payload = [0x01]
        case ..<0.75:
            port = 5060  // SIP OPTIONS (sipvicious-style)
            payload = Array("OPTIONS sip:100@\(IPAddress(ipv4: darknetIPv4Address())) SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n".utf8)
        default:
            port = UInt16(rng.next(in: 1024...65535))
            payload = (0..<rng.next(in: 0...32)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        }
        return udpProbe(port: port, payload: payload)
    }

    private mutating func icmpEchoRequestFrame() -> [UInt8] {
        let (source, ttl) = pick(.generic)
        var rest: [UInt8] = []
        rest.appendBE16(rng.nextUInt16())
        rest.appendBE16(UInt16(rng.next(below: 4)))
        let payload: [UInt8] = rng.chance(0.5) ? [] : Array(0x10...0x47)
        return ipv4ICMPFrame(source: source, destination: darknetIPv4Address(), type: 8, code: 0, rest: rest, ttl: ttl, payload: payload)
    }

    private static let victimServicePorts: [UInt16] = [80, 443, 443, 80, 53, 22, 25, 8080, 3389, 27015, 25565, 3074]

    private mutating func victimPort() -> UInt16 {
        Self.victimServicePorts[Int(rng.next(below: UInt64(Self.victimServicePorts.count)))]
    }

    private mutating func synAckFrame() -> [UInt8] {
        let (source, ttl) = pick(.victim)
        return ipv4TCPFrame(source: source, destination: darknetIPv4Address(),
                            sourcePort: victimPort(), destinationPort: UInt16(rng.next(in: 1024...65535)),
                            flags: TCPFlag.syn | TCPFlag.ack, sequence: rng.nextUInt32(), acknowledgment: rng.nextUInt32(),
                            window: [65535, 29200, 28960, 14600][Int(rng.next(below: 4))],
                            ttl: ttl, identification: 0, dontFragment: true, options: [0x02, 0x04, 0x05, 0xB4])
    }

    private mutating func rstFrame() -> [UInt8] {
        let (source, ttl) = pick(.victim)
        return ipv4TCPFrame(source: source, destination: darknetIPv4Address(),
                            sourcePort: victimPort(), destinationPort: UInt16(rng.next(in: 1024...65535)),
                            flags: TCPFlag.rst | TCPFlag.ack, sequence: 0, acknowledgment: rng.nextUInt32(), window: 0,
                            ttl: ttl, identification: rng.nextUInt16(), dontFragment: true)
    }

    /// A router or host rejecting a packet the darknet address "sent"
    /// (spoofed by an attacker): the quote is the original IPv4 header plus
    /// the first 8 bytes of its TCP or UDP header, as RFC 792 requires.
    private mutating func icmpUnreachableFrame() -> [UInt8] {
        let (source, ttl) = pick(.victim)
        let spoofed = darknetIPv4Address()
        let target = rng.chance(0.5) ? source : (rng.nextUInt32() | 0x0100_0000) & 0xDFFF_FFFF
        let code: UInt8 = [0, 1, 1, 3, 3, 3, 3, 10, 13, 13][Int(rng.next(below: 10))]
        let original: [UInt8]
        if code == 3 || rng.chance(0.3) {
            original = PacketBuilder.ipv4UDP(source: spoofed, destination: target,
                                             sourcePort: UInt16(rng.next(in: 1024...65535)), destinationPort: rng.chance(0.5) ? 53 : 123,
                                             ttl: UInt8(rng.next(in: 30...250)), identification: rng.nextUInt16(),
                                             payload: [UInt8](repeating: 0, count: rng.next(in: 20...200)))
        } else {
            original = PacketBuilder.ipv4TCP(source: spoofed, destination: target,
                                             sourcePort: UInt16(rng.next(in: 1024...65535)), destinationPort: victimPort(),
                                             flags: TCPFlag.syn, sequence: rng.nextUInt32(), window: 65535,
                                             ttl: UInt8(rng.next(in: 30...250)), identification: rng.nextUInt16())
        }
        return ipv4ICMPFrame(source: source, destination: spoofed, type: 3, code: code,
                             rest: [0, 0, 0, 0], ttl: ttl, payload: Array(original.prefix(28)))
    }

    private mutating func icmpEchoReplyFrame() -> [UInt8] {
        let (source, ttl) = pick(.victim)
        var rest: [UInt8] = []
        rest.appendBE16(rng.nextUInt16())
        rest.appendBE16(rng.nextUInt16())
        let payload: [UInt8] = rng.chance(0.5) ? Array(0x10...0x47) : Array("abcdefghijklmnopqrstuvwabcdefghi".utf8)
        return ipv4ICMPFrame(source: source, destination: darknetIPv4Address(), type: 0, code: 0, rest: rest, ttl: ttl, payload: payload)
    }

    private mutating func ipv6SynFrame() -> [UInt8] {
        let source: IPAddress
        let hopLimit: UInt8
        if config.spoofedFlood {
            floodCounter6 &+= 1
            source = IPAddress(high: 0x2A0F_0000_0000_0000 | (SplitMix64.mix(config.seed) & 0x0000_FFFF_FFFF_0000),
                               low: SplitMix64.mix(floodCounter6 ^ config.seed))
            hopLimit = Self.observedTTL(initial: 64, rng: &rng)
        } else {
            let index = pickIndex(0..<ipv6Sources.count)
            source = ipv6Sources[index]
            hopLimit = ipv6TTL[index]
        }
        let destination = config.darknetIPv6.address(hostHigh: rng.next(), hostLow: rng.next())
        let packet = PacketBuilder.ipv6TCP(source: source, destination: destination,
                                           sourcePort: UInt16(rng.next(in: 32768...60999)), destinationPort: synPort(),
                                           flags: TCPFlag.syn, sequence: rng.nextUInt32(), window: 64800,
                                           hopLimit: hopLimit, options: synOptions(ttl: 64))
        return PacketBuilder.ethernetIPv6(packet)
    }

    /// A UDP datagram of 1508–2908 bytes (random payload, high ports, as in
    /// a fragmented UDP flood) split at 1480: the first fragment carries the
    /// UDP header (MF set), the second the tail (offset 185).
    private mutating func fragmentPair() -> ([UInt8], [UInt8]) {
        let (source, ttl) = pick(.udp)
        let destination = darknetIPv4Address()
        let identification = rng.nextUInt16()
        let dataLength = rng.next(in: 1500...2900)
        var payload = [UInt8](repeating: 0, count: dataLength)
        for index in stride(from: 0, to: dataLength, by: 8) {
            let word = rng.next()
            for byte in 0..<Swift.min(8, dataLength - index) { payload[index + byte] = UInt8(truncatingIfNeeded: word >> UInt64(byte * 8)) }
        }
        var datagram = PacketBuilder.udp(sourcePort: UInt16(rng.next(in: 1024...65535)), destinationPort: UInt16(rng.next(in: 1024...65535)), payload: payload)
        PacketBuilder.setIPv4TransportChecksum(&datagram, at: 6, source: source, destination: destination, protocolNumber: IPProtocolNumber.udp)
        let first = PacketBuilder.ipv4(source: source, destination: destination, protocolNumber: IPProtocolNumber.udp, ttl: ttl,
                                       identification: identification, fragmentField: 0x2000, payload: Array(datagram[0..<1480]))
        let second = PacketBuilder.ipv4(source: source, destination: destination, protocolNumber: IPProtocolNumber.udp, ttl: ttl,
                                        identification: identification, fragmentField: 1480 / 8, payload: Array(datagram[1480...]))
        return (PacketBuilder.ethernetIPv4(first), PacketBuilder.ethernetIPv4(second))
    }

    // MARK: frame assembly

    private func ipv4TCPFrame(
        source: UInt32, destination: UInt32, sourcePort: UInt16, destinationPort: UInt16, flags: UInt8,
        sequence: UInt32, acknowledgment: UInt32 = 0, window: UInt16, ttl: UInt8, identification: UInt16,
        dontFragment: Bool, options: [UInt8] = []
    ) -> [UInt8] {
        var segment = PacketBuilder.tcp(sourcePort: sourcePort, destinationPort: destinationPort, sequence: sequence,
                                        acknowledgment: acknowledgment, flags: flags, window: window, options: options)
        PacketBuilder.setIPv4TransportChecksum(&segment, at: 16, source: source, destination: destination, protocolNumber: IPProtocolNumber.tcp)
        return PacketBuilder.ethernetIPv4(
            PacketBuilder.ipv4(source: source, destination: destination, protocolNumber: IPProtocolNumber.tcp, ttl: ttl,
                               identification: identification, fragmentField: dontFragment ? 0x4000 : 0, payload: segment))
    }

    private mutating func ipv4UDPFrame(source: UInt32, destination: UInt32, sourcePort: UInt16, destinationPort: UInt16,
                                       ttl: UInt8, payload: [UInt8]) -> [UInt8] {
        PacketBuilder.ethernetIPv4(PacketBuilder.ipv4UDP(source: source, destination: destination, sourcePort: sourcePort,
                                                         destinationPort: destinationPort, ttl: ttl,
                                                         identification: rng.nextUInt16(), payload: payload))
    }

    private mutating func ipv4ICMPFrame(source: UInt32, destination: UInt32, type: UInt8, code: UInt8, rest: [UInt8],
                                        ttl: UInt8, payload: [UInt8]) -> [UInt8] {
        PacketBuilder.ethernetIPv4(PacketBuilder.ipv4ICMP(source: source, destination: destination, type: type, code: code,
                                                          rest: rest, ttl: ttl, identification: rng.nextUInt16(), payload: payload))
    }

    // MARK: addresses

    /// Unique per call: a bijective scramble of a counter, skipping
    /// addresses that could not be Internet sources.
    private mutating func nextFloodAddress() -> UInt32 {
        while true {
            floodCounter &+= 1
            var x = floodCounter ^ UInt32(truncatingIfNeeded: config.seed)
            x = x &* 0x9E37_79B1
            x ^= x >> 16
            x = x &* 0x85EB_CA6B
            x ^= x >> 13
            x = x &* 0xC2B2_AE35
            x ^= x >> 16
            if Self.isPlausibleSource(x, darknet: config.darknetIPv4) { return x }
        }
    }

    /// Public unicast, outside the darknet: not 0/8, 10/8, 100.64/10,
    /// 127/8, 169.254/16, 172.16/12, 192.168/16, 198.18/15, or 224/3.
    static func isPlausibleSource(_ address: UInt32, darknet: DarknetTrafficConfig.IPv4Prefix) -> Bool {
        let first = address >> 24
        if first == 0 || first == 10 || first == 127 || first >= 224 { return false }
        if address & 0xFFC0_0000 == 0x6440_0000 { return false }
        if address & 0xFFFF_0000 == 0xA9FE_0000 { return false }
        if address & 0xFFF0_0000 == 0xAC10_0000 { return false }
        if address & 0xFFFF_0000 == 0xC0A8_0000 { return false }
        if address & 0xFFFE_0000 == 0xC612_0000 { return false }
        return !darknet.contains(address)
    }

    private static func initialTTL(role: Role, rng: inout Xoshiro256StarStar) -> UInt8 {
        switch role {
        case .zmap, .masscan: 255
        case .mirai: 64
        case .generic, .victim:
            switch rng.nextUnit() {
            case ..<0.6: 64
            case ..<0.9: 128
            default: 255
            }
        case .udp: rng.chance(0.7) ? 64 : 128
        }
    }

    private static func observedTTL(initial: UInt8, rng: inout Xoshiro256StarStar) -> UInt8 {
        initial - UInt8(rng.next(in: 5...30))
    }
}

extension DarknetTraffic {
    /// Writes the remaining packets to a pcap writer; returns how many.
    @discardableResult
    public mutating func write(to writer: PcapFileWriter) throws(CaptureFileError) -> Int {
        var count = 0
        while let packet = nextPacket() {
            try writer.write(packet: packet.bytes, timestampNs: packet.timestampNs)
            count += 1
        }
        return count
    }

    /// Writes the remaining packets to a pcapng writer on `interfaceID`; returns how many.
    @discardableResult
    public mutating func write(to writer: PcapngFileWriter, interfaceID: UInt32 = 0) throws(CaptureFileError) -> Int {
        var count = 0
        while let packet = nextPacket() {
            try writer.write(packet: packet.bytes, timestampNs: packet.timestampNs, interfaceID: interfaceID)
            count += 1
        }
        return count
    }
}
