import Testing
import Decoding
import Synth
@testable import Aggregation
@testable import Sketches

@Suite struct CacheHintsTests {
    /// Huge-page backing is only advice: the array must hold exactly what was
    /// asked for, below and above the 2 MiB threshold and at odd sizes.
    @Test(arguments: [1, 1000, 262_144, 262_145, 1 << 21])
    func hugePageBackedArraysHoldTheirValues(count: Int) {
        let array = ContiguousArray<UInt64>.hugePageBacked(repeating: 0xA5A5, count: count)
        #expect(array.count == count)
        #expect(array.allSatisfy { $0 == 0xA5A5 })
        // A prefetch of any element is harmless and changes nothing.
        array.prefetch(0)
        array.prefetch(count - 1)
        #expect(array.first == 0xA5A5 && array.last == 0xA5A5)
    }

    /// Prefetching a record ahead must not change what `add` computes: the
    /// same records through `consume` (with prefetches) and through `add`
    /// one by one give the same aggregates.
    @Test func prefetchingDoesNotChangeResults() {
        var rng = SplitMix64(seed: 11)
        var records: [PacketRecord] = []
        for i in 0..<20_000 {
            var r = PacketRecord()
            r.timestampNs = 1_700_000_000_000_000_000 + Int64(i) * 1_000_000
            r.ipVersion = 4
            r.ipProtocol = 6
            r.flags = [.hasPorts, .hasTCP]
            r.tcpFlags = 0x02
            r.source = IPAddress(ipv4: 0xC612_0000 | UInt32(truncatingIfNeeded: rng.next() % 3000))
            r.destination = IPAddress(ipv4: 0xC633_6400 | UInt32(truncatingIfNeeded: rng.next() % 256))
            r.destinationPort = UInt16(truncatingIfNeeded: rng.next() % 50)
            r.wireLength = 60
            r.capturedLength = 60
            records.append(r)
        }
        var batched = Aggregator()
        records.withUnsafeBufferPointer { batched.consume($0.span) }
        batched.finish()
        var single = Aggregator()
        for r in records { single.add(r) }
        single.finish()
        #expect(batched.counters == single.counters)
        #expect(batched.series == single.series)
        #expect(batched.ports.rows == single.ports.rows)
        #expect(batched.topSourceRows(50).map { "\($0.entry.key) \($0.entry.count) \($0.detail?.destinations ?? 0) \($0.detail?.ports ?? 0)" }
                == single.topSourceRows(50).map { "\($0.entry.key) \($0.entry.count) \($0.detail?.destinations ?? 0) \($0.detail?.ports ?? 0)" })
        #expect(batched.scans.episodeCount == single.scans.episodeCount)
    }
}
