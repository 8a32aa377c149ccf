import Decoding

/// A fixed-size, direct-mapped cache of countries in front of a
/// `GeoIPDatabase`: what the per-packet path calls. An MMDB lookup is a
/// tree walk of up to 128 steps plus a data decode (hundreds of ns); a hit
/// here is a hash, one 16-byte slot load and a compare.
///
/// Granularity: entries are keyed by the IPv4 /24 or the IPv6 /48 of the
/// address, so one database lookup answers every address of that block.
/// Country data is rarely finer than that: /24 (IPv4) and /48 (IPv6) are
/// the longest prefixes routed on the Internet. Rarely is not never: the
/// DB-IP City Lite that install-deps.sh installs splits 11,839 /24s and
/// 2,524 /48s between countries; addresses in such a block get the country
/// of whichever one was looked up first while that slot lives. Darknet sources also arrive in bursts from the same
/// scanners' blocks, so keying by block raises the hit rate as well.
///
/// Addresses in `::/48` that are not IPv4 (`::1`, IPv4-compatible `::a.b.c.d`
/// and the rest of the space where MaxMind trees keep IPv4) bypass the
/// cache and go to the database every time: there the /48 rule does not
/// hold. They are rare on the wire.
///
/// A `nil` database allocates nothing and answers `.unknown` at the cost of
/// one branch. Memory: 16 bytes per slot (1 MiB for the default 65,536).
/// No allocation per lookup. Not shared between threads: each consumer
/// keeps its own (the database behind it is shared and thread-safe).
public struct CountryCache: Sendable {
    public let database: GeoIPDatabase?
    /// Number of slots (a power of two).
    public let capacity: Int
    /// Lookups answered without a walk of the database's tree: a cache slot,
    /// or for IPv4 the database's in-memory ranges.
    public var hits: UInt64 { hitCount }
    /// Lookups that went to the database (including bypasses).
    public var misses: UInt64 { missCount }

    @usableFromInline var hitCount: UInt64 = 0
    @usableFromInline var missCount: UInt64 = 0

    @usableFromInline
    struct Slot: BitwiseCopyable, Sendable {
        /// Tagged block key; 0 is an empty slot.
        @usableFromInline var key: UInt64
        @usableFromInline var country: CountryCode

        @inlinable init(key: UInt64, country: CountryCode) {
            self.key = key
            self.country = country
        }
    }

    @usableFromInline var slots: [Slot]
    @usableFromInline let shift: UInt64

    /// - Parameter capacityLog2: log2 of the number of slots (default 16:
    ///   65,536 slots). Clamped to 4...24.
    public init(database: GeoIPDatabase?, capacityLog2: Int = 16) {
        let bits = min(max(capacityLog2, 4), 24)
        self.database = database
        self.capacity = 1 << bits
        self.shift = UInt64(64 - bits)
        self.slots = database == nil ? [] : Array(repeating: Slot(key: 0, country: .unknown), count: 1 << bits)
    }

    /// The country of `address`, from the cache when its block was seen
    /// while its slot held it, else from the database (then remembered).
    @inlinable
    public mutating func country(of address: IPAddress) -> CountryCode {
        guard database != nil else { return .unknown }
        return cachedCountry(of: address)
    }

    @inlinable
    mutating func cachedCountry(of address: IPAddress) -> CountryCode {
        guard let database else { return .unknown }
        // IPv4 with the ranges in memory: exact for every address and about
        // as cheap as a cache slot, so no cache (whose /24 key is not exact
        // where a database splits a /24 between countries).
        if address.isIPv4, let ranges = database.ipv4Ranges {
            hitCount &+= 1
            return ranges.country(of: address.ipv4)
        }
        let key: UInt64
        if address.isIPv4 {
            // Tag 1 in bit 48, the /24 in the low 24 bits.
            key = 1 << 48 | UInt64(address.ipv4 >> 8)
        } else if address.high >> 16 != 0 {
            // Tag 2 in bits 48-49, the /48 in the low 48 bits.
            key = 2 << 48 | address.high >> 16
        } else {
            missCount &+= 1
            return database.country(of: address)
        }
        let index = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
        let slot = slots[index]
        if slot.key == key {
            hitCount &+= 1
            return slot.country
        }
        missCount &+= 1
        let country = database.country(of: address)
        slots[index] = Slot(key: key, country: country)
        return country
    }

    /// Share of lookups answered from the cache (0 before any lookup).
    public var hitRatio: Double {
        let total = hits &+ misses
        return total == 0 ? 0 : Double(hits) / Double(total)
    }

    /// Forgets every entry; the counters stay.
    public mutating func removeAll() {
        guard !slots.isEmpty else { return }
        for index in slots.indices { slots[index].key = 0 }
    }
}
