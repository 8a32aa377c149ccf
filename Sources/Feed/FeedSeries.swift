import Aggregation
import Decoding
import GeoIP
import Sketches

/// Distinct addresses: exact in a `Set` up to a cap, then an estimate. The
/// HyperLogLog sees every address from the start, so once the set stops
/// growing the estimate covers everything seen.
public struct DistinctAddresses: Sendable {
    public let exactCap: Int
    public private(set) var exact: Set<IPAddress> = []
    /// True while every address seen is in `exact`.
    public private(set) var isExact = true
    private var sketch: HyperLogLog
    private let hasher: SeededHash

    public init(exactCap: Int, hasher: SeededHash, precision: Int = 14) {
        self.exactCap = max(0, exactCap)
        self.hasher = hasher
        self.sketch = HyperLogLog(precision: precision)
    }

    public mutating func insert(_ address: IPAddress) {
        sketch.insert(hash: hasher.hash(address))
        guard isExact else { return }
        if exact.contains(address) { return }
        if exact.count >= exactCap {
            isExact = false
            return
        }
        exact.insert(address)
    }

    /// The sketch of every address seen (for union estimates with another side's sketch).
    public var hyperLogLog: HyperLogLog { sketch }

    /// The exact count while exact, else the HyperLogLog estimate.
    public var count: Double {
        isExact ? Double(exact.count) : sketch.estimate
    }
}

/// One bucket of feed figures.
public struct FeedBucket: Sendable {
    /// Bucket index (`TimeBuckets.index`) and start (ns since the epoch, UTC).
    public let index: Int64
    public let startNs: Int64
    public internal(set) var total: UInt64 = 0
    /// By destination port, protocol-agnostic (NORSE names no protocol).
    public internal(set) var ports: [UInt16: UInt64] = [:]
    public internal(set) var sourceCountries: [CountryCode: UInt64] = [:]
    public internal(set) var targetCountries: [CountryCode: UInt64] = [:]
    public internal(set) var sources: DistinctAddresses

    /// Distinct source addresses in this bucket (exact up to the series' per-bucket cap).
    public var distinctSources: Double { sources.count }
}

/// Per-source record for locality questions.
public struct FeedSourceTargets: Sendable, Equatable {
    /// Target countries seen, sorted, at most the series' `targetCountryCap`.
    public internal(set) var countries: [CountryCode] = []
    /// More target countries were seen than `countries` holds.
    public internal(set) var overflowed = false
    public internal(set) var events: UInt64 = 0
    public internal(set) var firstNs: Int64 = .max
    public internal(set) var lastNs: Int64 = .min
}

/// A source whose every event targeted one country (the study's Hong Kong case).
public struct SingleTargetSource: Sendable, Equatable {
    public var address: IPAddress
    public var country: CountryCode
    public var events: UInt64
}

/// Feed events accumulated into `TimeBuckets`-aligned buckets (so they line up
/// with the darknet's own buckets), plus whole-period sets for overlap and
/// locality questions. Each event adds `count` to the figures its
/// `contributes` names.
public struct FeedSeries: Sendable {
    public let timeBuckets: TimeBuckets
    public let hasher: SeededHash
    /// Distinct addresses kept exactly per bucket before switching to an estimate.
    public let bucketSourceCap: Int
    /// Target countries kept per source.
    public let targetCountryCap: Int

    public private(set) var buckets: [Int64: FeedBucket] = [:]
    /// Distinct sources over the whole period (exact up to `sourceCap`).
    public private(set) var sources: DistinctAddresses
    public private(set) var ports: Set<UInt16> = []
    public private(set) var sourceCountries: Set<CountryCode> = []
    public private(set) var targetCountries: Set<CountryCode> = []
    /// Target countries per source, for as many sources as `sources` holds exactly.
    public private(set) var targetsBySource: [IPAddress: FeedSourceTargets] = [:]
    /// True when some sources beyond the cap have no `targetsBySource` entry.
    public private(set) var localityIncomplete = false
    public private(set) var events: UInt64 = 0
    public private(set) var firstNs: Int64?
    public private(set) var lastNs: Int64?

