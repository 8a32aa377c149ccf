import ArgumentParser
import Fleet
import Foundation
import Interchange
import Reporting
import Sketches

struct FleetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Reports over the fleet database: every sensor and feed side by side (docs/fleet.md).",
        subcommands: [FleetReportCommand.self]
    )
}

struct FleetReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Series, correlations with lag, ports, countries, overlap and locality of sources, and alerts of the fleet's sensors and feeds over [--from, --to)."
    )

    @OptionGroup var database: DatabaseOptions

    @Option(name: .long, help: "Start of the range, included: a UTC date (2024-01-01) or an RFC 3339 time, on a bucket boundary.")
    var from: String

    @Option(name: .long, help: "End of the range, excluded: a UTC date (2024-02-01: up to the end of 2024-01-31) or an RFC 3339 time, on a bucket boundary.")
    var to: String

    @Option(name: .long, help: "Report bucket: 1d, 1h, 5m … (a multiple of the sensors' stored bucket, counted from the epoch in UTC).")
    var bucket: String = "1d"

    @Option(name: .long, help: "A sensor to include (repeat for more). Without --sensor and --feed: every sensor and feed with data in the range.")
    var sensor: [String] = []

    @Option(name: .long, help: "A feed to include (repeat for more).")
    var feed: [String] = []

    @Option(name: .long, help: "Output: text, json or html (one self-contained page).")
    var format: OutputFormat = .text

    @Option(name: .long, help: "Lagged correlation over -N … +N buckets.")
    var maxLag: Int = 3

    @Option(name: .long, help: "A coefficient needs at least N buckets where both series are non-zero.")
    var minOverlap: Int = 10

    @Option(name: .long, help: "Ports and countries listed.")
    var top: Int = 20

    /// Most report buckets in one report (one minute over two months is 87,840).
    static let maximumBuckets: Int64 = 100_000

    /// A UTC date or an RFC 3339 time, in seconds since the epoch.
    static func parseTime(_ text: String) -> Int64? {
        if let ns = RFC3339.parse(text) {
            return ns % 1_000_000_000 == 0 ? ns / 1_000_000_000 : nil
        }
        return parseUTCDate(text)
    }

    /// A UTC date (`2024-01-31`), as the seconds since the epoch of its midnight.
    static func parseUTCDate(_ text: String) -> Int64? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.count == 10, parts.count == 3, let y = Int64(parts[0]), let m = Int64(parts[1]), let d = Int64(parts[2]),
              parts[0].count == 4, (1...12).contains(m), d >= 1, d <= CivilCalendar.daysIn(month: m, year: y) else { return nil }
        return CivilCalendar.days(year: y, month: m, day: d) * 86_400
    }

    /// The checked query, or a one-line reason.
    static func query(from: String, to: String, bucket: String, sensors: [String], feeds: [String]) throws(Failure) -> FleetQuery {
        guard let width = DurationText.seconds(bucket) else { throw Failure("--bucket: expected a duration such as 1d, 1h or 5m, got \"\(bucket)\"") }
        guard let start = parseTime(from) else { throw Failure("--from: expected a date (2024-01-01) or an RFC 3339 time in whole seconds, got \"\(from)\"") }
        guard let end = parseTime(to) else { throw Failure("--to: expected a date (2024-01-31) or an RFC 3339 time in whole seconds, got \"\(to)\"") }
        if start > end { throw Failure("--from \(from) is after --to \(to)") }
        if start == end { throw Failure("the range --from \(from) --to \(to) is empty (--to is excluded)") }
        if start % width != 0 || end % width != 0 {
            throw Failure("--from and --to must fall on \(bucket) bucket boundaries (UTC, counted from the epoch): \(RFC3339.format((start - start % width) * 1_000_000_000)) is the boundary before --from")
        }
        if (end - start) / width > maximumBuckets {
            throw Failure("\((end - start) / width) buckets of \(bucket) in the range: at most \(maximumBuckets); choose a larger --bucket")
        }
        for name in sensors + feeds where name.isEmpty || name.count > 200 {
            throw Failure("--sensor and --feed names have 1 to 200 characters")
        }
        return FleetQuery(fromSeconds: start, toSeconds: end, bucketSeconds: width, sensors: sensors, feeds: feeds)
    }

    func validate() throws {
        try database.requireDatabase()
        if maxLag < 0 || maxLag > 1000 { throw ValidationError("--max-lag: 0 to 1000") }
        if minOverlap < 0 { throw ValidationError("--min-overlap must not be negative") }
        if top < 1 || top > 1000 { throw ValidationError("--top: 1 to 1000") }
    }

    func run() async throws {
        let query: FleetQuery
        do {
            query = try Self.query(from: from, to: to, bucket: bucket, sensors: sensor, feeds: feed)
        } catch {
            throw fail(error.description)
        }
        let settings = try database.requiredSettings()
        var options = FleetReport.Options()
        options.maxLag = maxLag
        options.minOverlapBuckets = minOverlap
        options.topPorts = top
        options.topCountries = top
        let report: FleetReport
        do {
            report = try await BucketStore.withStore(settings) { store in
                let data = try await store.readFleet(query)
                guard data.networks.contains(where: { !$0.covered.isEmpty }) else {
                    let asked = (sensor.map { "sensor \($0)" } + feed.map { "feed \($0)" }).joined(separator: ", ")
                    throw Failure("no data between \(RFC3339.format(query.fromSeconds * 1_000_000_000)) and \(RFC3339.format(query.toSeconds * 1_000_000_000))"
                                  + (asked.isEmpty ? " from any sensor or feed" : " from \(asked)"))
                }
                let portSeries = try await store.readPortSeries(data, ports: FleetReport.heatMapPorts(data, options: options))
                return FleetReport(data: data, portSeries: portSeries, options: options)
            }
        } catch let error as FleetError {
            throw fail(error.description)
        } catch let error as Failure {
            throw fail(error.description)
        }
        switch format {
        case .text: FileHandle.standardOutput.write(Data(report.text().utf8))
        case .json: FileHandle.standardOutput.write(Data(report.json().utf8))
        case .html: FileHandle.standardOutput.write(Data(report.html().utf8))
        }
    }
}
