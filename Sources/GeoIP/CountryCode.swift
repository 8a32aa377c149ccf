/// An ISO 3166-1 alpha-2 country code packed in two bytes, so it fits in
/// per-packet records and cache slots without a String.
///
/// `rawValue` holds the two ASCII letters big-end first (`"JP"` is
/// `0x4A50`), which makes `<` alphabetical. `0` means unknown and prints
/// as `"??"`. Validation is structural (two letters `A`–`Z`), not a check
/// against the ISO list: GeoIP databases also carry user-assigned codes
/// such as `XK` (Kosovo) and historical ones such as `EU` and `AP`.
public struct CountryCode: Hashable, Sendable, BitwiseCopyable, Comparable, CustomStringConvertible {
    public let rawValue: UInt16

    /// No country: no database, address not covered, or a record without a usable code.
    public static let unknown = CountryCode(uncheckedRawValue: 0)

    @inlinable
    init(uncheckedRawValue: UInt16) {
        self.rawValue = uncheckedRawValue
    }

    /// A code from its packed value; `nil` unless it is 0 (unknown) or two letters `A`–`Z`.
    @inlinable
    public init?(rawValue: UInt16) {
        if rawValue == 0 {
            self = .unknown
            return
        }
        guard let code = CountryCode(first: UInt8(rawValue >> 8), second: UInt8(rawValue & 0xFF)) else { return nil }
        self = code
    }

    /// A code from its two ASCII bytes; `nil` unless both are `A`–`Z`.
    @inlinable
    public init?(first: UInt8, second: UInt8) {
        guard CountryCode.isUppercaseLetter(first), CountryCode.isUppercaseLetter(second) else { return nil }
        self.rawValue = UInt16(first) << 8 | UInt16(second)
    }

    /// Parses exactly two uppercase ASCII letters (`"JP"`); anything else
    /// (`"jp"`, `"J"`, `"JPN"`, `"??"`, non-ASCII) is `nil`.
    public init?(_ text: some StringProtocol) {
        var iterator = text.utf8.makeIterator()
        guard let first = iterator.next(), let second = iterator.next(), iterator.next() == nil else { return nil }
        self.init(first: first, second: second)
    }

    public var isKnown: Bool { rawValue != 0 }

    public static func < (a: CountryCode, b: CountryCode) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        guard isKnown else { return "??" }
        return String(decoding: [UInt8(rawValue >> 8), UInt8(rawValue & 0xFF)], as: UTF8.self)
    }

    @inlinable
    static func isUppercaseLetter(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")
    }
}
