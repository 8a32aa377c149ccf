import Aggregation
import ArgumentParser
import Capture
import Foundation
import Service
import Synth

struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Read pcap/pcapng files through the sensor's decoder and ring, and print a summary."
    )

    @Option(name: .long, parsing: .upToNextOption, help: "Capture files (pcap or pcapng), read in timestamp order.")
    var pcap: [String] = []

    @Option(name: .long, help: "Output format: text or json.")
    var format: OutputFormat = .text

    @Flag(name: .long, help: "Analyze a built-in synthetic darknet capture (200,000 packets, generated to a temporary file).")
    var demo = false

    @Flag(name: .long, help: "Exit non-zero if any file could not be read to its end.")
    var strict = false

    @Option(name: .long, help: "List at most N ports and N top sources (default: every port, 100 sources).")
    var top: Int?

    @OptionGroup var aggregation: AggregationOptions

    func validate() throws {
        if pcap.isEmpty && !demo { throw ValidationError("give at least one capture with --pcap FILE, or --demo") }
        if !pcap.isEmpty && demo { throw ValidationError("--demo replaces --pcap; give one or the other") }
        if let top, top < 1 { throw ValidationError("--top must be at least 1") }
    }

    func run() throws {
        var files = pcap
        var cleanup: String?
        defer { if let cleanup { try? FileManager.default.removeItem(atPath: cleanup) } }
        if demo {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("darknetd-demo-\(getpid())")
            try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let path = dir.appendingPathComponent("demo.pcap").path
            cleanup = dir.path
            var config = DarknetTrafficConfig()
            config.packetCount = 200_000
            config.pace = .packetsPerSecond(100)
            config.surge = DarknetTrafficConfig.Surge(startOffsetNs: 900_000_000_000, endOffsetNs: 1_080_000_000_000, packetsPerSecond: 300)
            do {
                let written = try GenerateCommand.write(config: config, to: path, format: .pcap)
                note("demo: generated \(written) synthetic darknet packets (seed 1, with a UDP/53 surge) in \(path)")
            } catch {
                throw fail("demo: \(error)")
            }
            files = [path]
        }
        let source: PacketSource
        do {
            source = try PacketSource.openFiles(files)
        } catch {
            throw fail(error.description)
        }
        var aggregator = Aggregator(config: aggregation.config(), geoip: try aggregation.openGeoIP())
        let run = Pipeline().run(source: source, consumer: &aggregator)
        aggregator.finish()
        let report = AnalysisReport(aggregator: aggregator, run: run, live: false, topPorts: top, topSources: top ?? 100)
        if format == .json {
            let out = OutputBuffer()
            report.writeJSON { out.write($0) }
            out.flush()
        } else {
            print(TextSummary.report(report))
        }
        let failed = run.sources.filter { $0.error != nil }
        for source in failed { note("\(source.error!) (after \(source.packets) packets)") }
        if strict && !failed.isEmpty { throw ExitCode(2) }
    }
}
