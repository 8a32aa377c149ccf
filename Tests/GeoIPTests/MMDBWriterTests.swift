import Decoding
import Foundation
import GeoIP
import Synth
import Testing

@Suite struct MMDBWriterTests {
    @Test(.enabled(if: mmdblookupInstalled, "mmdblookup (mmdb-bin) is not installed"))
    func mmdblookupReadsTheWriterOutput() throws {
        let directory = try TemporaryDirectory()
        let path = try Fixture.write(in: directory)
        for (text, expected) in Fixture.expectations {
            let result = try #require(try mmdblookup(file: path, ip: text))
            if let expected {
                #expect(result.status == 0, "\(text): \(result.output)")
                #expect(result.output.contains("\"\(expected)\" <utf8_string>"), "\(text): \(result.output)")
            } else if text != "::ffff:192.0.2.9" {
                #expect(result.output.contains("Could not find an entry") || !result.output.contains("\"country\""),
                        "\(text): \(result.output)")
            }
        }
    }

    @Test(.enabled(if: mmdblookupInstalled, "mmdblookup (mmdb-bin) is not installed"))
    func ipv4IsReachableThroughBothIPv6Forms() throws {
        let directory = try TemporaryDirectory()
        let path = try Fixture.write(in: directory)
        // libmaxminddb looks IPv4 up at ::a.b.c.d; ::ffff:a.b.c.d is aliased to the same subtree.
        for ip in ["192.0.2.7", "::192.0.2.7", "::ffff:192.0.2.7", "::c000:207", "::ffff:c000:207"] {
            let result = try #require(try mmdblookup(file: path, ip: ip))
            #expect(result.output.contains("\"JP\" <utf8_string>"), "\(ip): \(result.output)")
        }
        let outside = try #require(try mmdblookup(file: path, ip: "::ffff:192.0.3.1"))
        #expect(outside.output.contains("Could not find an entry"), "\(outside.output)")
    }

    @Test(.enabled(if: mmdblookupInstalled, "mmdblookup (mmdb-bin) is not installed"))
    func registeredCountryRecordAsSeenByMmdblookup() throws {
        let directory = try TemporaryDirectory()
        let path = try Fixture.write(in: directory)
        let result = try #require(try mmdblookup(file: path, ip: "2001:db8:4000::1"))
        #expect(result.output.contains("\"registered_country\""))
        #expect(result.output.contains("\"ZA\" <utf8_string>"))
        #expect(!result.output.contains("\"country\""))
    }

    @Test func identicalRecordsAndStringsAreStoredOnce() throws {
        var one = MMDBWriter(databaseType: "GeoLite2-Country")
        try one.insert(network: "192.0.2.0/24", countryISO: "JP")
        var many = MMDBWriter(databaseType: "GeoLite2-Country")
        for third in 0..<64 {
            try many.insert(network: "10.\(third).0.0/16", countryISO: "JP")
        }
        let oneBytes = try one.bytes()
        let manyBytes = try many.bytes()
        func occurrences(_ needle: [UInt8], in haystack: [UInt8]) -> Int {
            guard haystack.count >= needle.count else { return 0 }
            return (0...(haystack.count - needle.count)).filter { Array(haystack[$0..<$0 + needle.count]) == needle }.count
        }
        // The record {"country": {"iso_code": "JP"}} appears exactly once.
        #expect(occurrences(Array("iso_code".utf8), in: manyBytes) == 1)
        #expect(occurrences(Array("iso_code".utf8), in: oneBytes) == 1)

        // Different countries share the key strings through pointers.
        var two = MMDBWriter(databaseType: "GeoLite2-Country")
        try two.insert(network: "192.0.2.0/24", countryISO: "JP")
        try two.insert(network: "198.51.100.0/24", countryISO: "DE")
        let twoBytes = try two.bytes()
        #expect(occurrences(Array("iso_code".utf8), in: twoBytes) == 1)
        #expect(occurrences(Array("country".utf8), in: twoBytes) == 1)
        let directory = try TemporaryDirectory()
        let path = directory.path("two.mmdb")
        try two.write(to: path)
        let database = try GeoIPDatabase(path: path)
        #expect(database.country(of: IPAddress("198.51.100.9")!) == CountryCode("DE"))
        #expect(database.country(of: IPAddress("192.0.2.9")!) == CountryCode("JP"))
    }

    @Test func moreSpecificWinsRegardlessOfOrderAndLastEqualWins() throws {
        let directory = try TemporaryDirectory()
        var writer = MMDBWriter(databaseType: "Test")
        try writer.insert(network: "10.1.2.0/24", countryISO: "IT")
        try writer.insert(network: "10.0.0.0/8", countryISO: "FR")
        try writer.insert(network: "10.9.0.0/16", countryISO: "ES")
        try writer.insert(network: "10.9.0.0/16", countryISO: "PT")
        try writer.insert(network: "::/0", countryISO: "AQ")
        try writer.insert(network: "2001:db8::/32", countryISO: "NL")
        let path = directory.path("order.mmdb")
        try writer.write(to: path)
        let database = try GeoIPDatabase(path: path)
        #expect(database.country(of: IPAddress("10.1.2.3")!) == CountryCode("IT"))
        #expect(database.country(of: IPAddress("10.1.3.3")!) == CountryCode("FR"))
        #expect(database.country(of: IPAddress("10.9.1.1")!) == CountryCode("PT"))
        #expect(database.country(of: IPAddress("2001:db8::1")!) == CountryCode("NL"))
        #expect(database.country(of: IPAddress("2a00::1")!) == CountryCode("AQ"))
        // ::/0 covers ::/96 too, so IPv4 outside 10/8 is AQ.
        #expect(database.country(of: IPAddress("8.8.8.8")!) == CountryCode("AQ"))
    }

    @Test func emptyDatabaseOpensAndKnowsNothing() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("empty.mmdb")
        try MMDBWriter(databaseType: "Empty").write(to: path)
        let database = try GeoIPDatabase(path: path)
        #expect(database.metadata.nodeCount == 1)
        #expect(database.country(of: IPAddress("192.0.2.1")!) == .unknown)
        #expect(database.country(of: IPAddress("2001:db8::1")!) == .unknown)
    }

    @Test func encodesLongStringsAndAllValueTypes() throws {
        let directory = try TemporaryDirectory()
        var writer = MMDBWriter(databaseType: "Test")
        let long = String(repeating: "x", count: 70_000)
        try writer.insert(network: "192.0.2.0/24", record: .map([
            "country": .map(["iso_code": .string("JP"), "geoname_id": .uint32(1_861_060)]),
            "names": .map(["short": .string(String(repeating: "y", count: 40)),
                           "medium": .string(String(repeating: "z", count: 300)),
                           "long": .string(long)]),
            "flags": .array([.boolean(true), .boolean(false), .int32(-5), .double(1.5), .uint64(1 << 40), .uint16(0)]),
        ]))
        try writer.insert(network: "198.51.100.0/24", countryISO: "DE")
        let path = directory.path("types.mmdb")
        try writer.write(to: path)
        let database = try GeoIPDatabase(path: path)
        #expect(database.country(of: IPAddress("192.0.2.1")!) == CountryCode("JP"))
        // The second record sits past a 70 kB string: its key strings are
        // reached through a pointer of the longer forms.
        #expect(database.country(of: IPAddress("198.51.100.1")!) == CountryCode("DE"))
        if mmdblookupInstalled {
            let result = try #require(try mmdblookup(file: path, ip: "192.0.2.1"))
            #expect(result.output.contains("-5 <int32>"), "\(result.output.prefix(2_000))")
            #expect(result.output.contains("1861060 <uint32>"))
            #expect(result.output.contains("1099511627776 <uint64>"))
            #expect(result.output.contains("true <boolean>"))
        }
    }

    @Test(arguments: ["192.0.2.0", "192.0.2.0/33", "192.0.2.1/24", "2001:db8::1/32", "2001:db8::/129",
                      "nonsense/8", "/24", "192.0.2.0/", "192.0.2.0/24/1", "2001:db8::/-1", "::ffff:192.0.2.1/120"])
    func rejectsBadNetworks(_ network: String) {
        var writer = MMDBWriter(databaseType: "Test")
        #expect(throws: MMDBWriterError.self) { try writer.insert(network: network, countryISO: "JP") }
        #expect(writer.networkCount == 0)
    }

    @Test func acceptsIPv4MappedNotation() throws {
        let directory = try TemporaryDirectory()
        var writer = MMDBWriter(databaseType: "Test")
        try writer.insert(network: "::ffff:192.0.2.0/120", countryISO: "JP")
        let path = directory.path("mapped.mmdb")
        try writer.write(to: path)
        let database = try GeoIPDatabase(path: path)
        #expect(database.country(of: IPAddress("192.0.2.200")!) == CountryCode("JP"))
    }
}
