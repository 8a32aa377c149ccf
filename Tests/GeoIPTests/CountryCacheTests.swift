import Decoding
import GeoIP
import Synth
import Testing

@Suite struct CountryCacheTests {
    /// Mostly addresses inside the fixture networks (so lookups hit
    /// countries and blocks repeat), the rest anywhere.
    static func randomAddresses(count: Int, seed: UInt64) -> [IPAddress] {
        var generator = SplitMix64(seed: seed)
        let v4Bases: [UInt32] = [0xC000_0200, 0xC633_6400, 0xCB00_7100, 0x0A00_0000, 0x0A01_0000, 0xAC10_0000, 0x6440_0000, 0xC600_0000]
        let v6Bases: [UInt64] = [0x2001_0DB8_0000_0000, 0x2001_0DB8_8000_0000, 0x2001_0DB8_1234_0000, 0x2001_0DB8_4000_0000, 0x3FFF_0000_0000_0000, 0xFD00_0000_0000_0000]
        return (0..<count).map { _ in
            let r = generator.next()
            switch r % 10 {
            case 0..<4:
                // A few hundred /24s around the fixture IPv4 networks.
                let base = v4Bases[Int(r >> 8) % v4Bases.count]
                return IPAddress(ipv4: base &+ UInt32(truncatingIfNeeded: generator.next() % 0x4_0000))
            case 4..<7:
                let base = v6Bases[Int(r >> 8) % v6Bases.count]
                return IPAddress(high: base | (generator.next() % 0x40_0000), low: generator.next())
            case 7:
                return IPAddress(ipv4: UInt32(truncatingIfNeeded: generator.next()))
            case 8:
                return IPAddress(high: generator.next(), low: generator.next())
            default:
                // ::/48 non-IPv4 addresses: bypass the cache.
                return IPAddress(high: 0, low: generator.next() % 0x1_0000_0000)
            }
        }
    }

    @Test func agreesWithDirectLookupsAndHits() throws {
        let directory = try TemporaryDirectory()
        let database = try GeoIPDatabase(path: Fixture.write(in: directory))
        var cache = CountryCache(database: database)
        #expect(cache.capacity == 65_536)
        let addresses = Self.randomAddresses(count: 10_000, seed: 2024)
        var known = 0
        for address in addresses {
            let direct = database.country(of: address)
            let cached = cache.country(of: address)
            #expect(cached == direct, "\(address)")
            if direct.isKnown { known += 1 }
        }
        // Second pass: every cacheable block is resident now (few collisions at 64Ki slots).
        for address in addresses {
            #expect(cache.country(of: address) == database.country(of: address), "\(address)")
        }
        #expect(known > 4_000)
        #expect(cache.hits + cache.misses == 20_000)
        #expect(cache.hits > 10_000)
        #expect(cache.hitRatio > 0.5)
    }

    @Test func tinyCacheStillAgrees() throws {
        let directory = try TemporaryDirectory()
        let database = try GeoIPDatabase(path: Fixture.write(in: directory))
        var cache = CountryCache(database: database, capacityLog2: 4)
        #expect(cache.capacity == 16)
        for address in Self.randomAddresses(count: 5_000, seed: 99) {
            #expect(cache.country(of: address) == database.country(of: address), "\(address)")
        }
        #expect(cache.misses > 0)
    }

    @Test func sameBlockIsOneDatabaseLookup() throws {
        let directory = try TemporaryDirectory()
        let database = try GeoIPDatabase(path: Fixture.write(in: directory))
        var cache = CountryCache(database: database)
        // IPv4 answers from the database's in-memory ranges: never a tree walk.
        for last in 0..<256 as Range<UInt32> {
            #expect(cache.country(of: IPAddress(ipv4: 0xC000_0200 | last)) == CountryCode("JP"))
        }
        #expect(cache.misses == 0)
        #expect(cache.hits == 256)
        for low in 0..<100 as Range<UInt64> {
            #expect(cache.country(of: IPAddress(high: 0x2001_0DB8_1234_0000 | low, low: low)) == CountryCode("AU"))
        }
        #expect(cache.misses == 1)
        // Unknown results are cached too.
        _ = cache.country(of: IPAddress("2001:db9::1")!)
        _ = cache.country(of: IPAddress("2001:db9::2")!)
        #expect(cache.misses == 2)
        // ::/48 non-IPv4 addresses always go to the database.
        _ = cache.country(of: IPAddress("::1")!)
        _ = cache.country(of: IPAddress("::1")!)
        #expect(cache.misses == 4)
        cache.removeAll()
        _ = cache.country(of: IPAddress("2001:db8:1234::1")!)
        #expect(cache.misses == 5)
    }

    @Test func withoutDatabaseEverythingIsUnknown() {
        var cache = CountryCache(database: nil)
        for address in Self.randomAddresses(count: 1_000, seed: 5) {
            #expect(cache.country(of: address) == .unknown)
        }
        #expect(cache.hits == 0)
        #expect(cache.misses == 0)
        #expect(cache.hitRatio == 0)
    }
}
