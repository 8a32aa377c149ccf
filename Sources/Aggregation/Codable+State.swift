import Decoding
import GeoIP
import Sketches

// Codable conformances for the daemon's state snapshots (`SnapshotStore` in Daemon): the
// aggregator's rolling windows and everything a `BucketSummary` holds.
//
// Decoding validates: a value that decodes is one the aggregator could have produced, so a
// corrupt or hand-edited snapshot is rejected with a `DecodingError` and never traps later
// (merging sketches of different precision, indexing a short counter array, ...).

/// Precision of the per-bucket distinct-source sketch (`Aggregator.bucketSources`), which
/// `RollingWindow.totals()` merges into a sketch of the same precision.
let bucketSourcesPrecision = 12

private func corrupt(_ path: [any CodingKey], _ what: String) -> DecodingError {
    DecodingError.dataCorrupted(DecodingError.Context(codingPath: path, debugDescription: what))
}

// MARK: - Base64 (register arrays; Aggregation does not import Foundation)

/// RFC 4648 base64 with padding: 4,096 HyperLogLog registers take 5,464 characters instead
/// of 4,096 separately encoded integers.
enum StateBase64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i])
            let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let word = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(word >> 18 & 63)])
            out.append(alphabet[Int(word >> 12 & 63)])
            out.append(i + 1 < bytes.count ? alphabet[Int(word >> 6 & 63)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[Int(word & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes, or nil for anything but canonical padded base64.
    static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 4 * 3)
        func value(_ c: UInt8) -> UInt32? {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(c - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(c - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "+"): 62
            case UInt8(ascii: "/"): 63
            default: nil
            }
        }
        var i = 0
        while i < chars.count {
            let last = i + 4 == chars.count
            let pad = chars[i + 3] == UInt8(ascii: "=") ? (chars[i + 2] == UInt8(ascii: "=") ? 2 : 1) : 0
            guard pad == 0 || last else { return nil }
            guard let v0 = value(chars[i]), let v1 = value(chars[i + 1]) else { return nil }
            let v2 = pad == 2 ? 0 : value(chars[i + 2])
            let v3 = pad >= 1 ? 0 : value(chars[i + 3])
            guard let v2, let v3 else { return nil }
            let word = v0 << 18 | v1 << 12 | v2 << 6 | v3
            out.append(UInt8(truncatingIfNeeded: word >> 16))
            if pad < 2 { out.append(UInt8(truncatingIfNeeded: word >> 8)) }
            if pad < 1 { out.append(UInt8(truncatingIfNeeded: word)) }
            // Canonical form only: the bits dropped by the padding must be zero.
            if pad == 2 && v1 & 0xF != 0 { return nil }
            if pad == 1 && v2 & 0x3 != 0 { return nil }
            i += 4
        }
        return out
    }
}

// MARK: - Sketches and counters

extension HyperLogLog: Codable {
    private enum StateKeys: String, CodingKey { case precision, registers }

    /// Rejects a precision outside `precisionRange`, a register count other than
    /// `2^precision` and a register above `65 - precision` (the largest rank `insert` stores).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: StateKeys.self)
        let precision = try c.decode(Int.self, forKey: .precision)
        guard HyperLogLog.precisionRange.contains(precision) else {
            throw DecodingError.dataCorruptedError(forKey: .precision, in: c,
                                                   debugDescription: "HyperLogLog precision \(precision) outside \(HyperLogLog.precisionRange)")
        }
        let text = try c.decode(String.self, forKey: .registers)
        guard let registers = StateBase64.decode(text) else {
            throw DecodingError.dataCorruptedError(forKey: .registers, in: c, debugDescription: "HyperLogLog registers are not base64")
        }
        guard registers.count == 1 << precision else {
            throw DecodingError.dataCorruptedError(
                forKey: .registers, in: c,
                debugDescription: "HyperLogLog of precision \(precision) needs \(1 << precision) registers, got \(registers.count)")
        }
        let maxRank = UInt8(65 - precision)
        if let bad = registers.firstIndex(where: { $0 > maxRank }) {
            throw DecodingError.dataCorruptedError(
                forKey: .registers, in: c,
                debugDescription: "HyperLogLog register \(bad) is \(registers[bad]), above \(maxRank)")
        }
        self.init(precision: precision, registers: registers)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: StateKeys.self)
        try c.encode(precision, forKey: .precision)
        try c.encode(StateBase64.encode(registers), forKey: .registers)
    }
}

