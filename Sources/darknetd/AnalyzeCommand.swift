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

    func validate() throws {
        if pcap.isEmpty { throw ValidationError("give at least one capture with --pcap FILE") }
    }

    func run() throws {
        let source: PacketSource
        do {
            source = try PacketSource.openFiles(pcap)
        } catch {
            throw fail(error.description)
        }
        var counters = PacketCounters()
        let run = Pipeline().run(source: source, consumer: &counters)
        let report = AnalysisReport(counters: counters, run: run, live: false)
        print(format == .json ? report.json() : TextSummary.report(report))
        let failed = run.sources.filter { $0.error != nil }
        for source in failed { note("\(source.error!) (after \(source.packets) packets)") }
        if strict && !failed.isEmpty { throw ExitCode(2) }
    }
}
