import Decoding
import Foundation
import GeoIP
import Synth
import Testing

@Suite struct GeoIPDatabaseTests {
    @Test func looksUpEveryFixtureAddress() throws {
        let directory = try TemporaryDirectory()
        let database = try GeoIPDatabase(path: Fixture.write(in: directory))
        for (text, expected) in Fixture.expectations {
            let address = try #require(IPAddress(text))
            let expectedCode = expected.map { CountryCode($0)! } ?? .unknown
            #expect(database.country(of: address) == expectedCode, "\(text)")
            #expect(try database.lookupCountry(of: address) == expectedCode, "\(text)")
        }
    }

    @Test func metadataComesFromTheFile() throws {
        let directory = try TemporaryDirectory()
        let database = try GeoIPDatabase(path: Fixture.write(in: directory))
        let metadata = database.metadata
        #expect(metadata.databaseType == "GeoLite2-Country")
        #expect(metadata.ipVersion == 6)
        #expect(metadata.recordSize == 24)
        #expect(metadata.binaryFormatMajorVersion == 2)
        #expect(metadata.binaryFormatMinorVersion == 0)
        #expect(metadata.buildEpoch == 1_700_000_000)
        #expect(metadata.nodeCount > 128)
        #expect(metadata.languages == ["en"])
        #expect(metadata.descriptions["en"] == "darknet-sensor synthetic test database")
        #expect(database.path.hasSuffix("country.mmdb"))
    }

    @Test func ipv4OnlyTreeAnswersIPv4AndReturnsUnknownForIPv6() throws {
        let directory = try TemporaryDirectory()
        var writer = MMDBWriter(databaseType: "Test-IPv4-Country", ipVersion: 4)
        try writer.insert(network: "192.0.2.0/24", countryISO: "JP")
        try writer.insert(network: "198.51.100.128/25", countryISO: "DE")
        #expect(throws: MMDBWriterError.self) { try writer.insert(network: "2001:db8::/32", countryISO: "NL") }
        let path = directory.path("v4.mmdb")
        try writer.write(to: path)
        let database = try GeoIPDatabase(path: path)
        #expect(database.metadata.ipVersion == 4)
        #expect(database.country(of: IPAddress("192.0.2.1")!) == CountryCode("JP"))
        #expect(database.country(of: IPAddress("198.51.100.200")!) == CountryCode("DE"))
        #expect(database.country(of: IPAddress("198.51.100.1")!) == .unknown)
        #expect(database.country(of: IPAddress("2001:db8::1")!) == .unknown)
        #expect(try database.lookupCountry(of: IPAddress("2001:db8::1")!) == .unknown)
    }

    @Test func malformedCodesAreUnknownAndWrongShapesAreReported() throws {
        let directory = try TemporaryDirectory()
        var writer = MMDBWriter(databaseType: "GeoLite2-Country")
        try writer.insert(network: "192.0.2.0/26", countryISO: "jp")      // lowercase
        try writer.insert(network: "192.0.2.64/26", countryISO: "JPN")    // three letters
        try writer.insert(network: "192.0.2.128/26", record: .map(["country": .map(["iso_code": .uint32(0x4A50)])]))
        try writer.insert(network: "192.0.2.192/27", record: .map(["country": .string("JP")]))  // not a map
        try writer.insert(network: "192.0.2.224/27", record: .map([
            "country": .map(["iso_code": .string("J")]),
            "registered_country": .map(["iso_code": .string("KR")]),
        ]))
        try writer.insert(network: "198.51.100.0/24", record: .map(["continent": .map(["code": .string("EU")])]))
        let path = directory.path("odd.mmdb")
        try writer.write(to: path)
        let database = try GeoIPDatabase(path: path)
        #expect(database.country(of: IPAddress("192.0.2.1")!) == .unknown)
        #expect(database.country(of: IPAddress("192.0.2.65")!) == .unknown)
        #expect(database.country(of: IPAddress("192.0.2.129")!) == .unknown)
        #expect(database.country(of: IPAddress("192.0.2.193")!) == .unknown)
        // libmaxminddb reports "country is not a map" like a missing key: not an error for us.
        #expect(try database.lookupCountry(of: IPAddress("192.0.2.193")!) == .unknown)
        #expect(database.country(of: IPAddress("192.0.2.230")!) == CountryCode("KR"))
        #expect(database.country(of: IPAddress("198.51.100.1")!) == .unknown)
    }

    @Test func corruptSearchTreeGivesUnknownNotATrap() throws {
        let directory = try TemporaryDirectory()
        let path = try Fixture.write(in: directory)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // Point both records of the root far past the data section.
        for index in 0..<6 { bytes[index] = 0xFF }
        bytes[2] = 0xF0
        let corrupt = directory.path("corrupt-tree.mmdb")
        try Data(bytes).write(to: URL(fileURLWithPath: corrupt))
        let database = try GeoIPDatabase(path: corrupt)
        for text in ["192.0.2.7", "2001:db8::1", "8.8.8.8"] {
            #expect(database.country(of: IPAddress(text)!) == .unknown)
            #expect(throws: GeoIPError.self) { try database.lookupCountry(of: IPAddress(text)!) }
        }
    }