extension PacketCounters: Codable {
    private enum StateKeys: String, CodingKey {
        case total, decoded, bytes, ipv4, ipv6, tcp, udp, icmp, icmpv6, otherIP, fragments, nonFirstFragments
        case decodeErrors, firstTimestampNs, lastTimestampNs
    }

    /// Rejects an error array of another length than `DecodeStatus` needs (or had
    /// before the darknet reasons), errors counted
    /// under `ok`, and counters that break the invariants of `add`
    /// (`total == decoded + Σ errors`, `decoded == ipv4 + ipv6 == Σ protocols`, ...).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: StateKeys.self)
        self.init()
        total = try c.decode(UInt64.self, forKey: .total)
        decoded = try c.decode(UInt64.self, forKey: .decoded)
        bytes = try c.decode(UInt64.self, forKey: .bytes)
        ipv4 = try c.decode(UInt64.self, forKey: .ipv4)
        ipv6 = try c.decode(UInt64.self, forKey: .ipv6)
        tcp = try c.decode(UInt64.self, forKey: .tcp)
        udp = try c.decode(UInt64.self, forKey: .udp)
        icmp = try c.decode(UInt64.self, forKey: .icmp)
        icmpv6 = try c.decode(UInt64.self, forKey: .icmpv6)
        otherIP = try c.decode(UInt64.self, forKey: .otherIP)
        fragments = try c.decode(UInt64.self, forKey: .fragments)
        nonFirstFragments = try c.decode(UInt64.self, forKey: .nonFirstFragments)
        var errors = try c.decode([UInt64].self, forKey: .decodeErrors)
        // State saved before the two darknet reasons existed has 12 counters: they were 0 then.
        guard errors.count == decodeErrors.count || errors.count == Int(DecodeStatus.destinationOutsideDarknet.rawValue) else {
            throw DecodingError.dataCorruptedError(
                forKey: .decodeErrors, in: c,
                debugDescription: "\(errors.count) decode-error counters, expected \(decodeErrors.count)")
        }
        errors += Array(repeating: 0, count: decodeErrors.count - errors.count)
        guard errors[Int(DecodeStatus.ok.rawValue)] == 0 else {
            throw DecodingError.dataCorruptedError(forKey: .decodeErrors, in: c, debugDescription: "errors counted under ok")
        }
        decodeErrors = errors
        firstTimestampNs = try c.decodeIfPresent(Int64.self, forKey: .firstTimestampNs)
        lastTimestampNs = try c.decodeIfPresent(Int64.self, forKey: .lastTimestampNs)
        let path = c.codingPath
        guard total == decoded &+ totalErrors else { throw corrupt(path, "total is not decoded + decode errors") }
        guard decoded == ipv4 &+ ipv6, decoded == tcp &+ udp &+ icmp &+ icmpv6 &+ otherIP else {
            throw corrupt(path, "decoded does not match the per-version or per-protocol counters")
        }
        guard nonFirstFragments <= fragments else { throw corrupt(path, "more non-first fragments than fragments") }
        switch (firstTimestampNs, lastTimestampNs) {
        case (nil, nil):
            guard total == 0 else { throw corrupt(path, "packets counted without timestamps") }
        case let (first?, last?):
            guard first <= last, total > 0 else { throw corrupt(path, "inconsistent first/last timestamps") }
        default:
            throw corrupt(path, "only one of first/last timestamp")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: StateKeys.self)
        try c.encode(total, forKey: .total)
        try c.encode(decoded, forKey: .decoded)
        try c.encode(bytes, forKey: .bytes)
        try c.encode(ipv4, forKey: .ipv4)
        try c.encode(ipv6, forKey: .ipv6)
        try c.encode(tcp, forKey: .tcp)
        try c.encode(udp, forKey: .udp)
        try c.encode(icmp, forKey: .icmp)
        try c.encode(icmpv6, forKey: .icmpv6)
        try c.encode(otherIP, forKey: .otherIP)
        try c.encode(fragments, forKey: .fragments)
        try c.encode(nonFirstFragments, forKey: .nonFirstFragments)
        try c.encode(decodeErrors, forKey: .decodeErrors)
        try c.encodeIfPresent(firstTimestampNs, forKey: .firstTimestampNs)
        try c.encodeIfPresent(lastTimestampNs, forKey: .lastTimestampNs)
    }
}

