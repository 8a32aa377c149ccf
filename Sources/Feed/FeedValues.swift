import Decoding
import Foundation
import GeoIP
import Interchange

/// What feed parsers need of a JSON value beyond `Interchange.JSONValue`.
extension JSONValue {
    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "bool"
        case .integer, .unsigned, .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// A short rendering for error messages (bounded length).
    var excerpt: String {
        let text: String
        switch self {
        case .null: text = "null"
        case let .bool(value): text = String(value)
        case let .integer(value): text = String(value)
        case let .unsigned(value): text = String(value)
        case let .double(value): text = String(value)
        case let .string(value): text = "\"\(value)\""
        case .array: text = "[...]"
        case .object: text = "{...}"
        }
        return text.count > 40 ? String(text.prefix(40)) + "..." : text
    }
}

/// Field conversions shared by the parsers. Each returns the typed error that
/// names the field and the problem.
enum FieldValue {
    /// A port from a number or a decimal string.
    static func port(_ value: JSONValue, field: String) -> Result<UInt16, FeedLineError> {
        switch value {
        case let .integer(n) where (0...65535).contains(n):
            return .success(UInt16(n))
        case let .double(d) where d == d.rounded() && (0...65535).contains(d):
            return .success(UInt16(d))
        case let .string(text):
            return port(text: text, field: field)
        case .integer, .unsigned, .double:
            return .failure(FeedLineError(.badPort, "\(field) \(value.excerpt) out of range 0...65535"))
        default:
            return .failure(FeedLineError(.wrongType, "\(field) is a \(value.typeName), expected a port number"))
        }
    }

    static func port(text: some StringProtocol, field: String) -> Result<UInt16, FeedLineError> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 5, trimmed.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let value = UInt16(trimmed) else {
            return .failure(FeedLineError(.badPort, "\(field) '\(clip(text))' is not a port number"))
        }
        return .success(value)
    }

    /// A protocol from `tcp`/`udp`/`icmp`/`icmpv6`/`sctp` (any case) or a number 0...255.
    static func ipProtocol(text: some StringProtocol, field: String) -> Result<UInt8, FeedLineError> {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        switch trimmed {
        case "tcp": return .success(IPProtocolNumber.tcp)
        case "udp": return .success(IPProtocolNumber.udp)
        case "icmp": return .success(IPProtocolNumber.icmp)
        case "icmpv6", "ipv6-icmp", "icmp6": return .success(IPProtocolNumber.icmpv6)
        case "sctp": return .success(132)
        default:
            if let n = UInt8(trimmed) { return .success(n) }
            return .failure(FeedLineError(.badProtocol, "\(field) '\(clip(text))' is not tcp, udp, icmp or a protocol number"))
        }
    }

    static func ipProtocol(_ value: JSONValue, field: String) -> Result<UInt8, FeedLineError> {
        switch value {
        case let .integer(n) where (0...255).contains(n): .success(UInt8(n))
        case let .string(text): ipProtocol(text: text, field: field)
        case .integer, .unsigned, .double: .failure(FeedLineError(.badProtocol, "\(field) \(value.excerpt) is not a protocol number 0...255"))
        default: .failure(FeedLineError(.wrongType, "\(field) is a \(value.typeName), expected a protocol"))
        }
    }

    static func address(text: some StringProtocol, field: String) -> Result<IPAddress, FeedLineError> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let address = IPAddress(trimmed) else {
            return .failure(FeedLineError(.badAddress, "\(field) '\(clip(text))' is not an IPv4 or IPv6 address"))
        }
        return .success(address)
    }

    static func address(_ value: JSONValue, field: String) -> Result<IPAddress, FeedLineError> {
        guard case let .string(text) = value else {
            return .failure(FeedLineError(.wrongType, "\(field) is a \(value.typeName), expected an address string"))
        }
        return address(text: text, field: field)
    }

    /// A country code, case-insensitive. Anything that is not two letters
    /// (NORSE's `O1`/`A1`, `--`, empty, a country name) is `.unknown`, not an error:
    /// feeds use such placeholders for "no country".
    static func country(text: some StringProtocol) -> CountryCode {
        CountryCode(text.trimmingCharacters(in: .whitespaces).uppercased()) ?? .unknown
    }

    static func country(_ value: JSONValue?) -> CountryCode {
        guard case let .string(text)? = value else { return .unknown }
        return country(text: text)
    }

    static func count(text: some StringProtocol, field: String) -> Result<UInt64, FeedLineError> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = UInt64(trimmed) else {
            return .failure(FeedLineError(.badCount, "\(field) '\(clip(text))' is not a non-negative integer"))
        }
        return .success(value)
    }

    static func count(_ value: JSONValue, field: String) -> Result<UInt64, FeedLineError> {
        switch value {
        case let .integer(n) where n >= 0: .success(UInt64(n))
        case let .string(text): count(text: text, field: field)
        case .integer, .unsigned, .double: .failure(FeedLineError(.badCount, "\(field) \(value.excerpt) is not a non-negative integer"))
        default: .failure(FeedLineError(.wrongType, "\(field) is a \(value.typeName), expected a count"))
        }
    }

    /// Service name from a string or a number (NORSE writes the port when it has no name).
    static func service(_ value: JSONValue?) -> String? {
        switch value {
        case let .string(text)?: text
        case let .integer(n)?: String(n)
        default: nil
        }
    }

    static func clip(_ text: some StringProtocol) -> String {
        text.count > 40 ? String(text.prefix(40)) + "..." : String(text)
    }
}

