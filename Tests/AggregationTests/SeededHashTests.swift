import Testing
import Synth
import Decoding
@testable import Aggregation
@testable import Sketches

@Suite struct SeededHashTests {
    @Test func differentSeedsGiveDifferentHashes() {
        let a = SeededHash(seed0: 1, seed1: 2)
        let b = SeededHash(seed0: 1, seed1: 3)
        let c = SeededHash(seed0: 2, seed1: 2)
        var same = 0
        for i in 0..<10_000 {
            let address = IPAddress(ipv4: 0x0A00_0000 | UInt32(i))
            let ha = a.hash(address), hb = b.hash(address), hc = c.hash(address)
            if ha == hb || ha == hc || hb == hc { same += 1 }
        }
        #expect(same == 0)
    }

    @Test func deterministicAcrossRunsAndPinned() {
        // Pinned so that a change to the construction (which would change
        // every replayed table layout and sketch) is a deliberate decision.
        let h = SeededHash(seed0: 0x0123_4567_89AB_CDEF, seed1: 0xFEDC_BA98_7654_3210)
        let again = SeededHash(seed0: 0x0123_4567_89AB_CDEF, seed1: 0xFEDC_BA98_7654_3210)
        let address = IPAddress(ipv4: 0xC000_0201)
        #expect(h.hash(address) == again.hash(address))
        #expect(h.hash(address) == SeededHashTests.pinnedIPv4Hash)
        #expect(h.hash(0, 0) == SeededHashTests.pinnedZeroHash)
    }

    static let pinnedIPv4Hash: UInt64 = 16_508_920_668_955_599_736
    static let pinnedZeroHash: UInt64 = 5_666_352_929_700_263_866

    @Test func hexSeedRoundTrips() throws {
        let h = SeededHash(seed0: 0x0123_4567_89AB_CDEF, seed1: 0x0000_0000_0000_00FF)
        #expect(h.description == "0123456789abcdef00000000000000ff")
        let parsed = try #require(SeededHash(hexSeed: "0x0123456789ABCDEF_00000000000000ff"))
        #expect(parsed == h)
        #expect(SeededHash(hexSeed: "0123") == nil)
        #expect(SeededHash(hexSeed: "zz23456789abcdef00000000000000ff") == nil)
    }

    /// Flipping any single input bit flips about half of the 64 output bits.
    @Test func avalanche() {
        let hasher = SeededHash(seed0: 42, seed1: 4242)
        var rng = SplitMix64(seed: 7)
        let samples = 1_000
        var flips = [Int](repeating: 0, count: 128)
        for _ in 0..<samples {
            let a = rng.next(), b = rng.next()
            let base = hasher.hash(a, b)
            for bit in 0..<64 {
                flips[bit] += (base ^ hasher.hash(a ^ (1 << UInt64(bit)), b)).nonzeroBitCount
                flips[64 + bit] += (base ^ hasher.hash(a, b ^ (1 << UInt64(bit)))).nonzeroBitCount
            }
        }
        let perBit = flips.map { Double($0) / Double(samples) }
        let overall = perBit.reduce(0, +) / Double(perBit.count)
        let worst = perBit.map { abs($0 - 32) }.max() ?? 0
        print("avalanche: mean flipped bits \(overall), worst input bit deviates by \(worst)")
        #expect(abs(overall - 32) < 0.5)
        for (bit, mean) in perBit.enumerated() {
            #expect(abs(mean - 32) < 4, "input bit \(bit): \(mean) output bits flip on average")
        }
    }

    /// Output bits are individually balanced for structured (prefix-sharing,
    /// sequential) inputs: each bit is set in about half of the hashes.
    @Test func outputBitsBalancedOnSequentialAddresses() {
        let hasher = SeededHash(seed0: 9, seed1: 99)
        let n = 20_000
        var ones = [Int](repeating: 0, count: 64)
        for i in 0..<n {
            let h = hasher.hash(IPAddress(ipv4: 0xC633_0000 | UInt32(i)))
            for bit in 0..<64 where h & (1 << UInt64(bit)) != 0 { ones[bit] += 1 }
        }
        // Binomial sd = sqrt(n)/2 ~ 71; allow 5 sd.
        for (bit, count) in ones.enumerated() {
            #expect(abs(count - n / 2) < 355, "output bit \(bit) set \(count) of \(n) times")
        }
    }

    @Test func keyTypesHashAllFields() {
        let hasher = SeededHash(seed0: 5, seed1: 6)
        let address = IPAddress(ipv4: 0x0A00_0001)
        let a = AddressPort(address: address, ipProtocol: 6, port: 80)
        let b = AddressPort(address: address, ipProtocol: 17, port: 80)
        let c = AddressPort(address: address, ipProtocol: 6, port: 81)
        #expect(Set([hasher.hash(a), hasher.hash(b), hasher.hash(c), hasher.hash(address)]).count == 4)
        let p = ProtocolPort(ipProtocol: 6, port: 23)
        let q = ProtocolPort(ipProtocol: 17, port: 23)
        #expect(hasher.hash(p) != hasher.hash(q))
        #expect(p.description == "tcp/23" && q.description == "udp/23")
    }
}
