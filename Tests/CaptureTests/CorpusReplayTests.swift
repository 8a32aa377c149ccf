import Aggregation
import Capture
import Decoding
import Foundation
import Pipeline
import Testing

/// `../shared/corpus/pcap/` beside the checkout: real captures from public
/// projects, many malformed on purpose. Absent for outside users: skipped.
enum Corpus {
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/corpus")
    }

    static var pcapFiles: [String] {
        let dir = root.appendingPathComponent("pcap")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return [] }
        return names.sorted().map { dir.appendingPathComponent($0).path }
    }

    static var available: Bool { !pcapFiles.isEmpty }
}

@Suite struct CorpusReplayTests {
    @Test(.enabled(if: Corpus.available, "../shared/corpus/pcap is not beside the checkout"))
    func everyCaptureIsReadOrRejectedClearly() throws {
        var read = 0
        var rejected: [String: String] = [:]
        var stoppedEarly: [String: String] = [:]
        var totals = PacketCounters()
        for path in Corpus.pcapFiles {
            let name = URL(fileURLWithPath: path).lastPathComponent
            let source: PacketSource
            do {
                source = try PacketSource.openFiles([path])
            } catch {
                // A clear, one-line reason naming the file.
                #expect(error.description.contains(path), "\(name): \(error)")
                #expect(!error.description.contains("\n"))
                rejected[name] = error.description
                continue
            }
            var aggregator = Aggregator(config: {
                var c = AggregationConfig()
                c.pairSlots = 1 << 12
                return c
            }())
            let run = Pipeline().run(source: source, consumer: &aggregator)
            aggregator.finish()
            read += 1
            let c = aggregator.counters
            #expect(c.total == c.decoded + c.totalErrors, "\(name)")
            #expect(run.ring.captured == run.ring.consumed + run.ring.ringDropped + run.ring.inFlight)
            #expect(run.ring.ringDropped == 0)
            #expect(c.total == run.sources.reduce(0) { $0 + $1.packets }, "\(name)")
            if let error = run.sources.first?.error { stoppedEarly[name] = error }
            totals.merge(c)
        }
        print("corpus: \(read) read, \(rejected.count) rejected, \(stoppedEarly.count) stopped early; \(totals.total) records, \(totals.decoded) decoded")
        for (name, why) in rejected.sorted(by: { $0.key < $1.key }) { print("  rejected \(name): \(why)") }
        #expect(read > 80)
        #expect(totals.decoded > 10_000)
        // Malformed captures exercise the named reasons.
        let used = DecodeStatus.errorCases.filter { totals.errors($0) > 0 }.map(\.name)
        print("decode-error reasons used: \(used)")
        for reason in [DecodeStatus.truncatedIP, .badIPVersion, .badIPHeaderLength, .nonIP, .truncatedLink] {
            #expect(totals.errors(reason) > 0, "\(reason.name) never used by the corpus")
        }
        // Known cases from MANIFEST.tsv.
        #expect(rejected.keys.contains("libpcap__pcap-invalid-version-1.pcap"))
        #expect(rejected.keys.contains("tcpdump__e1000g.pcap"))  // Solaris IPNET: unsupported, named
    }

    @Test(.enabled(if: Corpus.available, "../shared/corpus/pcap is not beside the checkout"))
    func knownScanCapturesClassifyAsExpected() throws {
        let dir = Corpus.root.appendingPathComponent("pcap")
        var aggregator = Aggregator()
        let source = try PacketSource.openFiles([dir.appendingPathComponent("esnet__masscan_tcp_0_1000_20190821.pcap").path])
        _ = Pipeline().run(source: source, consumer: &aggregator)
        aggregator.finish()
        // MANIFEST: masscan SYN scan of ports 0-1000 against one host (1005 pkts, syn=1001, rst=4, VLAN-tagged).
        #expect(aggregator.counters.total == 1005)
        #expect(aggregator.classes.scan == 1001)
        #expect(aggregator.classes.backscatter == 4)
        #expect(aggregator.fingerprints[Int(ScannerFingerprint.masscan.rawValue)] == 1001)
        let top = try #require(aggregator.topSourceRows(1).first)
        #expect(top.detail?.fingerprint == .masscan)
        #expect(top.detail?.ports == 1001)
    }
}
