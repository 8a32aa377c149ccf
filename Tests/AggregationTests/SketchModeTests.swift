import Testing
import Decoding
import Synth
@testable import Aggregation
@testable import Sketches

/// The default (sketch) mode against `--exact` on the same records: the
/// figures documented as exact are identical, the estimated ones lie within
/// their stated bounds (docs/sketches.md).
@Suite struct SketchModeTests {
    static func records(packets: Int, seed: UInt64, sources: Int = 20_000) -> [PacketRecord] {
        var config = DarknetTrafficConfig()
        config.packetCount = packets
        config.seed = seed
        config.sourceCount = sources
        var traffic = DarknetTraffic(config: config)
        let decoder = PacketDecoder(linkType: .ethernet)
        var out: [PacketRecord] = []
        out.reserveCapacity(packets)
        while let (time, bytes) = traffic.next() {
            var r = PacketRecord()
            decoder.decode(bytes.span, wireLength: UInt32(bytes.count), timestampNs: time, into: &r)
            out.append(r)
        }
        return out
    }

    static func run(_ records: [PacketRecord], exact: Bool) -> Aggregator {
        var config = AggregationConfig()
        config.exact = exact
        var a = Aggregator(config: config)
        records.withUnsafeBufferPointer { all in
            var start = 0
            while start < all.count {
                let end = min(start + 4096, all.count)
                a.consume(UnsafeBufferPointer(rebasing: all[start..<end]).span)
                start = end
            }
        }
        a.finish()
        return a
    }

