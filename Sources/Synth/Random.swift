/// SplitMix64 (Steele, Lea, Flood 2014): a 64-bit counter through a strong
/// mixer. Used to seed `Xoshiro256StarStar` and as a stateless hash
/// (`mix`) for per-index attributes.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// The SplitMix64 finaliser: a bijection on UInt64 with good avalanche.
    @inlinable public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256** (Blackman, Vigna 2018). Fast, 256 bits of state, seeded from
/// SplitMix64 as its authors recommend. Same seed, same stream, on every
/// platform: the generator draws all its randomness from here, never from
/// the system.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    @usableFromInline var s0: UInt64
    @usableFromInline var s1: UInt64
    @usableFromInline var s2: UInt64
    @usableFromInline var s3: UInt64

    public init(seed: UInt64) {
        var seeder = SplitMix64(seed: seed)
        s0 = seeder.next()
        s1 = seeder.next()
        s2 = seeder.next()
        s3 = seeder.next()
    }

    @inlinable public mutating func next() -> UInt64 {
        let result = rotateLeft(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotateLeft(s3, 45)
        return result
    }

    /// Uniform in `0..<bound` by multiply-high (Lemire); bias below
    /// bound / 2^64, irrelevant for traffic synthesis. 0 when bound is 0.
    @inlinable public mutating func next(below bound: UInt64) -> UInt64 {
        next().multipliedFullWidth(by: bound).high
    }

    /// Uniform integer in `range`.
    @inlinable public mutating func next(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next(below: UInt64(range.upperBound - range.lowerBound) + 1))
    }

    /// Uniform in [0, 1) with 53 bits.
    @inlinable public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// True with probability `probability`.
    @inlinable public mutating func chance(_ probability: Double) -> Bool {
        nextUnit() < probability
    }

    @inlinable public mutating func nextUInt32() -> UInt32 { UInt32(truncatingIfNeeded: next() >> 32) }
    @inlinable public mutating func nextUInt16() -> UInt16 { UInt16(truncatingIfNeeded: next() >> 48) }
}

@inlinable func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
