import Aggregation
import ArgumentParser
import Capture
import Foundation
import Pipeline
import Reporting
import Ring

struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Capture live on an interface and print a one-line summary every few seconds."
    )

    @Option(name: [.short, .long], help: "Interface to capture on.")
    var interface: String

    @Option(name: .long, help: "BPF filter expression.")
    var filter: String?

    @Option(name: .long, help: "Bytes kept per packet.")
    var snaplen: Int32 = 512

    @Flag(name: .long, help: "Do not put the interface in promiscuous mode.")
    var noPromiscuous = false

    @Flag(name: .long, help: "Deliver packets immediately instead of in buffered batches.")
    var immediate = false

    @Option(name: .long, help: "Kernel capture buffer in MiB.")
    var bufferMib: Int32 = 16

    @Option(name: .long, help: "Seconds between summary lines.")
    var interval: Double = 5

    @Option(name: [.short, .customLong("count")], help: "Stop after this many packets.")
    var count: UInt64?

    @Option(name: .long, help: "Stop after this many seconds.")
    var duration: Double?

    @Option(name: .long, help: "Format of the final summary: text or json.")
    var format: OutputFormat = .text

    @OptionGroup var aggregation: AggregationOptions


    func validate() throws {
        if format == .html { throw ValidationError("--format html is for analyze; capture prints text or json") }
        if interval <= 0 { throw ValidationError("--interval must be positive") }
        if snaplen < 64 || snaplen > 262_144 { throw ValidationError("--snaplen must be within 64...262144") }
        if bufferMib < 1 || bufferMib > 2048 { throw ValidationError("--buffer-mib must be within 1...2048") }
        if let duration, duration <= 0 { throw ValidationError("--duration must be positive") }
    }

    func run() throws {
        var options = LiveCaptureOptions(interface: interface)
        options.filter = filter
        options.snaplen = snaplen
        options.promiscuous = !noPromiscuous
        options.immediate = immediate
        options.bufferSize = bufferMib << 20
        options.timeoutMilliseconds = 100
        let handle: PcapHandle
        do {
            handle = try PcapHandle.openLive(options)
        } catch {
            throw fail(error.description)
        }
        for warning in handle.warnings { note(warning.description) }
        installStopSignals()

        let started = ContinuousClock.now
        var lastLine = started
        let interval = Duration.milliseconds(Int64(self.interval * 1000))
        let deadline = duration.map { started + .milliseconds(Int64($0 * 1000)) }
        let geoip = try aggregation.openGeoIP()
        let onStart: (CaptureEngine) -> Void = { _ in
            note("capturing on \(handle.subject) (\(handle.linkTypeName))" + (options.filter.map { ", filter \"\($0)\"" } ?? ""))
        }
        let tick: (CaptureEngine, RingCounters, PacketCounters) -> Void = { engine, ring, counters in
            let now = ContinuousClock.now
            if stopSignal.load(ordering: .relaxed) || deadline.map({ now >= $0 }) == true {
                engine.stop()
            }
            if now - lastLine >= interval {
                lastLine = now
                let elapsed = Double((now - started).components.seconds) + Double((now - started).components.attoseconds) / 1e18
                print(TextSummary.liveLine(counters: counters, ring: ring, kernel: engine.kernelStatistics, elapsed: elapsed))
                fflush(nil)
            }
        }
        let (run, aggregator) = ShardedPipeline(shards: aggregation.threads.resolved()).run(
            source: .live(handle), config: aggregation.config(), geoip: geoip, packetLimit: count,
            tickInterval: .milliseconds(100), tick: tick, onStart: onStart)
        let report = AnalysisReport(aggregator: aggregator, run: run, live: true)
        if format == .json {
            let out = OutputBuffer()
            report.writeJSON { out.write($0) }
            out.flush()
        } else {
            print(TextSummary.report(report))
        }
        if let error = run.sources.first?.error { throw fail(error) }
    }
}
