import Decoding
import Foundation
import Synth
import Testing
@testable import GeoIP

/// IPv4 lookups answer from ranges read out of the search tree once: they
/// must give what a walk of the tree gives, for every address.
@Suite struct IPv4CountryRangesTests {
    /// Every range boundary and its neighbours, plus random addresses.
    static func expectRangesMatchTheTree(_ database: GeoIPDatabase, random: Int) throws {
        #expect(database.ipv4RangeCount > 0, "the ranges were read")
        var generator = SplitMix(seed: 42)
        var addresses: [UInt32] = [0, 1, 0xFFFF_FFFF, 0xFFFF_FFFE, 0x7FFF_FFFF, 0x8000_0000]
        for _ in 0..<random { addresses.append(UInt32(truncatingIfNeeded: generator.next())) }
        for a in addresses {
            let address = IPAddress(ipv4: a)
            #expect(try database.lookupCountry(of: address) == database.treeCountry(of: address), "\(address)")
        }
    }

    @Test func theFixtureDatabaseGivesTheTreesAnswers() throws {
        let directory = try TemporaryDirectory()
        let database = try GeoIPDatabase(path: Fixture.write(in: directory))
        try Self.expectRangesMatchTheTree(database, random: 20_000)
        // Every boundary of the fixture's networks, each side of it.
        for (network, _) in Fixture.networks where !network.contains(":") {
            let parts = network.split(separator: "/")
            let base = IPAddress(String(parts[0]))!.ipv4
            let length = UInt32(parts[1])!
            let last = base | (length == 0 ? .max : (1 << (32 - length)) - 1)
            for a in [base &- 1, base, base &+ 1, last &- 1, last, last &+ 1] {
                let address = IPAddress(ipv4: a)
                #expect(try database.lookupCountry(of: address) == database.treeCountry(of: address), "\(address)")
            }
        }
        for (text, code) in Fixture.expectations {
            guard let address = IPAddress(text), address.isIPv4 else { continue }
            #expect(database.country(of: address) == (code.flatMap { CountryCode($0) } ?? .unknown), "\(text)")
        }
    }

    @Test func anIPv4OnlyDatabaseToo() throws {
        let directory = try TemporaryDirectory()
        var writer = MMDBWriter(databaseType: "Test-IPv4-Country", ipVersion: 4)
        try writer.insert(network: "192.0.2.0/24", countryISO: "JP")
        try writer.insert(network: "10.0.0.0/8", countryISO: "FR")
        try writer.insert(network: "10.128.0.0/9", countryISO: "IT")
        let path = directory.path("v4.mmdb")
        try writer.write(to: path)
        let database = try GeoIPDatabase(path: path)
        try Self.expectRangesMatchTheTree(database, random: 5_000)
        #expect(database.country(of: IPAddress("10.200.0.1")!) == CountryCode("IT"))
        #expect(database.country(of: IPAddress("10.1.0.1")!) == CountryCode("FR"))
        #expect(database.country(of: IPAddress("11.0.0.0")!) == .unknown)
    }

    @Test(.enabled(if: FileManager.default.isReadableFile(atPath: DefaultGeoIPDatabase.installedPath),
                   "the installed database (scripts/install-deps.sh) is absent"))
    func theInstalledDatabaseGivesTheTreesAnswers() throws {
        let opened = ContinuousClock.now
        let database = try GeoIPDatabase(path: DefaultGeoIPDatabase.installedPath)
        print("IPv4CountryRangesTests: \(database.ipv4RangeCount) IPv4 ranges, opened in \(ContinuousClock.now - opened) (debug build)")
        try Self.expectRangesMatchTheTree(database, random: 200_000)
    }
}

/// SplitMix64: a small deterministic generator for the test's addresses.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
