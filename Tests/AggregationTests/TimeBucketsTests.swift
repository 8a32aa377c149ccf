import Testing
@testable import Aggregation
@testable import Sketches

@Suite struct TimeBucketsTests {
    @Test func alignsToEpochMultiples() {
        let b = TimeBuckets(lengthSeconds: 60)
        #expect(b.lengthNs == 60 * nsPerSecond)
        #expect(b.lengthSeconds == 60)
        #expect(b.index(of: 0) == 0)
        #expect(b.index(of: 60 * nsPerSecond - 1) == 0)
        #expect(b.index(of: 60 * nsPerSecond) == 1)
        let t = t0 + 17 * nsPerSecond + 123
        #expect(b.start(of: b.index(of: t)) == t0)
        #expect(b.start(of: b.index(of: t0)) == t0)
        #expect(b.start(of: b.index(of: t0 - 1)) == t0 - 60 * nsPerSecond)
        // 5-minute buckets: starts are multiples of 300 s.
        let five = TimeBuckets(lengthSeconds: 300)
        let start = five.start(of: five.index(of: t))
        #expect(start % (300 * nsPerSecond) == 0)
        #expect(start <= t && t < start + 300 * nsPerSecond)
    }

    @Test func negativeTimestampsFloor() {
        let b = TimeBuckets(lengthSeconds: 60)
        #expect(b.index(of: -1) == -1)
        #expect(b.start(of: -1) == -60 * nsPerSecond)
        #expect(b.index(of: -60 * nsPerSecond) == -1)
        #expect(b.index(of: -60 * nsPerSecond - 1) == -2)
        #expect(b.start(of: b.index(of: -90 * nsPerSecond)) == -120 * nsPerSecond)
    }

    /// 2014-10-07T15:00:00Z is 2014-10-08T00:00:00+09:00: it starts a Japan day.
    @Test func japanDays() {
        let jst = TimeBuckets(lengthSeconds: 86_400, utcOffsetSeconds: 32_400)
        let midnightJST: Int64 = 1_412_694_000 * nsPerSecond  // 2014-10-07T15:00:00Z
        #expect(jst.start(of: jst.index(of: midnightJST)) == midnightJST)
        #expect(jst.index(of: midnightJST) == jst.index(of: midnightJST - 1) + 1)
        #expect(jst.start(of: jst.index(of: midnightJST - 1)) == midnightJST - 86_400 * nsPerSecond)
        #expect(jst.start(of: jst.index(of: midnightJST + 86_400 * nsPerSecond - 1)) == midnightJST)
        // Days since the epoch in Japan: 2014-10-08 is day 16,351.
        #expect(jst.index(of: midnightJST) == 16_351)
        // A UTC day bucket would start 9 hours later.
        let utc = TimeBuckets(lengthSeconds: 86_400)
        #expect(utc.start(of: utc.index(of: midnightJST)) == midnightJST - 15 * 3600 * nsPerSecond)
    }

    @Test func negativeOffset() {
        let est = TimeBuckets(lengthSeconds: 86_400, utcOffsetSeconds: -5 * 3600)
        let midnightEST: Int64 = 5 * 3600 * nsPerSecond  // 1970-01-01T00:00:00-05:00
        #expect(est.index(of: midnightEST) == 0)
        #expect(est.index(of: midnightEST - 1) == -1)
        #expect(est.start(of: 0) == midnightEST)
    }

    @Test(arguments: [
        ("60s", Int64(60)), ("5m", 300), ("1h", 3600), ("1d", 86_400), ("90", 90), ("1s", 1), ("7d", 604_800), ("1440m", 86_400),
    ])
    func durationParses(text: String, seconds: Int64) {
        #expect(DurationText.seconds(text) == seconds)
    }

    @Test(arguments: ["", "s", "0", "0s", "-5", "-5m", "1.5m", "5x", "m5", "5 m", " 5m", "1w", "٣s", "5ms", "99999999999999999999", "9999999999d"])
    func durationRejects(text: String) {
        #expect(DurationText.seconds(text) == nil)
    }

    @Test(arguments: [
        ("+09:00", Int64(32_400)), ("-05:30", -19_800), ("Z", 0), ("+0900", 32_400), ("+00:00", 0), ("-00:00", 0), ("+09", 32_400),
        ("+14:00", 50_400), ("+05:45", 20_700),
    ])
    func offsetParses(text: String, seconds: Int64) {
        #expect(DurationText.utcOffset(text) == seconds)
    }

    @Test(arguments: ["", "09:00", "+9", "+9:00", "+15:00", "+09:60", "+0:900", "+09:0:0", "+090", "+09:00:00", "UTC", "z", "+٠٩:٠٠", "++09:00"])
    func offsetRejects(text: String) {
        #expect(DurationText.utcOffset(text) == nil)
    }
}
