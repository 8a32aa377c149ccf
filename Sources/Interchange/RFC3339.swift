/// RFC 3339 timestamps in UTC, the one formatter of the project: reports,
/// feed exports, alerts (JSON and syslog) and the daemon's logs all write
/// times through it.
public enum RFC3339 {
    /// `2013-03-18T00:05:00Z`, with a fraction of `fractionDigits` digits
    /// (truncated) only when the time is not a whole second:
    /// `…:00.250000000Z` at 9 digits (reports, exports), `…:00.250000Z` at 6
    /// (RFC 5424 allows at most six).
    public static func format(_ ns: Int64, fractionDigits: Int = 9) -> String {
        precondition((1...9).contains(fractionDigits), "1...9 fraction digits")
        var seconds = ns / 1_000_000_000
        var fraction = ns % 1_000_000_000
        if fraction < 0 {
            fraction += 1_000_000_000
            seconds -= 1
        }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        var text = date(days: days) + "T"
        text += pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2)
        if fraction != 0 {
            var divisor: Int64 = 1
            for _ in fractionDigits..<9 { divisor *= 10 }
            text += "." + pad(fraction / divisor, fractionDigits)
        }
        return text + "Z"
    }

    /// `2013-03-18`: the UTC date of a time given in whole seconds since the epoch.
    public static func formatDate(seconds: Int64) -> String {
        date(days: seconds / 86_400 - (seconds % 86_400 < 0 ? 1 : 0))
    }

    static func date(days: Int64) -> String {
        let (year, month, day) = CivilCalendar.date(fromDays: days)
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
    }

    /// Parses RFC 3339 strictly: `T` (or `t`) between date and time, seconds
    /// present, any fraction length, `Z` or a `+hh:mm`/`-hh:mm` offset. (Feeds
    /// that write looser ISO 8601 have their own lenient reader in `Feed`.)
    public static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int64? {
            guard from + count <= b.count else { return nil }
            var v: Int64 = 0
            for i in from..<(from + count) {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int64(b[i] - 48)
            }
            return v
        }
        guard b.count >= 20, b[4] == 45, b[7] == 45, b[10] == 84 || b[10] == 116, b[13] == 58, b[16] == 58,
              let y = number(0, 4), let mo = number(5, 2), let d = number(8, 2),
              let h = number(11, 2), let mi = number(14, 2), let s = number(17, 2),
              (1...12).contains(mo), d >= 1, d <= CivilCalendar.daysIn(month: mo, year: y), h < 24, mi < 60, s < 61
        else { return nil }
        var i = 19
        var fractionNs: Int64 = 0
        if i < b.count, b[i] == 46 {
            i += 1
            var scale: Int64 = 100_000_000
            let start = i
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                fractionNs += Int64(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        var offsetSeconds: Int64 = 0
        guard i < b.count else { return nil }
        if b[i] == 90 || b[i] == 122 {
            i += 1
        } else if b[i] == 43 || b[i] == 45, b.count == i + 6, b[i + 3] == 58,
                  let oh = number(i + 1, 2), let om = number(i + 4, 2), oh < 24, om < 60 {
            offsetSeconds = (oh * 3600 + om * 60) * (b[i] == 45 ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let seconds = CivilCalendar.days(year: y, month: mo, day: d) * 86_400 + h * 3600 + mi * 60 + s - offsetSeconds
        return seconds * 1_000_000_000 + fractionNs
    }

    static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