// MARK: - Keys

extension ProtocolPort: Codable {
    private enum StateKeys: String, CodingKey { case ipProtocol = "proto", port }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: StateKeys.self)
        self.init(ipProtocol: try c.decode(UInt8.self, forKey: .ipProtocol), port: try c.decode(UInt16.self, forKey: .port))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: StateKeys.self)
        try c.encode(ipProtocol, forKey: .ipProtocol)
        try c.encode(port, forKey: .port)
    }
}

extension AddressPort: Codable {
    private enum StateKeys: String, CodingKey { case address, ipProtocol = "proto", port }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: StateKeys.self)
        self.init(address: try c.decode(IPAddress.self, forKey: .address),
                  ipProtocol: try c.decode(UInt8.self, forKey: .ipProtocol), port: try c.decode(UInt16.self, forKey: .port))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: StateKeys.self)
        try c.encode(address, forKey: .address)
        try c.encode(ipProtocol, forKey: .ipProtocol)
        try c.encode(port, forKey: .port)
    }
}

// MARK: - Bucket contents

extension PortBucketFigures: Codable {
    private enum StateKeys: String, CodingKey { case key, packets, scanPackets, scanSources }

    /// Rejects more scan packets than packets.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: StateKeys.self)
        self.init(key: try c.decode(ProtocolPort.self, forKey: .key), packets: try c.decode(UInt64.self, forKey: .packets),
                  scanPackets: try c.decode(UInt64.self, forKey: .scanPackets),
                  scanSources: try c.decode(UInt64.self, forKey: .scanSources))
        guard scanPackets <= packets else { throw corrupt(c.codingPath, "more scan packets than packets") }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: StateKeys.self)
        try c.encode(key, forKey: .key)
        try c.encode(packets, forKey: .packets)
        try c.encode(scanPackets, forKey: .scanPackets)
        try c.encode(scanSources, forKey: .scanSources)
    }
}

extension ScanEpisode: Codable {
    private enum StateKeys: String, CodingKey {
        case source, ipProtocol = "proto", port, startNs, endNs, packets, destinations, observedRate, internetRate
        case fingerprint, ongoing
    }

    /// Rejects an end before the start.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: StateKeys.self)
        source = try c.decode(IPAddress.self, forKey: .source)
        ipProtocol = try c.decode(UInt8.self, forKey: .ipProtocol)
        port = try c.decode(UInt16.self, forKey: .port)
        startNs = try c.decode(Int64.self, forKey: .startNs)
        endNs = try c.decode(Int64.self, forKey: .endNs)
        packets = try c.decode(UInt64.self, forKey: .packets)
        destinations = try c.decode(UInt32.self, forKey: .destinations)
        observedRate = try c.decode(Double.self, forKey: .observedRate)
        internetRate = try c.decode(Double.self, forKey: .internetRate)
        fingerprint = try c.decode(ScannerFingerprint.self, forKey: .fingerprint)
        ongoing = try c.decode(Bool.self, forKey: .ongoing)
        guard startNs <= endNs else { throw corrupt(c.codingPath, "scan episode ends before it starts") }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: StateKeys.self)
        try c.encode(source, forKey: .source)
        try c.encode(ipProtocol, forKey: .ipProtocol)
        try c.encode(port, forKey: .port)
        try c.encode(startNs, forKey: .startNs)
        try c.encode(endNs, forKey: .endNs)
        try c.encode(packets, forKey: .packets)
        try c.encode(destinations, forKey: .destinations)
        try c.encode(observedRate, forKey: .observedRate)
        try c.encode(internetRate, forKey: .internetRate)
        try c.encode(fingerprint, forKey: .fingerprint)
        try c.encode(ongoing, forKey: .ongoing)
    }
}

