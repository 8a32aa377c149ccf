import Testing
import Decoding
@testable import Aggregation
@testable import Sketches

@Suite struct DestinationSketchTests {
    let hasher = SeededHash(seed0: 7, seed1: 11)

    @Test func emptyEstimatesZeroAndDuplicatesChangeNothing() {
        var s = DestinationSketch()
        #expect(s.isEmpty)
        #expect(s.estimate == 0)
        s.insert(hash: hasher.hash(UInt64(42), 0))
        let once = s
        for _ in 0..<100 { s.insert(hash: hasher.hash(UInt64(42), 0)) }
        #expect(s == once)
        #expect(!s.isEmpty)
        #expect(abs(s.estimate - 1) < 0.05)
    }

    /// For each n, 40 sketches of n distinct items (different seeds): the mean
    /// estimate is unbiased within a few percent, and every estimate lies within
    /// 4 relative standard errors of n (the documented 9.2 %).
    @Test(arguments: [5, 30, 100, 1_000, 10_000, 100_000])
    func estimatesStayWithinTheStatedError(n: Int) {
        var sum = 0.0
        let trials = 40
        for trial in 0..<trials {
            let h = SeededHash(seed0: UInt64(trial) &* 0x9E37_79B9_7F4A_7C15, seed1: UInt64(n))
            var s = DestinationSketch()
            for i in 0..<n { s.insert(hash: h.hash(UInt64(i), 0)) }
            let e = s.estimate
            sum += e
            #expect(abs(e - Double(n)) / Double(n) <= 4 * DestinationSketch.relativeStandardError, "n \(n) trial \(trial): \(e)")
        }
        let mean = sum / Double(trials)
        #expect(abs(mean - Double(n)) / Double(n) <= 0.05, "mean \(mean) for \(n)")
    }

    @Test func mergeIsTheSketchOfTheUnion() {
        var a = DestinationSketch(), b = DestinationSketch(), union = DestinationSketch()
        for i in 0..<500 {
            let x = hasher.hash(UInt64(i), 1)
            if i % 3 == 0 { a.insert(hash: x) } else { b.insert(hash: x) }
            union.insert(hash: x)
        }
        a.merge(b)
        #expect(a == union)
        #expect(a.registers == union.registers)
    }

    /// The cap: a register holds at most 15, and a sketch fed far more than it
    /// can count still gives a finite estimate.
    @Test func registersAreCappedAtFifteen() {
        var s = DestinationSketch()
        s.insert(hash: 0)  // rank of an all-zero upper part: capped
        #expect(s.registers[0] == 15)
        for i in 0..<200_000 { s.insert(hash: hasher.hash(UInt64(i), 2)) }
        #expect(s.registers.allSatisfy { $0 <= 15 })
        #expect(s.estimate.isFinite)
    }
}