/// Event times: ISO 8601 / RFC 3339 text, or Unix time as a number or a
/// decimal string. Pure integer arithmetic, no formatter objects, no locale.
public enum FeedTime {
    /// Earliest and latest second representable in Int64 nanoseconds.
    static let secondsRange: ClosedRange<Int64> = -9_223_372_035...9_223_372_035

    /// Parses a JSON time value (string, integer or number); `nil` if not a time.
    public static func nanoseconds(_ value: JSONValue) -> Int64? {
        switch value {
        case let .string(text): nanoseconds(text: text)
        case let .integer(n): unix(whole: n, fractionNs: 0)
        case let .double(d):
            if !d.isFinite || abs(d) > 9.2e18 { nil } else {
                unix(whole: Int64(d.rounded(.down)), fractionNs: Int64(((d - d.rounded(.down)) * 1e9).rounded()))
            }
        default: nil
        }
    }

    /// Parses `2014-10-07T12:34:56.789Z`, `2014-10-07 12:34:56+09:00`,
    /// `2014-10-07T12:34:56` (no zone: UTC), `2014-10-07` (midnight UTC),
    /// or Unix time `1412685296`, `1412685296.789` (and milliseconds,
    /// microseconds, nanoseconds when the integer part is that large).
    public static func nanoseconds(text: some StringProtocol) -> Int64? {
        let bytes = Array(text.trimmingCharacters(in: .whitespaces).utf8)
        guard !bytes.isEmpty, bytes.count <= 64 else { return nil }
        if let unix = unixText(bytes) { return unix }
        return iso8601(bytes)
    }

