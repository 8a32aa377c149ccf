import Aggregation
import ArgumentParser
import Capture
import Configuration
import Fleet
import Foundation
import GeoIP
import Reporting
import Sketches
import Synth

extension FeedTimeSource: ExpressibleByArgument {}

struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Read pcap/pcapng files through the sensor's decoder and ring, and print a summary."
    )

    @Option(name: .long, parsing: .upToNextOption, help: "Capture files (pcap or pcapng), read in timestamp order.")
    var pcap: [String] = []

    @Option(name: .long, help: "Output format: text, json, or html (a self-contained report page).")
    var format: OutputFormat = .text

    @Flag(name: .long, help: "Analyze a built-in synthetic darknet capture (200,000 packets, generated to a temporary file).")
    var demo = false

    @Flag(name: .long, help: "Exit non-zero if any file could not be read to its end.")
    var strict = false

    @Option(name: .long, help: "List at most N ports and N top sources (default: every port, 100 sources).")
    var top: Int?

    @OptionGroup var aggregation: AggregationOptions

    @Option(name: .long, help: "External feed to compare with (NORSE IPViking JSON lines, CSV, another sensor's export, Cowrie).")
    var feed: String?

    @Option(name: .long, help: "Feed format: auto, norse, csv, sensor or cowrie.")
    var feedFormat: String = "auto"

    @Option(name: .long, help: "Lagged correlation over -N...+N buckets.")
    var maxLag: Int = 3

    @Option(name: .long, help: "Feed lines without a time of their own: 'event' leaves them out of the correlation and alerts, 'arrival' stamps them with the time they are read.")
    var feedTime: FeedTimeSource = .event

    @Option(name: .long, help: "Print a coefficient only with at least N buckets where both series are non-zero.")
    var minOverlap: Int = FeedComparison.Options().minOverlapBuckets

    @Option(name: .long, help: "ISO country of the darknet itself (the target country for locality), e.g. JP.")
    var sensorCountry: String?

    @Option(name: .long, help: "Also write this sensor's per-bucket aggregates and scan episodes in the sensor export format (another darknetd imports it with --feed).")
    var export: String?

    @Option(name: .long, help: "Sensor name written in the export's header.")
    var sensorName: String = "darknetd"

    @Option(name: .long, help: "Hashing key of the sketches: 32 hexadecimal digits, or 'random' (default: a fixed key, so a replay gives the same output).")
    var hashSeed: String?

    @Option(name: .long, help: "A darknet prefix (CIDR, repeatable): packets to other destinations, or from inside the prefixes, are counted (packets.decode_errors) and not analyzed.")
    var prefix: [String] = []

    @Flag(name: .long, help: "Exact per-source tables instead of the sketches (slower; the oracle for docs/sketches.md's bounds).")
    var exact = false

    @OptionGroup var database: DatabaseOptions

    @Option(name: .long, help: "With --db: the sensor the buckets are stored under (docs/fleet.md).")
    var sensor: String?


    func validate() throws {
        if database.db != nil && sensor == nil { throw ValidationError("--db needs --sensor NAME: the sensor the buckets are stored under") }
        if database.db == nil && sensor != nil { throw ValidationError("--sensor needs --db") }
        if let sensor, sensor.isEmpty || sensor.count > 200 { throw ValidationError("--sensor: 1 to 200 characters") }
        if exact && aggregation.threads.resolved() > 1 { throw ValidationError("--exact runs in one thread: its pair table does not merge across shards") }
        if pcap.isEmpty && !demo { throw ValidationError("give at least one capture with --pcap FILE, or --demo") }
        if !pcap.isEmpty && demo { throw ValidationError("--demo replaces --pcap; give one or the other") }
        if let top, top < 1 { throw ValidationError("--top must be at least 1") }
        if maxLag < 0 || maxLag > 1000 { throw ValidationError("--max-lag must be within 0...1000") }
        if let sensorCountry, CountryCode(sensorCountry) == nil { throw ValidationError("--sensor-country: expected a 2-letter ISO code such as JP") }
        if feed == nil && feedFormat != "auto" { throw ValidationError("--feed-format needs --feed") }
        for text in prefix {
            do {
                _ = try CIDRPrefix(parsing: text)
            } catch {
                throw ValidationError("--prefix \(text): \(error)")
            }
        }
        if minOverlap < 1 || minOverlap > 1_000_000 { throw ValidationError("--min-overlap must be within 1...1000000") }
        if let hashSeed, hashSeed != "random", SeededHash(hexSeed: hashSeed) == nil {
            throw ValidationError("--hash-seed: expected 32 hexadecimal digits or 'random', got \"\(hashSeed)\"")
        }
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
        var analysis = OfflineAnalysis(config: aggregation.config())
        analysis.config.exact = exact
        if let hashSeed { analysis.config.hashSeed = hashSeed == "random" ? SeededHash.random() : SeededHash(hexSeed: hashSeed)! }
        if let feed {
            do {
                analysis.feed = try OfflineAnalysis.FeedInput.read(path: feed, format: feedFormat, time: feedTime)
            } catch {
                throw fail(error.description)
            }
        }
        analysis.threads = aggregation.threads.resolved()
        var darknet = SensorConfiguration.Darknet()
        darknet.prefixes = prefix.compactMap { try? CIDRPrefix(parsing: $0) }
        analysis.darknet = darknet.filter
        analysis.top = top
        analysis.comparison.maxLag = maxLag
        analysis.comparison.minOverlapBuckets = minOverlap
        analysis.comparison.feedTime = feedTime
        analysis.comparison.sensorCountry = sensorCountry.flatMap { CountryCode($0) } ?? .unknown
        if let top { analysis.comparison.topPorts = top; analysis.comparison.topCountries = top }
        let geoip = try aggregation.openGeoIP()
        var backfill: BackfillWriter?
        if let settings = try database.settings(), let sensor {
            do {
                backfill = try BackfillWriter(settings: settings, sensor: sensor)
            } catch {
                throw fail(error.description)
            }
            analysis.onClosedBucket = { backfill?.write($0) }
        }
        let result = analysis.run(source: source, geoip: geoip)
        if let backfill {
            backfill.close()
            if let failure = backfill.failure {
                throw fail("db: \(failure) (\(backfill.written) buckets were written before it; run again to write the rest)")
            }
            let buckets = backfill.written + backfill.alreadyStored
            let perBucket = buckets > 0 ? String(format: "%.2f ms a bucket", backfill.writeSeconds * 1000 / Double(buckets)) : "none"
            note("db: \(backfill.written) buckets written, \(backfill.alreadyStored) already there (\(perBucket); sensor \(backfill.sensor), \(backfill.settings.redactedURL))")
        }
        if let export {
            do {
                try SensorExport.write(aggregator: result.aggregator, sensor: sensorName, to: export)
            } catch {
                throw fail("export: \(error)")
            }
        }
        if let feedInput = analysis.feed {
            if feedInput.undated > 0 && feedTime == .event {
                note("feed: \(feedInput.undated) events have no time of their own and were left out of the correlation and the alerts (--feed-time arrival stamps them with the time they are read)")
            }
            if feedInput.status.skippedTotal > 0 {
                note("feed: skipped \(feedInput.status.skippedTotal) bad lines of \(feedInput.status.lines) (see feed.status in --format json)")
            }
        }
        let report = result.report, alerts = result.alerts, run = result.run
        if format == .html {
            FileHandle.standardOutput.write(Data(HTMLReport.render(report: report, comparison: result.comparison, alerts: alerts).utf8))
        } else if format == .json {
            let out = OutputBuffer()
            report.writeJSON { out.write($0) }
            out.flush()
        } else {
            print(TextSummary.report(report))
            if let comparison = result.comparison { print(TextSummary.comparison(comparison)) }
            print(TextSummary.alerts(alerts))
        }
        let failed = run.sources.filter { $0.error != nil }
        for source in failed { note("\(source.error!) (after \(source.packets) packets)") }
        if strict && !failed.isEmpty { throw ExitCode(2) }
    }
}
