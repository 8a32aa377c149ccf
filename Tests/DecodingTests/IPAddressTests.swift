import Testing
import Decoding

@Suite struct IPAddressTests {
    @Test(arguments: ["192.0.2.1", "0.0.0.0", "255.255.255.255", "2001:db8::1", "::", "::1", "fe80::1:2:3:4", "2001:db8:0:1:1:1:1:1", "::fffe:0:1"])
    func roundTrips(_ text: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.description == text)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "::1::", "12345::", "1:2:3:4:5:6:7:8:9", "g::1", ":1", "1:"])
    func rejectsMalformed(_ text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func ipv4IsMapped() throws {
        let address = try #require(IPAddress("10.1.2.3"))
        #expect(address.isIPv4)
        #expect(address.ipv4 == 0x0A01_0203)
        #expect(address.high == 0 && address.low == 0x0000_FFFF_0A01_0203)
        #expect(IPAddress("::ffff:10.1.2.3") == address)
        #expect(try #require(IPAddress("2001:db8:0:0:1:0:0:1")).description == "2001:db8::1:0:0:1")
    }
}
