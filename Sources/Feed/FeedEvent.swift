import Decoding
import Foundation
import GeoIP

/// One observation from an external feed, normalised across formats.
public struct FeedEvent: Sendable, Equatable {
    /// Event time, nanoseconds since the Unix epoch (UTC).
    public var timestampNs: Int64
    /// The attacker/scanner address, when the feed names one.
    public var source: IPAddress?
    public var destinationPort: UInt16?
    /// IP protocol number; `nil` means protocol-agnostic (NORSE names a port only).
    public var ipProtocol: UInt8?
    public var sourceCountry: CountryCode
    public var targetCountry: CountryCode
    /// Service name as the feed wrote it, at most `FeedEvent.maxServiceLength` UTF-8 bytes.
    public var service: String?
    /// Events this line stands for: 1 for one NORSE/CSV/Cowrie record, N for an aggregate.
    public var count: UInt64
    /// Which per-bucket figures of a `FeedSeries` this event counts in. A record
    /// of one observation (NORSE, CSV, Cowrie) counts in all of them; the
    /// events a sensor-export bucket line expands to each carry one marginal
    /// (total, ports, or countries), so summing them never double-counts
    /// (docs/feeds.md, "How export lines map to events").
    public var contributes: FeedContribution

    public static let maxServiceLength = 64

    public init(
        timestampNs: Int64,
        source: IPAddress? = nil,
        destinationPort: UInt16? = nil,
        ipProtocol: UInt8? = nil,
        sourceCountry: CountryCode = .unknown,
        targetCountry: CountryCode = .unknown,
        service: String? = nil,
        count: UInt64 = 1,
        contributes: FeedContribution = .all
    ) {
        self.timestampNs = timestampNs
        self.source = source
        self.destinationPort = destinationPort
        self.ipProtocol = ipProtocol
        self.sourceCountry = sourceCountry
        self.targetCountry = targetCountry
        self.service = service.flatMap(FeedEvent.boundedService)
        self.count = count
        self.contributes = contributes
    }

    /// Trims and truncates a service name to `maxServiceLength` UTF-8 bytes
    /// (on a character boundary, trimmed again after the cut); empty names
    /// become `nil`. Idempotent: a bounded name is returned unchanged.
    public static func boundedService(_ text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return nil }
        if trimmed.utf8.count <= maxServiceLength { return trimmed }
        var out = ""
        var bytes = 0
        for character in trimmed {
            let size = character.utf8.count
            if bytes + size > maxServiceLength { break }
            out.append(character)
            bytes += size
        }
        // The cut may fall just after a space: trim again, so that a bounded
        // name is its own bounded form ("http " and "http" are one service).
        let bounded = out.trimmingCharacters(in: .whitespaces)
        return bounded.isEmpty ? nil : bounded
    }
}

/// The figures of a `FeedSeries` that an event counts in.
public struct FeedContribution: OptionSet, Sendable, Hashable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The bucket's event total.
    public static let total = FeedContribution(rawValue: 1 << 0)
    /// Per destination port (needs `destinationPort`).
    public static let ports = FeedContribution(rawValue: 1 << 1)
    /// Per source country.
    public static let sourceCountries = FeedContribution(rawValue: 1 << 2)
    /// Per target country.
    public static let targetCountries = FeedContribution(rawValue: 1 << 3)
    /// Distinct sources (per bucket and whole period) and per-source target countries.
    public static let sources = FeedContribution(rawValue: 1 << 4)

    public static let all: FeedContribution = [.total, .ports, .sourceCountries, .targetCountries, .sources]
}
