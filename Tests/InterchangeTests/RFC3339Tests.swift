import Testing
import Foundation
@testable import Interchange

/// 2013-03-18T00:00:00Z, the start of the Spamhaus attack week.
private let spamhausWeekNs: Int64 = 1_363_564_800 * 1_000_000_000

@Suite struct RFC3339Tests {
    @Test func formatsWholeSecondsWithoutFraction() {
        #expect(RFC3339.format(0) == "1970-01-01T00:00:00Z")
        #expect(RFC3339.format(spamhausWeekNs) == "2013-03-18T00:00:00Z")
        #expect(RFC3339.format(951_782_400 * 1_000_000_000) == "2000-02-29T00:00:00Z")
        #expect(RFC3339.format(-1_000_000_000) == "1969-12-31T23:59:59Z")
        #expect(RFC3339.format(-8_520_336_000 * 1_000_000_000) == "1700-01-01T00:00:00Z")
    }

    /// The date alone is the date part of the full text, also before 1970.
    @Test func formatsTheUTCDate() {
        #expect(RFC3339.formatDate(seconds: 0) == "1970-01-01")
        #expect(RFC3339.formatDate(seconds: 1_363_564_800 + 86_399) == "2013-03-18")
        #expect(RFC3339.formatDate(seconds: -1) == "1969-12-31")
        #expect(RFC3339.formatDate(seconds: -86_400) == "1969-12-31")
        #expect(RFC3339.formatDate(seconds: -86_401) == "1969-12-30")
        for seconds in stride(from: Int64(-9_000_000_000), to: 9_000_000_000, by: 7_777_777) {
            #expect(RFC3339.formatDate(seconds: seconds) == String(RFC3339.format(seconds * 1_000_000_000).prefix(10)))
        }
    }

    @Test func fractionDigitsTruncate() {
        #expect(RFC3339.format(-1) == "1969-12-31T23:59:59.999999999Z")
        #expect(RFC3339.format(-1, fractionDigits: 6) == "1969-12-31T23:59:59.999999Z")
        #expect(RFC3339.format(spamhausWeekNs + 250_000_000) == "2013-03-18T00:00:00.250000000Z")
        #expect(RFC3339.format(spamhausWeekNs + 250_000_000, fractionDigits: 6) == "2013-03-18T00:00:00.250000Z")
        #expect(RFC3339.format(spamhausWeekNs + 1, fractionDigits: 3) == "2013-03-18T00:00:00.000Z")
        #expect(RFC3339.format(spamhausWeekNs + 1) == "2013-03-18T00:00:00.000000001Z")
    }

    /// The same text as the C library's gmtime_r for every 37th day over the
    /// ±273 years Int64 nanoseconds can hold (the service formatted with gmtime_r before).
    @Test func agreesWithGmtime() {
        var day: Int64 = -100_000
        while day < 100_000 {
            let seconds = day * 86_400 + ((day &* 7919) % 86_400 + 86_400) % 86_400  // a varying time of day
            var t = time_t(seconds)
            var parts = tm()
            gmtime_r(&t, &parts)
            let expected = String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                                  Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
            #expect(RFC3339.format(seconds * 1_000_000_000) == expected)
            day += 37
        }
    }

    @Test func parseRoundTripsAndIsStrict() {
        let samples: [Int64] = [0, spamhausWeekNs, 951_782_400 * 1_000_000_000, -86_400_000_000_000,
                                4_102_444_800 * 1_000_000_000 + 123_456_000, -1]
        for ns in samples {
            #expect(RFC3339.parse(RFC3339.format(ns)) == ns)
            #expect(RFC3339.parse(RFC3339.format(ns, fractionDigits: 6)) == ns - ((ns % 1000) + 1000) % 1000)
        }
        #expect(RFC3339.parse("2013-03-18T01:00:00+01:00") == spamhausWeekNs)
        #expect(RFC3339.parse("2013-03-17T23:00:00-01:00") == spamhausWeekNs)
        #expect(RFC3339.parse("2013-03-18t00:00:00z") == spamhausWeekNs)
        for bad in ["2013-03-18 00:00:00Z", "2013-13-18T00:00:00Z", "2013-02-29T00:00:00Z", "2013-03-18T00:00:00",
                    "2013-03-18T00:00:00.Z", "2013-03-18T24:00:00Z", "2013-03-18T00:00:00+24:00", "2013-03-18T00:00Z", ""] {
            #expect(RFC3339.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func calendarRoundTrips() {
        for days: Int64 in stride(from: -1_000_000, through: 1_000_000, by: 997) {
            let (y, m, d) = CivilCalendar.date(fromDays: days)
            #expect(d >= 1 && d <= CivilCalendar.daysIn(month: m, year: y))
            #expect(CivilCalendar.days(year: y, month: m, day: d) == days)
        }
        #expect(CivilCalendar.daysIn(month: 2, year: 2000) == 29)
        #expect(CivilCalendar.daysIn(month: 2, year: 1900) == 28)
        #expect(CivilCalendar.daysIn(month: 2, year: 2024) == 29)
    }
}

@Suite struct JSONValueTests {
    @Test func keepsTypesExact() {
        #expect(JSONValue.parse(#"{"a": 22, "b": "22", "c": [22], "d": true, "e": null, "f": 1.5}"#) == .object([
            "a": .integer(22), "b": .string("22"), "c": .array([.integer(22)]), "d": .bool(true), "e": .null, "f": .double(1.5),
        ]))
        #expect(JSONValue.parse("18446744073709551615") == .unsigned(UInt64.max))
        #expect(JSONValue.parse("-9223372036854775808") == .integer(Int64.min))
        #expect(JSONValue.parse("{") == nil)
        #expect(JSONValue.parse("") == nil)
    }

    @Test func encodesBack() {
        let value = JSONValue.parse(#"{"z": [1, 2.5, "x", null, false], "a": {"n": 18446744073709551615}}"#)
        #expect(value?.compactJSON == #"{"a":{"n":18446744073709551615},"z":[1,2.5,"x",null,false]}"#)
    }
}
