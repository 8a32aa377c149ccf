/// Aligns time to buckets that are multiples of their length since the Unix
/// epoch (UTC), so two sensors' and a feed's buckets line up. A UTC offset
/// shifts the boundaries, e.g. +09:00 makes daily buckets Japan days.
public struct TimeBuckets: Sendable, Equatable {
    public let lengthNs: Int64
    /// Seconds east of UTC (+32400 for +09:00).
    public let utcOffsetSeconds: Int64

    public init(lengthSeconds: Int64, utcOffsetSeconds: Int64 = 0) {
        precondition(lengthSeconds > 0, "bucket length must be positive")
        self.lengthNs = lengthSeconds * 1_000_000_000
        self.utcOffsetSeconds = utcOffsetSeconds
    }

    public var lengthSeconds: Int64 { lengthNs / 1_000_000_000 }

    /// Bucket number of a time (floor division, correct before 1970 too).
    @inline(__always)
    public func index(of timestampNs: Int64) -> Int64 {
        let shifted = timestampNs &+ utcOffsetSeconds &* 1_000_000_000
        let q = shifted / lengthNs
        return (shifted % lengthNs < 0) ? q - 1 : q
    }

    /// Start of a bucket, ns since the epoch (UTC).
    public func start(of index: Int64) -> Int64 {
        index &* lengthNs &- utcOffsetSeconds &* 1_000_000_000
    }
}

/// Parses durations like `60s`, `5m`, `1h`, `1d`, `90` (seconds).
public enum DurationText {
    public static func seconds(_ text: String) -> Int64? {
        guard let last = text.last else { return nil }
        let multiplier: Int64
        var digits = Substring(text)
        switch last {
        case "s": multiplier = 1; digits = digits.dropLast()
        case "m": multiplier = 60; digits = digits.dropLast()
        case "h": multiplier = 3600; digits = digits.dropLast()
        case "d": multiplier = 86_400; digits = digits.dropLast()
        default: multiplier = 1
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let value = Int64(digits), value > 0,
              value <= Int64.max / 1_000_000_000 / multiplier else { return nil }
        return value * multiplier
    }

    /// Parses a UTC offset `+09:00`, `-05:30`, `+0900`, `+09`, `Z`.
    public static func utcOffset(_ text: String) -> Int64? {
        if text == "Z" || text == "0" { return 0 }
        let chars = Array(text)
        guard chars.count >= 3, chars[0] == "+" || chars[0] == "-" else { return nil }
        var body = Array(chars[1...])
        // The only colon allowed is the one between hours and minutes: ±HH:MM.
        if body.count == 5 && body[2] == ":" { body.remove(at: 2) }
        guard body.count == 4 || body.count == 2, body.allSatisfy({ $0.isASCII && $0.isNumber }),
              let value = Int64(String(body)) else { return nil }
        let hours = body.count == 4 ? value / 100 : value
        let minutes = body.count == 4 ? value % 100 : 0
        guard hours <= 14, minutes < 60 else { return nil }
        let seconds = hours * 3600 + minutes * 60
        return chars[0] == "-" ? -seconds : seconds
    }
}