    /// Unix time with a magnitude heuristic: integer parts of 12+ digits are
    /// milliseconds, 15+ microseconds, 18+ nanoseconds (seconds that large are
    /// beyond year 5000).
    static func unix(whole: Int64, fractionNs: Int64) -> Int64? {
        let magnitude = whole.magnitude
        if magnitude >= 100_000_000_000_000_000 { return whole }
        if magnitude >= 100_000_000_000_000 { return scaled(whole, by: 1_000, plus: fractionNs / 1_000_000) }
        if magnitude >= 100_000_000_000 { return scaled(whole, by: 1_000_000, plus: fractionNs / 1_000) }
        guard secondsRange.contains(whole) else { return nil }
        let (ns, overflow) = whole.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return nil }
        let (sum, overflow2) = ns.addingReportingOverflow(fractionNs)
        return overflow2 ? nil : sum
    }

    static func scaled(_ value: Int64, by factor: Int64, plus extra: Int64) -> Int64? {
        let (product, overflow) = value.multipliedReportingOverflow(by: factor)
        guard !overflow else { return nil }
        let (sum, overflow2) = product.addingReportingOverflow(extra)
        return overflow2 ? nil : sum
    }

    static func unixText(_ bytes: [UInt8]) -> Int64? {
        var index = 0
        var negative = false
        if bytes[0] == UInt8(ascii: "-") { negative = true; index = 1 }
        var whole: Int64 = 0
        var digits = 0
        while index < bytes.count, let d = digit(bytes[index]) {
            guard digits < 19 else { return nil }
            // 19 digits can exceed Int64.max (9,223,372,036,854,775,807): such a time is not one.
            let (times10, overflow) = whole.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = times10.addingReportingOverflow(d)
            guard !overflow, !overflow2 else { return nil }
            whole = next
            digits += 1
            index += 1
        }
        guard digits > 0 else { return nil }
        var fraction: Int64 = 0
        if index < bytes.count {
            guard bytes[index] == UInt8(ascii: "."), index + 1 < bytes.count else { return nil }
            index += 1
            var scale: Int64 = 100_000_000
            while index < bytes.count, let d = digit(bytes[index]) {
                fraction += d * scale
                scale /= 10
                index += 1
            }
            guard index == bytes.count else { return nil }
        }
        // Date-like digit runs such as "2014" followed by "-" never get here: they fail above.
        return negative ? unix(whole: -whole, fractionNs: -fraction) : unix(whole: whole, fractionNs: fraction)
    }

    static func iso8601(_ b: [UInt8]) -> Int64? {
        var i = 0
        func number(_ count: Int) -> Int64? {
            guard i + count <= b.count else { return nil }
            var value: Int64 = 0
            for k in 0..<count {
                guard let d = digit(b[i + k]) else { return nil }
                value = value * 10 + d
            }
            i += count
            return value
        }
        func expect(_ c: Character) -> Bool {
            guard i < b.count, b[i] == c.asciiValue else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2) else { return nil }
        guard (1...12).contains(month), day >= 1, day <= CivilCalendar.daysIn(month: month, year: year) else { return nil }
        var hour: Int64 = 0, minute: Int64 = 0, second: Int64 = 0, fraction: Int64 = 0, offset: Int64 = 0
        if i < b.count {
            guard b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == UInt8(ascii: " ") else { return nil }
            i += 1
            guard let h = number(2), expect(":"), let m = number(2) else { return nil }
            hour = h
            minute = m
            if expect(":") {
                guard let s = number(2) else { return nil }
                second = s
                if i < b.count, b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",") {
                    i += 1
                    var scale: Int64 = 100_000_000
                    var digits = 0
                    while i < b.count, let d = digit(b[i]) {
                        fraction += d * scale
                        scale /= 10
                        digits += 1
                        i += 1
                    }
                    guard digits > 0 else { return nil }
                }
            }
            guard hour <= 23, minute <= 59, second <= 60 else { return nil }
            if i < b.count {
                if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
                    i += 1
                } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                    let sign: Int64 = b[i] == UInt8(ascii: "-") ? -1 : 1
                    i += 1
                    guard let oh = number(2) else { return nil }
                    var om: Int64 = 0
                    if i < b.count {
                        _ = expect(":")
                        guard let m = number(2) else { return nil }
                        om = m
                    }
                    guard oh <= 23, om <= 59 else { return nil }
                    offset = sign * (oh * 3600 + om * 60)
                } else {
                    return nil
                }
            }
            guard i == b.count else { return nil }
        }
        let seconds = CivilCalendar.days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offset
        guard secondsRange.contains(seconds) else { return nil }
        let (ns, overflow) = (seconds * 1_000_000_000).addingReportingOverflow(fraction)
        return overflow ? nil : ns
    }

    static func digit(_ byte: UInt8) -> Int64? {
        byte >= 0x30 && byte <= 0x39 ? Int64(byte - 0x30) : nil
    }
}