    public init(timeBuckets: TimeBuckets, hasher: SeededHash, sourceCap: Int = 1_000_000,
                bucketSourceCap: Int = 65_536, targetCountryCap: Int = 16) {
        self.timeBuckets = timeBuckets
        self.hasher = hasher
        self.bucketSourceCap = bucketSourceCap
        self.targetCountryCap = max(1, targetCountryCap)
        self.sources = DistinctAddresses(exactCap: sourceCap, hasher: hasher)
    }

    public mutating func add(_ event: FeedEvent) {
        let index = timeBuckets.index(of: event.timestampNs)
        let cap = bucketSourceCap
        let hasher = hasher
        let start = timeBuckets.start(of: index)
        var bucket = buckets.removeValue(forKey: index)
            ?? FeedBucket(index: index, startNs: start, sources: DistinctAddresses(exactCap: cap, hasher: hasher, precision: 12))
        let count = event.count
        let role = event.contributes
        if role.contains(.total) { bucket.total &+= count }
        if role.contains(.ports), let port = event.destinationPort {
            bucket.ports[port, default: 0] &+= count
            ports.insert(port)
        }
        if role.contains(.sourceCountries) {
            bucket.sourceCountries[event.sourceCountry, default: 0] &+= count
            if event.sourceCountry.isKnown { sourceCountries.insert(event.sourceCountry) }
        }
        if role.contains(.targetCountries) {
            bucket.targetCountries[event.targetCountry, default: 0] &+= count
            if event.targetCountry.isKnown { targetCountries.insert(event.targetCountry) }
        }
        if role.contains(.sources), let source = event.source {
            bucket.sources.insert(source)
            sources.insert(source)
            recordTarget(source, event: event)
        }
        buckets[index] = bucket
        events &+= count
        firstNs = min(firstNs ?? event.timestampNs, event.timestampNs)
        lastNs = max(lastNs ?? event.timestampNs, event.timestampNs)
    }

    public mutating func add(_ events: some Sequence<FeedEvent>) {
        for event in events { add(event) }
    }

    private mutating func recordTarget(_ source: IPAddress, event: FeedEvent) {
        guard var entry = targetsBySource[source] ?? newEntry() else {
            localityIncomplete = true
            return
        }
        entry.events &+= event.count
        entry.firstNs = min(entry.firstNs, event.timestampNs)
        entry.lastNs = max(entry.lastNs, event.timestampNs)
        let country = event.targetCountry
        if !entry.countries.contains(country) {
            if entry.countries.count < targetCountryCap {
                entry.countries.append(country)
                entry.countries.sort()
            } else {
                entry.overflowed = true
            }
        }
        targetsBySource[source] = entry
    }

    private func newEntry() -> FeedSourceTargets? {
        targetsBySource.count < sources.exactCap ? FeedSourceTargets() : nil
    }

    /// Buckets in time order.
    public var orderedBuckets: [FeedBucket] {
        buckets.values.sorted { $0.index < $1.index }
    }

    public func bucket(containing timestampNs: Int64) -> FeedBucket? {
        buckets[timeBuckets.index(of: timestampNs)]
    }

    /// Sources whose events all targeted one known country, optionally only
    /// that `country`, with at least `minimumEvents` events; most events
    /// first, then by address. Sources with an unknown target on any event
    /// are not listed (their locality is not established).
    public func singleTargetSources(country: CountryCode? = nil, minimumEvents: UInt64 = 1) -> [SingleTargetSource] {
        var found: [SingleTargetSource] = []
        for (address, entry) in targetsBySource {
            guard !entry.overflowed, entry.countries.count == 1, entry.events >= minimumEvents else { continue }
            let only = entry.countries[0]
            guard only.isKnown, country == nil || country == only else { continue }
            found.append(SingleTargetSource(address: address, country: only, events: entry.events))
        }
        return found.sorted { $0.events != $1.events ? $0.events > $1.events : $0.address < $1.address }
    }

    /// How many of `addresses` the feed also saw as sources (exact only while
    /// `sources.isExact`).
    public func overlap(with addresses: some Sequence<IPAddress>) -> Int {
        var shared = 0
        for address in addresses where sources.exact.contains(address) { shared += 1 }
        return shared
    }

    /// Drops buckets that start before `timestampNs` (a daemon's retention).
    public mutating func removeBuckets(before timestampNs: Int64) {
        let limit = timeBuckets.index(of: timestampNs)
        buckets = buckets.filter { $0.key >= limit }
    }
}
