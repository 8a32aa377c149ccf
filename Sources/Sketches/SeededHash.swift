import Decoding

/// A fast seeded 64-bit hash for small fixed-size keys (addresses, ports,
/// address/port pairs).
///
/// Why not the raw address bits: source addresses are chosen by the sender
/// (spoofed floods, scanners walking a range) and every destination of a
/// darknet shares its prefix. Indexing a table or an HLL register by address
/// bits would let traffic pile into one bucket. Every sketch and table in this
/// module therefore hashes through a `SeededHash` whose 128-bit secret comes
/// from the configuration.
///
/// Construction (wyhash-style multiply-fold, with the "condom" variant that
/// xors the product back into its inputs so a zero factor cannot wipe a word):
///
///     x = a ^ k0,  y = b ^ k1
///     (lo, hi) = x * y            (full 128-bit product)
///     x ^= lo, y ^= hi
///     h = fold((x ^ P0) * (y ^ P1)) (fold = high ^ low of the 128-bit product)
///     return fmix(h)              (xor-shift-multiply finaliser)
///
/// `k0`, `k1` are derived from the seed with SplitMix64, so related seeds give
/// unrelated keys. The finaliser costs three cycles and makes single-bit input
/// changes flip about half the output bits (the multiply-fold alone leaves a
/// few weak output bits). Not a MAC: it resists hash flooding by an attacker
/// who does not know the seed, which is the threat here.
///
/// Determinism: the same seed gives the same hashes on every run and platform
/// (pure 64-bit integer arithmetic), so an offline replay with the configured
/// seed reproduces table layouts, evictions and sketch contents exactly.
public struct SeededHash: Sendable, BitwiseCopyable, Equatable, CustomStringConvertible {
    /// The configured 128-bit seed, as two words.
    public let seed0: UInt64
    public let seed1: UInt64
    @usableFromInline let k0: UInt64
    @usableFromInline let k1: UInt64

    @usableFromInline static let p0: UInt64 = 0xA076_1D64_78BD_642F
    @usableFromInline static let p1: UInt64 = 0xE703_7ED1_A0B4_28DB

    public init(seed0: UInt64, seed1: UInt64) {
        self.seed0 = seed0
        self.seed1 = seed1
        var state = seed0 ^ 0x243F_6A88_85A3_08D3
        let a = SeededHash.splitMix64(&state)
        state ^= seed1
        let b = SeededHash.splitMix64(&state)
        self.k0 = a
        self.k1 = b | 1
    }

    /// Parses a seed written as 32 hexadecimal digits (an optional `0x` prefix
    /// and `_`/`-` separators are ignored), as it appears in configuration.
    public init?(hexSeed text: some StringProtocol) {
        var digits: [UInt8] = []
        var body = Substring(text)
        if body.hasPrefix("0x") || body.hasPrefix("0X") { body = body.dropFirst(2) }
        for byte in body.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits.append(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digits.append(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digits.append(byte - UInt8(ascii: "A") + 10)
            case UInt8(ascii: "_"), UInt8(ascii: "-"): continue
            default: return nil
            }
        }
        guard digits.count == 32 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for d in digits[0..<16] { high = high << 4 | UInt64(d) }
        for d in digits[16..<32] { low = low << 4 | UInt64(d) }
        self.init(seed0: high, seed1: low)
    }

    /// A seed from the system's random source, for live capture where replay
    /// determinism is not wanted and flooding resistance is.
    public static func random() -> SeededHash {
        var generator = SystemRandomNumberGenerator()
        return SeededHash(seed0: generator.next(), seed1: generator.next())
    }

    /// The seed as 32 hex digits (round-trips through `init(hexSeed:)`).
    /// Names the key without revealing it: the key's hash of a fixed input.
    /// Snapshots record it, so state made under another key is not restored.
    public var keyID: UInt64 { hash(UInt64(0x6B65_7949_4420_7631), UInt64(0x6461_726B_6E65_7464)) }

    public var description: String {
        func hex(_ v: UInt64) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
        return hex(seed0) + hex(seed1)
    }

