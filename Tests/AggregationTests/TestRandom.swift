/// Deterministic generator for reproducible test streams (SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// `n` distinct pseudo-random values: i -> i * a + b (mod 2^32) with odd `a`
/// is a bijection, so no accidental duplicates muddy the expected count.
func distinctUInt32(_ n: Int, rng: inout SplitMix64) -> [UInt32] {
    precondition(n <= 1 << 32)
    let a = UInt32(truncatingIfNeeded: rng.next()) | 1
    let b = UInt32(truncatingIfNeeded: rng.next())
    return (0..<n).map { UInt32(truncatingIfNeeded: $0) &* a &+ b }
}