extension BackscatterAttack: Codable {
    private enum StateKeys: String, CodingKey {
        case victim, ipProtocol = "proto", startNs, endNs, packets, peakRate, observedRate, estimatedAttackRate, ongoing
    }

    /// Rejects an end before the start.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: StateKeys.self)
        self.init(victim: try c.decode(IPAddress.self, forKey: .victim), ipProtocol: try c.decode(UInt8.self, forKey: .ipProtocol),
                  startNs: try c.decode(Int64.self, forKey: .startNs), endNs: try c.decode(Int64.self, forKey: .endNs),
                  packets: try c.decode(UInt64.self, forKey: .packets), peakRate: try c.decode(Double.self, forKey: .peakRate),
                  observedRate: try c.decode(Double.self, forKey: .observedRate),
                  estimatedAttackRate: try c.decode(Double.self, forKey: .estimatedAttackRate),
                  ongoing: try c.decode(Bool.self, forKey: .ongoing))
        guard startNs <= endNs else { throw corrupt(c.codingPath, "attack ends before it starts") }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: StateKeys.self)
        try c.encode(victim, forKey: .victim)
        try c.encode(ipProtocol, forKey: .ipProtocol)
        try c.encode(startNs, forKey: .startNs)
        try c.encode(endNs, forKey: .endNs)
        try c.encode(packets, forKey: .packets)
        try c.encode(peakRate, forKey: .peakRate)
        try c.encode(observedRate, forKey: .observedRate)
        try c.encode(estimatedAttackRate, forKey: .estimatedAttackRate)
        try c.encode(ongoing, forKey: .ongoing)
    }
}

// MARK: - BucketSummary

extension BucketSummary: Codable, Equatable {
    /// A `countries` element (tuples are not Codable).
    struct CountryPacketsState: Codable {
        var code: CountryCode
        var packets: UInt64
    }

    /// One watched port's top sources (`watchedTopSources`), encoded in port order.
    struct WatchedPortState: Codable {
        struct Source: Codable {
            var address: IPAddress
            var packets: UInt64
        }
        var port: UInt16
        var sources: [Source]
    }

    /// At most this many sources per watched port (what `closeBucket` keeps).
    static let watchedSourcesPerPort = 5

    private enum StateKeys: String, CodingKey {
        case startNs, lengthNs, counters, classes, sources, ports, portCount, countries, watchedTopSources
        case newScans, newAttacks, topSources
    }