    @usableFromInline
    static func splitMix64(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Hash of two 64-bit words.
    @inlinable @inline(__always)
    public func hash(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var x = a ^ k0
        var y = b ^ k1
        let product = x.multipliedFullWidth(by: y)
        x ^= product.low
        y ^= product.high
        let folded = (x ^ SeededHash.p0).multipliedFullWidth(by: y ^ SeededHash.p1)
        var h = folded.high ^ folded.low
        h = (h ^ (h >> 32)) &* 0xD6E8_FEB8_6659_FD93
        return h ^ (h >> 32)
    }

    /// Hash of three 64-bit words: the first two are compressed with the
    /// seeded hash, then the result is hashed with the third. Never combine
    /// fields by xor before hashing: that creates collisions the seed cannot
    /// break.
    @inlinable @inline(__always)
    public func hash(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 {
        hash(hash(a, b), c)
    }

    @inlinable @inline(__always)
    public func hash(_ address: IPAddress) -> UInt64 {
        hash(address.high, address.low)
    }

    @inlinable @inline(__always)
    public func hash<Key: SeededHashable>(_ key: Key) -> UInt64 {
        key.seededHash(using: self)
    }
}

/// A fixed-size key that hashes through a `SeededHash`.
public protocol SeededHashable: Hashable, Sendable {
    /// Filler for the unused slots of fixed-capacity storage. Never reported
    /// as a key: tables track occupancy separately.
    static var zero: Self { get }
    func seededHash(using hasher: SeededHash) -> UInt64
}

extension IPAddress: SeededHashable {
    @inlinable @inline(__always)
    public func seededHash(using hasher: SeededHash) -> UInt64 {
        hasher.hash(high, low)
    }
}

extension UInt64: SeededHashable {
    @inlinable @inline(__always)
    public func seededHash(using hasher: SeededHash) -> UInt64 {
        hasher.hash(self, 0)
    }
}

extension UInt32: SeededHashable {
    @inlinable @inline(__always)
    public func seededHash(using hasher: SeededHash) -> UInt64 {
        hasher.hash(UInt64(self), 0)
    }
}

/// An L4 service: IP protocol and port (e.g. TCP/23, UDP/123).
public struct ProtocolPort: SeededHashable, Comparable, BitwiseCopyable, CustomStringConvertible {
    public var ipProtocol: UInt8
    public var port: UInt16

    @inlinable public init(ipProtocol: UInt8, port: UInt16) {
        self.ipProtocol = ipProtocol
        self.port = port
    }

    public static let zero = ProtocolPort(ipProtocol: 0, port: 0)

    @inlinable @inline(__always)
    public func seededHash(using hasher: SeededHash) -> UInt64 {
        hasher.hash(UInt64(ipProtocol) << 16 | UInt64(port), 0)
    }

    public static func < (a: ProtocolPort, b: ProtocolPort) -> Bool {
        a.ipProtocol != b.ipProtocol ? a.ipProtocol < b.ipProtocol : a.port < b.port
    }

    public var description: String {
        switch ipProtocol {
        case IPProtocolNumber.tcp: "tcp/\(port)"
        case IPProtocolNumber.udp: "udp/\(port)"
        default: "proto\(ipProtocol)/\(port)"
        }
    }
}

/// An address together with an L4 service (source -> destination port, or
/// destination address -> port).
public struct AddressPort: SeededHashable, Comparable, BitwiseCopyable {
    public var address: IPAddress
    public var ipProtocol: UInt8
    public var port: UInt16

    @inlinable public init(address: IPAddress, ipProtocol: UInt8, port: UInt16) {
        self.address = address
        self.ipProtocol = ipProtocol
        self.port = port
    }

    public static let zero = AddressPort(address: .zero, ipProtocol: 0, port: 0)

    @inlinable @inline(__always)
    public func seededHash(using hasher: SeededHash) -> UInt64 {
        hasher.hash(address.high, address.low, UInt64(ipProtocol) << 16 | UInt64(port))
    }

    public static func < (a: AddressPort, b: AddressPort) -> Bool {
        if a.address != b.address { return a.address < b.address }
        if a.ipProtocol != b.ipProtocol { return a.ipProtocol < b.ipProtocol }
        return a.port < b.port
    }
}
