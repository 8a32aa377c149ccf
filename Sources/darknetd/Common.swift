import ArgumentParser
import Aggregation
import Capture
import Sketches
import GeoIP
import Foundation
import Synchronization

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, html
}

/// A one-line error on stderr and a non-zero exit: what every command does
/// with bad input.
struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("darknetd: \(message)\n".utf8))
    return ExitCode(1)
}

func note(_ message: String) {
    FileHandle.standardError.write(Data("darknetd: \(message)\n".utf8))
}

/// Set by SIGINT/SIGTERM; the consumer loop polls it and stops the capture.
let stopSignal = Atomic<Bool>(false)

func installStopSignals() {
    let handler: @convention(c) (Int32) -> Void = { _ in stopSignal.store(true, ordering: .relaxed) }
    signal(SIGINT, handler)
    signal(SIGTERM, handler)
}

/// Aggregation settings shared by `analyze` and `capture`.
struct AggregationOptions: ParsableArguments {
    @Option(name: .long, help: "Bucket length: 60s, 5m, 1h, 1d ...")
    var bucket: String = "60s"

    @Option(name: .long, help: "UTC offset of bucket boundaries, e.g. +09:00 for Japan days.")
    var utcOffset: String = "+00:00"

    @Option(name: .long, help: "Addresses in the darknet (for Internet-wide rate estimates).")
    var darknetSize: UInt64 = 65_536

    @Flag(name: .long, help: "Aggregate sources to /24 (IPv4) and /48 (IPv6).")
    var sourcePrefixes = false

    @Option(name: .long, help: "Aggregation threads (shards by source): N, or 'auto' (the cores left after the capture thread, at least 1). Default 1.")
    var threads: AggregationThreads = .count(1)

    @Option(name: .long, help: "MaxMind-format country database (.mmdb) for per-country figures (default: the one scripts/install-deps.sh installs, if present; 'none': no database).")
    var geoip: String?

    func validate() throws {
        guard DurationText.seconds(bucket) != nil else { throw ValidationError("--bucket: expected a duration such as 60s, 5m, 1h or 1d, got \"\(bucket)\"") }
        guard DurationText.utcOffset(utcOffset) != nil else { throw ValidationError("--utc-offset: expected +HH:MM or -HH:MM, got \"\(utcOffset)\"") }
        guard darknetSize >= 1 else { throw ValidationError("--darknet-size must be at least 1") }
    }

    /// Opens the GeoIP database given, else the installed default if there is
    /// one (named on stderr); a bad file given is a one-line error.
    func openGeoIP() throws -> GeoIPDatabase? {
        guard let geoip else { return DefaultGeoIPDatabase.open(note: note) }
        if geoip == "none" { return nil }
        do {
            return try GeoIPDatabase(path: geoip)
        } catch {
            throw fail(error.description)
        }
    }

    func config() -> AggregationConfig {
        var config = AggregationConfig()
        config.bucketSeconds = DurationText.seconds(bucket) ?? 60
        config.utcOffsetSeconds = DurationText.utcOffset(utcOffset) ?? 0
        config.darknetSize = darknetSize
        config.aggregateSourcePrefixes = sourcePrefixes
        return config
    }
}

/// Buffered standard output for long reports (flushes every 64 KiB).
final class OutputBuffer {
    private var buffer = Data()

    func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    func flush() {
        FileHandle.standardOutput.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

extension AggregationThreads: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
    public var defaultValueDescription: String { description }
}
