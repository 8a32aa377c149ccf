import Synth

/// `n` distinct pseudo-random values: i -> i * a + b (mod 2^32) with odd `a`
/// is a bijection, so no accidental duplicates muddy the expected count.
func distinctUInt32(_ n: Int, rng: inout SplitMix64) -> [UInt32] {
    precondition(n <= 1 << 32)
    let a = UInt32(truncatingIfNeeded: rng.next()) | 1
    let b = UInt32(truncatingIfNeeded: rng.next())
    return (0..<n).map { UInt32(truncatingIfNeeded: $0) &* a &+ b }
}
