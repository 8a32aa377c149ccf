import Testing
import Synth
import Decoding
@testable import Aggregation
@testable import Sketches

@Suite struct HyperLogLogTests {
    static let hasher = SeededHash(seed0: 0x5EED_0001, seed1: 0x5EED_0002)

    static func ipv4(_ n: Int, seed: UInt64) -> [IPAddress] {
        var rng = SplitMix64(seed: seed)
        return distinctUInt32(n, rng: &rng).map { IPAddress(ipv4: $0) }
    }

    static func ipv6(_ n: Int, seed: UInt64) -> [IPAddress] {
        var rng = SplitMix64(seed: seed)
        // All in 2001:db8::/32, random /64s, distinct interface IDs.
        let ids = distinctUInt32(n, rng: &rng)
        return ids.map { id in
            IPAddress(high: 0x2001_0DB8_0000_0000 | (rng.next() & 0xFFFF_FFFF), low: UInt64(id) << 16 | 0x1)
        }
    }

    static func sketch(_ addresses: [IPAddress]) -> HyperLogLog {
        var hll = HyperLogLog()
        for a in addresses { hll.insert(hash: hasher.hash(a)) }
        return hll
    }

    @Test(arguments: [1_000, 100_000, 1_000_000])
    func ipv4EstimateWithinThreePercent(n: Int) {
        let hll = Self.sketch(Self.ipv4(n, seed: UInt64(n)))
        let error = (hll.estimate - Double(n)) / Double(n)
        print("HLL p=14 IPv4 n=\(n): estimate \(hll.estimate), relative error \(error), standard error \(hll.relativeStandardError)")
        #expect(abs(error) < 0.03)
        #expect(abs(error) < 3 * hll.relativeStandardError)
    }

    @Test(arguments: [1_000, 100_000, 1_000_000])
    func ipv6EstimateWithinThreePercent(n: Int) {
        let hll = Self.sketch(Self.ipv6(n, seed: UInt64(n) &+ 17))
        let error = (hll.estimate - Double(n)) / Double(n)
        print("HLL p=14 IPv6 n=\(n): estimate \(hll.estimate), relative error \(error)")
        #expect(abs(error) < 0.03)
    }

    /// Across the small-range / large-range transition (n around 2.5m..5m,
    /// where classic HLL switches estimators) and several seeds, every
    /// estimate is within three standard errors.
    @Test func withinThreeStandardErrorsAcrossRanges() {
        var worst = 0.0
        for n in [0, 1, 10, 100, 5_000, 20_000, 40_000, 60_000, 80_000] {
            for seed in 1...3 as ClosedRange<UInt64> {
                let hll = Self.sketch(Self.ipv4(n, seed: seed &* 1_000 &+ UInt64(n)))
                if n == 0 {
                    #expect(hll.estimate == 0)
                    continue
                }
                let error = abs(hll.estimate - Double(n)) / Double(n)
                worst = max(worst, error / hll.relativeStandardError)
                #expect(error < 3 * hll.relativeStandardError, "n=\(n) seed=\(seed): estimate \(hll.estimate)")
            }
        }
        print("HLL worst |error| across ranges: \(worst) standard errors")
    }

    @Test func lowerPrecisionHasLargerButHonestError() {
        var hll = HyperLogLog(precision: 10)
        for a in Self.ipv4(50_000, seed: 3) { hll.insert(hash: Self.hasher.hash(a)) }
        #expect(hll.registerCount == 1024)
        #expect(abs(hll.relativeStandardError - 1.04 / 32) < 1e-12)
        #expect(abs(hll.estimate - 50_000) / 50_000 < 3 * hll.relativeStandardError)
    }

    @Test func mergeEqualsSketchOfUnion() {
        let a = Self.ipv4(60_000, seed: 11)
        let b = Self.ipv6(30_000, seed: 12) + Array(a[0..<20_000])  // overlapping streams
        var merged = Self.sketch(a)
        merged.merge(Self.sketch(b))
        let union = Self.sketch(a + b)
        #expect(merged == union)
        #expect(merged.estimate == union.estimate)
        let truth = 90_000.0
        #expect(abs(merged.estimate - truth) / truth < 3 * merged.relativeStandardError)
    }

    @Test func duplicatesDoNotChangeTheSketch() {
        let addresses = Self.ipv4(10_000, seed: 21)
        let once = Self.sketch(addresses)
        var thrice = once
        for a in addresses.reversed() + addresses { thrice.insert(hash: Self.hasher.hash(a)) }
        #expect(thrice == once)
        #expect(thrice.estimate == once.estimate)
    }

    @Test func emptyAndReset() {
        var hll = HyperLogLog(precision: 12)
        #expect(hll.isEmpty && hll.estimate == 0)
        hll.insert(hash: Self.hasher.hash(IPAddress(ipv4: 1)))
        #expect(!hll.isEmpty)
        #expect(abs(hll.estimate - 1) < 0.01)
        hll.reset()
        #expect(hll.isEmpty && hll.estimate == 0)
        #expect(hll.memoryBytes == 4096)
    }
}