    /// Rejects a non-positive length, a source sketch of another precision than the
    /// aggregator's per-bucket one, a port count below the ports listed, a watched port
    /// listed twice or with more than five sources.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: StateKeys.self)
        startNs = try c.decode(Int64.self, forKey: .startNs)
        lengthNs = try c.decode(Int64.self, forKey: .lengthNs)
        counters = try c.decode(PacketCounters.self, forKey: .counters)
        classes = try c.decode(ClassCounts.self, forKey: .classes)
        sources = try c.decode(HyperLogLog.self, forKey: .sources)
        ports = try c.decode([PortBucketFigures].self, forKey: .ports)
        portCount = try c.decode(Int.self, forKey: .portCount)
        countries = try c.decode([CountryPacketsState].self, forKey: .countries).map { ($0.code, $0.packets) }
        var watched: [UInt16: [(address: IPAddress, packets: UInt64)]] = [:]
        for entry in try c.decode([WatchedPortState].self, forKey: .watchedTopSources) {
            guard watched[entry.port] == nil else {
                throw DecodingError.dataCorruptedError(forKey: .watchedTopSources, in: c,
                                                       debugDescription: "watched port \(entry.port) listed twice")
            }
            guard entry.sources.count <= Self.watchedSourcesPerPort else {
                throw DecodingError.dataCorruptedError(
                    forKey: .watchedTopSources, in: c,
                    debugDescription: "\(entry.sources.count) top sources for port \(entry.port), at most \(Self.watchedSourcesPerPort)")
            }
            watched[entry.port] = entry.sources.map { ($0.address, $0.packets) }
        }
        watchedTopSources = watched
        newScans = try c.decode([ScanEpisode].self, forKey: .newScans)
        newAttacks = try c.decode([BackscatterAttack].self, forKey: .newAttacks)
        // Absent from states written before buckets kept their top sources.
        topSources = try c.decodeIfPresent([WatchedPortState.Source].self, forKey: .topSources)?.map { ($0.address, $0.packets) } ?? []
        guard lengthNs > 0 else {
            throw DecodingError.dataCorruptedError(forKey: .lengthNs, in: c, debugDescription: "bucket length \(lengthNs) ns")
        }
        guard sources.precision == bucketSourcesPrecision else {
            throw DecodingError.dataCorruptedError(
                forKey: .sources, in: c,
                debugDescription: "bucket source sketch of precision \(sources.precision), expected \(bucketSourcesPrecision)")
        }
        guard portCount >= ports.count else {
            throw DecodingError.dataCorruptedError(forKey: .portCount, in: c,
                                                   debugDescription: "port count \(portCount) below the \(ports.count) ports listed")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: StateKeys.self)
        try c.encode(startNs, forKey: .startNs)
        try c.encode(lengthNs, forKey: .lengthNs)
        try c.encode(counters, forKey: .counters)
        try c.encode(classes, forKey: .classes)
        try c.encode(sources, forKey: .sources)
        try c.encode(ports, forKey: .ports)
        try c.encode(portCount, forKey: .portCount)
        try c.encode(countries.map { CountryPacketsState(code: $0.code, packets: $0.packets) }, forKey: .countries)
        let watched = watchedTopSources.keys.sorted().map { port in
            WatchedPortState(port: port, sources: watchedTopSources[port]!.map { .init(address: $0.address, packets: $0.packets) })
        }
        try c.encode(watched, forKey: .watchedTopSources)
        try c.encode(newScans, forKey: .newScans)
        try c.encode(newAttacks, forKey: .newAttacks)
        try c.encode(topSources.map { WatchedPortState.Source(address: $0.address, packets: $0.packets) }, forKey: .topSources)
    }

    public static func == (a: BucketSummary, b: BucketSummary) -> Bool {
        func sameSources(_ x: [(address: IPAddress, packets: UInt64)], _ y: [(address: IPAddress, packets: UInt64)]) -> Bool {
            x.count == y.count && zip(x, y).allSatisfy { $0.address == $1.address && $0.packets == $1.packets }
        }
        return a.startNs == b.startNs && a.lengthNs == b.lengthNs && a.counters == b.counters && a.classes == b.classes
            && a.sources == b.sources && a.ports == b.ports && a.portCount == b.portCount
            && a.countries.count == b.countries.count
            && zip(a.countries, b.countries).allSatisfy { $0.code == $1.code && $0.packets == $1.packets }
            && a.watchedTopSources.count == b.watchedTopSources.count
            && a.watchedTopSources.allSatisfy { port, list in b.watchedTopSources[port].map { sameSources(list, $0) } ?? false }
            && a.newScans == b.newScans && a.newAttacks == b.newAttacks
            && sameSources(a.topSources, b.topSources)
    }
}

