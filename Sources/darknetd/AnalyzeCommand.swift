import Aggregation
import ArgumentParser
import Capture
import Foundation
import Service

struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Read pcap/pcapng files through the sensor's decoder and ring, and print a summary."
    )

    @Option(name: .long, parsing: .upToNextOption, help: "Capture files (pcap or pcapng), read in timestamp order.")
    var pcap: [String] = []

    @Option(name: .long, help: "Output format: text or json.")
    var format: OutputFormat = .text

    @Flag(name: .long, help: "Exit non-zero if any file could not be read to its end.")
    var strict = false

    @Option(name: .long, help: "List at most N ports and N top sources (default: every port, 100 sources).")
    var top: Int?

    @OptionGroup var aggregation: AggregationOptions

    func validate() throws {
        if pcap.isEmpty { throw ValidationError("give at least one capture with --pcap FILE") }
        if let top, top < 1 { throw ValidationError("--top must be at least 1") }
    }

    func run() throws {
        let source: PacketSource
        do {
            source = try PacketSource.openFiles(pcap)
        } catch {
            throw fail(error.description)
        }
        var aggregator = Aggregator(config: aggregation.config())
        let run = Pipeline().run(source: source, consumer: &aggregator)
        aggregator.finish()
        let report = AnalysisReport(aggregator: aggregator, run: run, live: false, topPorts: top, topSources: top ?? 100)
        print(format == .json ? report.json() : TextSummary.report(report))
        let failed = run.sources.filter { $0.error != nil }
        for source in failed { note("\(source.error!) (after \(source.packets) packets)") }
        if strict && !failed.isEmpty { throw ExitCode(2) }
    }
}
