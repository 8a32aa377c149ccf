import GeoIP
import Testing

@Suite struct CountryCodeTests {
    @Test(arguments: ["JP", "DE", "US", "AA", "ZZ", "XK", "EU"])
    func validCodes(_ text: String) throws {
        let code = try #require(CountryCode(text))
        #expect(code.isKnown)
        #expect(code.description == text)
        #expect(CountryCode(rawValue: code.rawValue) == code)
        let bytes = Array(text.utf8)
        #expect(CountryCode(first: bytes[0], second: bytes[1]) == code)
        #expect(code.rawValue == UInt16(bytes[0]) << 8 | UInt16(bytes[1]))
    }

    @Test(arguments: ["", "J", "jp", "Jp", "jP", "JPN", "J1", "1J", "??", " JP", "JP ", "ÄÖ", "J\u{0}", "日本"])
    func invalidCodes(_ text: String) {
        #expect(CountryCode(text) == nil)
    }

    @Test func unknown() {
        #expect(CountryCode.unknown.description == "??")
        #expect(!CountryCode.unknown.isKnown)
        #expect(CountryCode.unknown.rawValue == 0)
        #expect(CountryCode(rawValue: 0) == .unknown)
        #expect(CountryCode(rawValue: 0x4A70) == nil)  // "Jp"
        #expect(CountryCode(rawValue: 0x0041) == nil)
    }

    @Test func ordering() {
        let codes = ["US", "DE", "JP", "AU", "BR"].map { CountryCode($0)! }
        #expect(codes.sorted().map(\.description) == ["AU", "BR", "DE", "JP", "US"])
        #expect(CountryCode.unknown < CountryCode("AA")!)
        #expect(Set(codes + codes).count == 5)
        #expect(MemoryLayout<CountryCode>.size == 2)
    }
}