    @Test func corruptDataSectionGivesUnknownNotATrap() throws {
        let directory = try TemporaryDirectory()
        let path = try Fixture.write(in: directory)
        let database = try GeoIPDatabase(path: path)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let dataStart = Int(database.metadata.nodeCount) * 6 + 16
        // Overwrite the data section (not the metadata) with huge strings and pointers.
        let marker = [UInt8]([0xAB, 0xCD, 0xEF]) + Array("MaxMind.com".utf8)
        let metadataStart = try #require(bytes.indices.last(where: { index in
            index + marker.count <= bytes.count && Array(bytes[index..<index + marker.count]) == marker
        }))
        var generator = SplitMix64(seed: 42)
        for index in dataStart..<metadataStart {
            bytes[index] = [0x5F, 0x3F, 0xFF, 0x1F, 0xE0][Int(generator.next() % 5)]
        }
        let corrupt = directory.path("corrupt-data.mmdb")
        try Data(bytes).write(to: URL(fileURLWithPath: corrupt))
        let damaged = try GeoIPDatabase(path: corrupt)
        var errors: [GeoIPError.Code] = []
        for (text, _) in Fixture.expectations {
            _ = damaged.country(of: IPAddress(text)!)  // must not trap; the value is meaningless
            do {
                _ = try damaged.lookupCountry(of: IPAddress(text)!)
            } catch {
                errors.append(error.code)
            }
        }
        // Found entries now decode to garbage: libmaxminddb says so.
        #expect(errors.contains(.invalidData), "\(errors)")
    }

    @Test func sharedAcrossTasks() async throws {
        let directory = try TemporaryDirectory()
        let database = try GeoIPDatabase(path: Fixture.write(in: directory))
        let expected = database.country(of: IPAddress("192.0.2.7")!)
        let results = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    (0..<2_000).allSatisfy { _ in database.country(of: IPAddress("192.0.2.7")!) == expected }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0 })
        #expect(expected == CountryCode("JP"))
    }
}

@Suite struct GeoIPOpenErrorTests {
    func openError(_ path: String) -> GeoIPError? {
        #expect(throws: GeoIPError.self) { _ = try GeoIPDatabase(path: path) }
        do {
            _ = try GeoIPDatabase(path: path)
            return nil
        } catch {
            return error
        }
    }

    @Test func missingFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("absent.mmdb")
        let error = try #require(openError(path))
        #expect(error.code == .fileOpen)
        #expect(error.operation == .open)
        #expect(error.path == path)
        #expect(error.description.contains(path))
        #expect(error.description.contains("No such file"))
        #expect(!error.message.isEmpty)
    }

    @Test func textFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("readme.txt")
        try Data("This is not a MaxMind database.\n".utf8).write(to: URL(fileURLWithPath: path))
        let error = try #require(openError(path))
        #expect(error.code == .invalidMetadata)
        #expect(error.description.contains("readme.txt"))
    }

    @Test func emptyFileAndDirectory() throws {
        let directory = try TemporaryDirectory()
        let empty = directory.path("empty.mmdb")
        try Data().write(to: URL(fileURLWithPath: empty))
        #expect(openError(empty) != nil)
        #expect(openError(directory.url.path) != nil)
    }

    @Test func truncatedCopies() throws {
        let directory = try TemporaryDirectory()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Fixture.write(in: directory)))
        for length in [bytes.count - 1, bytes.count - 20, bytes.count / 2, 100, 10] {
            let path = directory.path("truncated-\(length).mmdb")
            try bytes.prefix(length).write(to: URL(fileURLWithPath: path))
            let error = try #require(openError(path), "length \(length)")
            #expect(error.code == .invalidMetadata || error.code == .invalidData, "length \(length): \(error)")
        }
    }

    @Test func randomBytes() throws {
        let directory = try TemporaryDirectory()
        var generator = SplitMix64(seed: 7)
        for size in [1, 64, 4_096, 100_000] {
            let bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let path = directory.path("random-\(size).mmdb")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            #expect(openError(path) != nil, "size \(size)")
        }
    }

    @Test func metadataMarkerWithGarbageAfterIt() throws {
        let directory = try TemporaryDirectory()
        var bytes = [UInt8](repeating: 0, count: 64) + [0xAB, 0xCD, 0xEF] + Array("MaxMind.com".utf8)
        bytes += [0xE1, 0x44] + Array("node".utf8) + [0xFF, 0xFF]
        let path = directory.path("garbage-metadata.mmdb")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(openError(path) != nil)
    }

    @Test func unsupportedFormatVersion() throws {
        let directory = try TemporaryDirectory()
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixture.write(in: directory))))
        // The metadata map is written with sorted keys and minimal integers:
        // binary_format_major_version is the first value (0xA1 0x02).
        let key = Array("binary_format_major_version".utf8)
        let keyStart = try #require(bytes.indices.first { index in
            index + key.count <= bytes.count && Array(bytes[index..<index + key.count]) == key
        })
        var wrongVersion = bytes
        #expect(wrongVersion[keyStart + key.count] == 0xA1)
        wrongVersion[keyStart + key.count + 1] = 3
        let versionPath = directory.path("v3.mmdb")
        try Data(wrongVersion).write(to: URL(fileURLWithPath: versionPath))
        let error = try #require(openError(versionPath))
        #expect(error.code == .unknownDatabaseFormat)
    }
}
