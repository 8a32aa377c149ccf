/// Items only one side saw, sorted, and how many both saw.
public struct OneSided<Item: Hashable & Comparable & Sendable>: Sendable, Equatable {
    public var sensorOnly: [Item]
    public var feedOnly: [Item]
    public var sharedCount: Int

    public var overlap: SetOverlap {
        SetOverlap(shared: sharedCount, sensorOnly: sensorOnly.count, feedOnly: feedOnly.count)
    }
}

extension OneSided: Codable where Item: Codable {
    enum CodingKeys: String, CodingKey {
        case sensorOnly = "sensor_only"
        case feedOnly = "feed_only"
        case sharedCount = "shared_count"
    }
}

/// A feed source whose every event targeted one country.
public struct SingleTargetSource<Source: Hashable & Comparable & Sendable>: Sendable, Equatable {
    public var source: Source
    public var country: String
    public var events: Int

    public init(source: Source, country: String, events: Int) {
        self.source = source
        self.country = country
        self.events = events
    }
}

extension SingleTargetSource: Codable where Source: Codable {}

/// The study's locality analysis: traffic visible to only one network, and (the Hong
/// Kong case) feed sources aimed at a single target country.
public struct LocalityAnalysis<Source: Hashable & Comparable & Sendable>: Sendable, Equatable {
    public var sources: OneSided<Source>
    public var ports: OneSided<UInt16>
    /// Source countries (both sides know where traffic came from).
    public var sourceCountries: OneSided<String>
    /// Target countries: for a darknet, the countries its address blocks are in (NICTER:
    /// {"JP"}); for the feed, every target country its events named.
    public var targetCountries: OneSided<String>
    /// Feed sources with exactly one target country, by events descending then source.
    public var singleTargetSources: [SingleTargetSource<Source>]
}

public enum Locality {
    /// Items seen by one side only (each list sorted ascending) and the shared count.
    public static func oneSided<Item: Hashable & Comparable & Sendable>(
        sensor: Set<Item>, feed: Set<Item>
    ) -> OneSided<Item> {
        OneSided(sensorOnly: sensor.subtracting(feed).sorted(),
                 feedOnly: feed.subtracting(sensor).sorted(),
                 sharedCount: sensor.count <= feed.count
                    ? sensor.reduce(0) { $0 + (feed.contains($1) ? 1 : 0) }
                    : feed.reduce(0) { $0 + (sensor.contains($1) ? 1 : 0) })
    }

    /// Feed sources whose events all target a single country: `targets[source]` is the
    /// set of target countries seen for that source, `events[source]` its event count
    /// (0 when absent). Sources with zero or several target countries are left out.
    /// Sorted by events descending, then by source ascending, so the list is deterministic.
    /// `minimumEvents` drops sources below a count (default: keep all).
    public static func singleTargetSources<Source: Hashable & Comparable & Sendable>(
        targets: [Source: Set<String>], events: [Source: Int], minimumEvents: Int = 0
    ) -> [SingleTargetSource<Source>] {
        var out: [SingleTargetSource<Source>] = []
        for (source, countries) in targets where countries.count == 1 {
            let count = events[source] ?? 0
            guard count >= minimumEvents else { continue }
            out.append(SingleTargetSource(source: source, country: countries.first!, events: count))
        }
        out.sort { a, b in
            a.events != b.events ? a.events > b.events : a.source < b.source
        }
        return out
    }

    /// All of the above from plain inputs.
    public static func analyze<Source: Hashable & Comparable & Sendable>(
        sensorSources: Set<Source>, feedSources: Set<Source>,
        sensorPorts: Set<UInt16>, feedPorts: Set<UInt16>,
        sensorSourceCountries: Set<String>, feedSourceCountries: Set<String>,
        sensorTargetCountries: Set<String>, feedTargetCountries: Set<String>,
        feedTargets: [Source: Set<String>], feedEvents: [Source: Int]
    ) -> LocalityAnalysis<Source> {
        LocalityAnalysis(
            sources: oneSided(sensor: sensorSources, feed: feedSources),
            ports: oneSided(sensor: sensorPorts, feed: feedPorts),
            sourceCountries: oneSided(sensor: sensorSourceCountries, feed: feedSourceCountries),
            targetCountries: oneSided(sensor: sensorTargetCountries, feed: feedTargetCountries),
            singleTargetSources: singleTargetSources(targets: feedTargets, events: feedEvents))
    }
}