// MARK: - RollingWindow

extension RollingWindow: Codable, Equatable {
    private enum StateKeys: String, CodingKey { case capacity, summaries }

    /// Rejects a capacity below 1, more summaries than the capacity, summaries out of time
    /// order or of different bucket lengths, and summaries older than the window reaches
    /// (what `append` would have dropped).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: StateKeys.self)
        let capacity = try c.decode(Int.self, forKey: .capacity)
        guard capacity >= 1 else {
            throw DecodingError.dataCorruptedError(forKey: .capacity, in: c, debugDescription: "window capacity \(capacity)")
        }
        let summaries = try c.decode([BucketSummary].self, forKey: .summaries)
        guard summaries.count <= capacity else {
            throw DecodingError.dataCorruptedError(forKey: .summaries, in: c,
                                                   debugDescription: "\(summaries.count) summaries in a window of \(capacity)")
        }
        if let newest = summaries.last {
            for (older, newer) in zip(summaries, summaries.dropFirst()) where older.startNs >= newer.startNs {
                throw DecodingError.dataCorruptedError(forKey: .summaries, in: c,
                                                       debugDescription: "summaries out of time order at \(newer.startNs)")
            }
            guard summaries.allSatisfy({ $0.lengthNs == newest.lengthNs }) else {
                throw DecodingError.dataCorruptedError(forKey: .summaries, in: c, debugDescription: "summaries of different bucket lengths")
            }
            let oldest = newest.startNs &- Int64(capacity - 1) &* newest.lengthNs
            guard summaries[0].startNs >= oldest else {
                throw DecodingError.dataCorruptedError(forKey: .summaries, in: c,
                                                       debugDescription: "summary older than the window reaches")
            }
        }
        self.init(buckets: capacity)
        self.summaries = summaries
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: StateKeys.self)
        try c.encode(capacity, forKey: .capacity)
        try c.encode(summaries, forKey: .summaries)
    }

    public static func == (a: RollingWindow, b: RollingWindow) -> Bool {
        a.capacity == b.capacity && a.summaries == b.summaries
    }
}

// MARK: - Restoring windows

extension Aggregator {
    /// Puts rolling windows from a snapshot back, e.g. at daemon start.
    ///
    /// Accepted only when they are exactly the configured windows (same number, same
    /// capacities, in order) and every summary lies on this aggregator's bucket grid (same
    /// bucket length and alignment); otherwise nothing changes and the result is false.
    /// Summaries already closed by this aggregator win: restored ones are kept only when
    /// older than the oldest of them. Given `now` (ns since the epoch), summaries that fell
    /// out of the window since the snapshot was taken are dropped.
    @discardableResult
    public mutating func restoreWindows(_ restored: [RollingWindow], now: Int64? = nil) -> Bool {
        guard restored.count == windows.count,
              zip(restored, windows).allSatisfy({ $0.capacity == $1.capacity }) else { return false }
        let lengthNs = buckets.lengthNs
        for window in restored {
            for s in window.summaries {
                guard s.lengthNs == lengthNs, buckets.start(of: buckets.index(of: s.startNs)) == s.startNs else { return false }
            }
        }
        var merged: [RollingWindow] = []
        for (old, fresh) in zip(restored, windows) {
            var w = RollingWindow(buckets: fresh.capacity)
            let firstFresh = fresh.summaries.first?.startNs ?? Int64.max
            var floor = Int64.min
            if let now {
                floor = buckets.start(of: buckets.index(of: now)) &- Int64(fresh.capacity - 1) &* lengthNs
            }
            for s in old.summaries where s.startNs < firstFresh && s.startNs >= floor {
                w.append(s, bucketLengthNs: lengthNs)
            }
            for s in fresh.summaries { w.append(s, bucketLengthNs: lengthNs) }
            merged.append(w)
        }
        windows = merged
        return true
    }
}