    @Test func exactFiguresAreIdenticalAndEstimatesWithinBounds() throws {
        let records = Self.records(packets: 300_000, seed: 3)
        let exact = Self.run(records, exact: true)
        let sketch = Self.run(records, exact: false)

        // Exact in both modes: counters, classes, fingerprints, ports, countries, series.
        #expect(sketch.counters == exact.counters)
        #expect(sketch.classes == exact.classes)
        #expect(sketch.fingerprints == exact.fingerprints)
        // Distinct counts from the pair table: in both modes exact but for the
        // table's evictions (docs/json-schema.md), and the exact mode's table
        // also holds the source-destination pairs, so it evicts more.
        let slack = Int64(exact.pairs.evictions + sketch.pairs.evictions)
        let exactPorts = exact.ports.nonEmptyRows(), sketchPorts = sketch.ports.nonEmptyRows()
        #expect(sketchPorts.count == exactPorts.count)
        var portsDiffering = 0
        for (e, s) in zip(exactPorts, sketchPorts) {
            #expect(e.key == s.key)
            #expect(e.row.packets == s.row.packets && e.row.bytes == s.row.bytes && e.row.classes == s.row.classes, "port \(e.key)")
            #expect(abs(Int64(e.row.sources) - Int64(s.row.sources)) <= slack, "port \(e.key)")
            // Per-port destinations: a DestinationSketch in sketch mode. The exact
            // count overcounts by at most the exact table's evictions; the
            // estimate lies within 4 standard errors (or 3) of the true count.
            let se4 = 4 * DestinationSketch.relativeStandardError
            let trueLow = Double(e.row.destinations) - Double(exact.pairs.evictions), trueHigh = Double(e.row.destinations)
            let estimate = Double(s.row.destinations)
            #expect(estimate >= trueLow * (1 - se4) - 3 && estimate <= trueHigh * (1 + se4) + 3, "port \(e.key)")
            if e.row.destinations <= 128 && exact.pairs.evictions == 0 { #expect(abs(estimate - trueHigh) <= max(3, trueHigh * 0.1)) }
            if e.row.packets != s.row.packets || e.row.sources != s.row.sources { portsDiffering += 1 }
        }
        #expect(sketch.countries.nonEmptyRows().map(\.row) == exact.countries.nonEmptyRows().map(\.row))
        #expect(sketch.series.count == exact.series.count)
        for (e, s) in zip(exact.series, sketch.series) {
            #expect(e.counters == s.counters && e.classes == s.classes && e.sources == s.sources && e.countries == s.countries)
            #expect(e.topPorts.map(\.packets) == s.topPorts.map(\.packets))
        }
        // Scan episodes: destinations are an estimate in sketch mode, so an
        // episode near the 100-destination threshold may qualify in one mode
        // only; every other one is in both, with the same packets and times,
        // and destinations within 4 standard errors.
        let exactScans = exact.scans.report(), sketchScans = sketch.scans.report()
        let se4 = 4 * ScanDetector.destinationRelativeStandardError
        let nearThreshold = Double(AggregationConfig().scan.minDestinations) * (1 + se4)
        let sketchByKey = Dictionary(sketchScans.map { (EpisodeKey($0), $0) }, uniquingKeysWith: { a, _ in a })
        let exactKeys = Set(exactScans.map(EpisodeKey.init))
        var matched = 0
        for e in exactScans {
            guard let s = sketchByKey[EpisodeKey(e)] else {
                #expect(Double(e.destinations) < nearThreshold, "\(e.source) port \(e.port): \(e.destinations) destinations, no episode in sketch mode")
                continue
            }
            matched += 1
            #expect(e.packets == s.packets && e.endNs == s.endNs && e.fingerprint == s.fingerprint)
            let truth = Double(e.destinations)
            #expect(abs(Double(s.destinations) - truth) <= max(3, se4 * truth) + Double(slack), "\(e.source) port \(e.port)")
        }
        for s in sketchScans where !exactKeys.contains(EpisodeKey(s)) {
            #expect(Double(s.destinations) < nearThreshold, "\(s.source) port \(s.port): \(s.destinations) estimated, no episode in exact mode")
        }
        #expect(matched >= exactScans.count * 9 / 10)
        #expect(sketchScans.allSatisfy { UInt64($0.destinations) <= $0.packets })
        print("SketchModeTests: scan episodes exact \(exactScans.count), sketch \(sketchScans.count), in both \(matched)")
        #expect(sketch.backscatter.report() == exact.backscatter.report())

        // Distinct sources: one insert per source and bucket instead of per
        // packet gives the very same HyperLogLog registers.
        #expect(sketch.distinctSources == exact.distinctSources)

        // Per-source distinct destinations: estimates within 4 standard errors
        // (or 3 destinations, for the smallest counts) of the exact count.
        var compared = 0
        var errorSum = 0.0, worst = 0.0, weighted = 0.0, weightedTruth = 0.0
        exact.sourceDetails.forEach { key, e in
            guard let s = sketch.sourceDetails[key] else { return }
            compared += 1
            #expect(s.packets == e.packets && s.classMask == e.classMask && s.firstSeenNs == e.firstSeenNs)
            #expect(abs(Int64(s.ports) - Int64(e.ports)) <= slack)
            let truth = Double(e.exactDestinations)
            let estimate = Double(s.destinations)
            let bound = max(3, 4 * DestinationSketch.relativeStandardError * truth)
            #expect(abs(estimate - truth) <= bound, "\(key): \(estimate) vs \(truth)")
            errorSum += abs(estimate - truth) / truth
            worst = max(worst, abs(estimate - truth) / truth)
            if truth >= 100 { weighted += abs(estimate - truth); weightedTruth += truth }
        }
        #expect(compared > 1_000)
        print("SketchModeTests: pair-table evictions exact \(exact.pairs.evictions), sketch \(sketch.pairs.evictions); "
              + "\(portsDiffering) of \(exactPorts.count) port rows differ in distinct sources")
        print("SketchModeTests: \(compared) sources, per-source destinations: mean |relative error| "
              + "\(errorSum / Double(compared)), worst \(worst), over sources with ≥ 100: \(weighted / max(1, weightedTruth))")

        // Top sources: the same heavy hitters. Counts are exact in both modes
        // while Space-Saving has not replaced an entry; otherwise the true count
        // lies within [count - error, count] in each.
        let exactTop = exact.topSourceRows(20), sketchTop = sketch.topSourceRows(20)
        #expect(Set(exactTop.prefix(10).map(\.entry.key)) == Set(sketchTop.prefix(10).map(\.entry.key)))
        for row in sketchTop {
            let truth = try #require(exact.sourceDetails[row.entry.key]).packets
            #expect(row.entry.count - row.entry.error <= truth && truth <= row.entry.count, "\(row.entry.key)")
        }
    }

    /// A source's first packet in a bucket feeds the per-bucket distinct
    /// sources, also when it was already seen in an earlier bucket.
    @Test func everyBucketCountsItsSources() {
        var a = Aggregator()
        let source = IPAddress(ipv4: Net.scanner)
        a.add(synRecord(source: source, destination: Net.darknet(1), port: 23, time: t0))
        a.add(synRecord(source: source, destination: Net.darknet(2), port: 23, time: t0 + 61 * nsPerSecond))
        a.add(synRecord(source: source, destination: Net.darknet(3), port: 23, time: t0 + 62 * nsPerSecond))
        a.finish()
        #expect(a.series.count == 2)
        #expect(a.series.map { $0.sources.rounded() } == [1, 1])
        #expect(a.topSourceRows(1).first?.entry.count == 3)
        #expect(a.topSourceRows(1).first?.detail?.destinations == 3)
    }
}

/// A scan episode's identity, the same in both modes.
struct EpisodeKey: Hashable {
    var source: IPAddress
    var ipProtocol: UInt8
    var port: UInt16
    var startNs: Int64
    init(_ e: ScanEpisode) {
        source = e.source
        ipProtocol = e.ipProtocol
        port = e.port
        startNs = e.startNs
    }
}
