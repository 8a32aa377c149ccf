import Interchange
import Aggregation
import Decoding
import GeoIP
import Testing
@testable import Feed
import Sketches

@Suite struct FeedSeriesTests {
    let hasher = SeededHash(seed0: 7, seed1: 9)
    let hk = CountryCode("HK")!, us = CountryCode("US")!, cn = CountryCode("CN")!
    let base: Int64 = 1_412_640_000 * 1_000_000_000  // 2014-10-07T00:00:00Z

    func event(_ seconds: Int64, _ ip: String, port: UInt16 = 22, target: CountryCode, count: UInt64 = 1) -> FeedEvent {
        FeedEvent(timestampNs: base + seconds * 1_000_000_000, source: IPAddress(ip)!, destinationPort: port,
                  sourceCountry: cn, targetCountry: target, count: count)
    }

    @Test func bucketsAlignToTheEpochAndTheUTCOffset() throws {
        var utc = FeedSeries(timeBuckets: TimeBuckets(lengthSeconds: 3600), hasher: hasher)
        var japan = FeedSeries(timeBuckets: TimeBuckets(lengthSeconds: 86_400, utcOffsetSeconds: 9 * 3600), hasher: hasher)
        let events = [event(59, "192.0.2.1", target: hk), event(3599, "192.0.2.2", port: 23, target: us, count: 4),
                      event(3600, "192.0.2.1", target: hk), event(15 * 3600, "192.0.2.3", target: hk)]
        utc.add(events)
        japan.add(events)
        #expect(utc.orderedBuckets.map(\.startNs) == [base, base + 3_600_000_000_000, base + 15 * 3_600_000_000_000])
        let first = try #require(utc.bucket(containing: base + 10))
        #expect(first.total == 5)
        #expect(first.ports == [22: 1, 23: 4])
        #expect(first.sourceCountries == [cn: 5])
        #expect(first.targetCountries == [hk: 1, us: 4])
        #expect(first.distinctSources == 2)
        // Japan days start at 15:00 UTC: the last event opens the next day.
        #expect(japan.orderedBuckets.map(\.startNs) == [base - 9 * 3_600_000_000_000, base + 15 * 3_600_000_000_000])
        #expect(japan.orderedBuckets.map(\.total) == [6, 1])
        #expect(utc.events == 7)
        #expect(utc.ports == [22, 23])
        #expect(utc.sources.count == 3 && utc.sources.isExact)
    }

    @Test func sourcesThatOnlyTargetOneCountry() {
        var series = FeedSeries(timeBuckets: TimeBuckets(lengthSeconds: 60), hasher: hasher)
        series.add([
            event(0, "192.0.2.1", target: hk), event(10, "192.0.2.1", target: hk), event(20, "192.0.2.1", target: hk),
            event(0, "192.0.2.2", target: hk), event(5, "192.0.2.2", target: us),
            event(0, "192.0.2.3", target: us, count: 2),
            event(0, "192.0.2.4", target: .unknown),
        ])
        #expect(series.singleTargetSources(country: hk) == [SingleTargetSource(address: IPAddress("192.0.2.1")!, country: hk, events: 3)])
        #expect(series.singleTargetSources().map(\.address) == [IPAddress("192.0.2.1")!, IPAddress("192.0.2.3")!])
        #expect(series.singleTargetSources(minimumEvents: 4).isEmpty)
        #expect(series.targetsBySource[IPAddress("192.0.2.2")!]?.countries == [hk, us])
        #expect(series.overlap(with: [IPAddress("192.0.2.2")!, IPAddress("198.51.100.1")!]) == 1)
    }

    @Test func exactSourcesUpToTheCapThenAnEstimate() {
        var series = FeedSeries(timeBuckets: TimeBuckets(lengthSeconds: 60), hasher: hasher, sourceCap: 100, targetCountryCap: 2)
        for i in 0..<1000 {
            series.add(FeedEvent(timestampNs: base, source: IPAddress(ipv4: 0xC000_0200 + UInt32(i)), targetCountry: hk))
        }
        #expect(!series.sources.isExact)
        #expect(series.sources.exact.count == 100)
        #expect(abs(series.sources.count - 1000) < 50)
        #expect(series.targetsBySource.count == 100 && series.localityIncomplete)
        // Target-country sets are capped per source.
        let address = IPAddress(ipv4: 0xC000_0200)
        series.add(FeedEvent(timestampNs: base, source: address, targetCountry: us))
        series.add(FeedEvent(timestampNs: base, source: address, targetCountry: cn))
        #expect(series.targetsBySource[address]?.countries == [hk, us])
        #expect(series.targetsBySource[address]?.overflowed == true)
    }

    @Test func contributionsKeepMarginalsApart() throws {
        var series = FeedSeries(timeBuckets: TimeBuckets(lengthSeconds: 60), hasher: hasher)
        series.add(FeedEvent(timestampNs: base, count: 10, contributes: .total))
        series.add(FeedEvent(timestampNs: base, destinationPort: 23, count: 7, contributes: .ports))
        series.add(FeedEvent(timestampNs: base, sourceCountry: cn, count: 9, contributes: .sourceCountries))
        series.add(FeedEvent(timestampNs: base, source: IPAddress("192.0.2.1"), count: 3, contributes: .sources))
        let bucket = try #require(series.bucket(containing: base))
        #expect(bucket.total == 10 && bucket.ports == [23: 7] && bucket.sourceCountries == [cn: 9])
        #expect(bucket.targetCountries.isEmpty && bucket.distinctSources == 1)
        series.removeBuckets(before: base + 60_000_000_000)
        #expect(series.buckets.isEmpty)
    }
}

@Suite struct FeedTimeTests {
    @Test func isoAndUnixForms() {
        let noon: Int64 = 1_412_683_200_000_000_000
        #expect(FeedTime.nanoseconds(text: "2014-10-07T12:00:00Z") == noon)
        #expect(FeedTime.nanoseconds(text: "2014-10-07t12:00:00.123456789z") == noon + 123_456_789)
        #expect(FeedTime.nanoseconds(text: "2014-10-07T13:30:00+0130") == noon)
        #expect(FeedTime.nanoseconds(text: "2014-10-07T07:00:00-05:00") == noon)
        #expect(FeedTime.nanoseconds(text: "2014-10-07 12:00") == noon)
        #expect(FeedTime.nanoseconds(text: "2014-10-07") == noon - 43_200_000_000_000)
        #expect(FeedTime.nanoseconds(text: "1412683200") == noon)
        #expect(FeedTime.nanoseconds(text: "1412683200000000") == noon)  // microseconds
        #expect(FeedTime.nanoseconds(text: "2012-02-29T00:00:00Z") != nil)
        for bad in ["2013-02-29T00:00:00Z", "2014-10-07T24:00:00Z", "2014-10-07T12:00:00Q", "12:00", "", "1412683200.", "2014-10-07T12:00:00.Z", "3000-01-01T00:00:00Z"] {
            #expect(FeedTime.nanoseconds(text: bad) == nil, "\(bad)")
        }
    }

    @Test func rfc3339RoundTrip() {
        for ns: Int64 in [0, 1_412_683_200_000_000_000, 1_412_683_200_000_000_001, -1, 951_782_400_000_000_000] {
            #expect(FeedTime.nanoseconds(text: RFC3339.format(ns)) == ns)
        }
        #expect(RFC3339.format(951_782_400_000_000_000) == "2000-02-29T00:00:00Z")
    }
}
