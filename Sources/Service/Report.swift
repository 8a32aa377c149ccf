import Aggregation
import Capture
import Decoding
import Foundation
import Ring

/// The `packets` member of the JSON report (docs/json-schema.md).
public struct PacketsSection: Codable, Sendable, Equatable {
    public var total: UInt64
    public var decoded: UInt64
    public var bytes: UInt64
    public var ipv4: UInt64
    public var ipv6: UInt64
    public var tcp: UInt64
    public var udp: UInt64
    public var icmp: UInt64
    public var icmpv6: UInt64
    public var otherIP: UInt64
    public var fragments: UInt64
    public var nonFirstFragments: UInt64
    /// Every reason, zero or not, keyed by its documented name.
    public var decodeErrors: [String: UInt64]

    public init(_ counters: PacketCounters) {
        total = counters.total
        decoded = counters.decoded
        bytes = counters.bytes
        ipv4 = counters.ipv4
        ipv6 = counters.ipv6
        tcp = counters.tcp
        udp = counters.udp
        icmp = counters.icmp
        icmpv6 = counters.icmpv6
        otherIP = counters.otherIP
        fragments = counters.fragments
        nonFirstFragments = counters.nonFirstFragments
        var errors: [String: UInt64] = [:]
        for reason in DecodeStatus.errorCases { errors[reason.name] = counters.errors(reason) }
        decodeErrors = errors
    }

    enum CodingKeys: String, CodingKey {
        case total, decoded, bytes, ipv4, ipv6, tcp, udp, icmp, icmpv6, fragments
        case otherIP = "other_ip"
        case nonFirstFragments = "non_first_fragments"
        case decodeErrors = "decode_errors"
    }
}

/// The `capture` member: where the packets came from and what was lost on the way.
public struct CaptureSection: Codable, Sendable, Equatable {
    /// `offline` or `live`.
    public var mode: String
    public var sources: [SourceReport]
    public var ring: RingCounters
    /// Live only: the kernel's counters, widened to 64 bits.
    public var kernel: KernelStatistics?
}

/// The time span the report covers.
public struct PeriodSection: Codable, Sendable, Equatable {
    /// RFC 3339 UTC time of the first and last packet; absent with no packets.
    public var first: String?
    public var last: String?
    public var seconds: Double

    public init(firstNs: Int64?, lastNs: Int64?) {
        first = firstNs.map(Timestamps.rfc3339)
        last = lastNs.map(Timestamps.rfc3339)
        if let firstNs, let lastNs { seconds = Double(lastNs - firstNs) / 1e9 } else { seconds = 0 }
    }
}

/// The JSON object `darknetd analyze --format json` prints.
public struct AnalysisReport: Codable, Sendable, Equatable {
    public var version: String = SensorVersion.string
    public var period: PeriodSection
    public var packets: PacketsSection
    public var capture: CaptureSection

    public init(counters: PacketCounters, run: Pipeline.Run, live: Bool) {
        period = PeriodSection(firstNs: counters.firstTimestampNs, lastNs: counters.lastTimestampNs)
        packets = PacketsSection(counters)
        capture = CaptureSection(mode: live ? "live" : "offline", sources: run.sources, ring: run.ring, kernel: run.kernel)
    }

    /// Sorted keys, so the same input always prints the same bytes.
    public func json(pretty: Bool = true) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(self)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

public enum SensorVersion {
    public static let string = "0.1.0"
}

public enum Timestamps {
    /// RFC 3339 in UTC with nanoseconds, e.g. `2014-10-07T00:00:00.000000001Z`.
    public static func rfc3339(_ ns: Int64) -> String {
        var seconds = ns / 1_000_000_000
        var fraction = ns % 1_000_000_000
        if fraction < 0 { fraction += 1_000_000_000; seconds -= 1 }
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        let date = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                          Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        return fraction == 0 ? date + "Z" : date + String(format: ".%09dZ", Int(fraction))
    }
}

/// Human-readable summaries for `--format text` and the live status line.
public enum TextSummary {
    public static func report(_ report: AnalysisReport) -> String {
        let p = report.packets
        var lines: [String] = []
        lines.append("period      \(report.period.first ?? "-") .. \(report.period.last ?? "-") (\(String(format: "%.3f", report.period.seconds)) s)")
        lines.append("packets     \(p.total) total, \(p.decoded) decoded, \(p.bytes) bytes")
        lines.append("ip          ipv4 \(p.ipv4)  ipv6 \(p.ipv6)  fragments \(p.fragments) (non-first \(p.nonFirstFragments))")
        lines.append("protocols   tcp \(p.tcp)  udp \(p.udp)  icmp \(p.icmp)  icmpv6 \(p.icmpv6)  other \(p.otherIP)")
        let errors = p.decodeErrors.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        lines.append("not decoded " + (errors.isEmpty ? "0" : errors.map { "\($0.key) \($0.value)" }.joined(separator: "  ")))
        let r = report.capture.ring
        lines.append("ring        captured \(r.captured)  consumed \(r.consumed)  dropped \(r.ringDropped)  in-flight \(r.inFlight)")
        if let k = report.capture.kernel {
            lines.append("kernel      received \(k.received)  dropped \(k.dropped)  if-dropped \(k.interfaceDropped)")
        }
        for source in report.capture.sources {
            var line = "source      \(source.source) [\(source.linkType)] \(source.packets) packets"
            if let error = source.error { line += " -- stopped early: \(error)" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// One line for the live status print.
    public static func liveLine(counters: PacketCounters, ring: RingCounters, kernel: KernelStatistics, elapsed: Double) -> String {
        let rate = elapsed > 0 ? Double(counters.total) / elapsed : 0
        return String(format: "%.0fs pkts %llu (%.0f/s) bytes %llu tcp %llu udp %llu icmp %llu icmpv6 %llu other %llu errors %llu kernel-drop %llu if-drop %llu ring-drop %llu",
                      elapsed, counters.total, rate, counters.bytes, counters.tcp, counters.udp, counters.icmp,
                      counters.icmpv6, counters.otherIP, counters.totalErrors, kernel.dropped, kernel.interfaceDropped,
                      ring.ringDropped)
    }
}
