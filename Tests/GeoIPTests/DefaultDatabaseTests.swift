import Decoding
import Foundation
import GeoIP
import Testing

/// Where commands look for a country database when none is named, and the
/// database `scripts/install-deps.sh` installs there.
@Suite struct DefaultDatabaseTests {
    static var installed: Bool { FileManager.default.isReadableFile(atPath: DefaultGeoIPDatabase.installedPath) }
    /// No GeoLite2 file from geoipupdate is ahead of the installed one.
    static var installedIsFirst: Bool {
        installed && DefaultGeoIPDatabase.searchPaths.prefix { $0 != DefaultGeoIPDatabase.installedPath }
            .allSatisfy { !FileManager.default.fileExists(atPath: $0) }
    }
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func findTakesTheFirstReadableRegularFile() throws {
        let directory = try TemporaryDirectory()
        let missing = directory.path("missing.mmdb")
        let folder = directory.path("folder.mmdb")
        let first = directory.path("first.mmdb")
        let second = directory.path("second.mmdb")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        for path in [first, second] { try Data("x".utf8).write(to: URL(fileURLWithPath: path)) }

        #expect(DefaultGeoIPDatabase.find(in: [missing, folder, first, second]) == first)
        #expect(DefaultGeoIPDatabase.find(in: [second, first]) == second)
        #expect(DefaultGeoIPDatabase.find(in: [missing, folder]) == nil)
        #expect(DefaultGeoIPDatabase.find(in: []) == nil)
    }

    @Test func theInstalledFileIsSearchedLast() {
        #expect(DefaultGeoIPDatabase.searchPaths.last == DefaultGeoIPDatabase.installedPath)
        #expect(DefaultGeoIPDatabase.searchPaths.allSatisfy { $0.hasPrefix("/") && $0.hasSuffix(".mmdb") })
    }

    /// install-deps.sh installs to the path the code searches, and the
    /// example configuration names it.
    @Test func installScriptAndExampleConfigurationNameTheSamePath() throws {
        let script = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("scripts/install-deps.sh"), encoding: .utf8)
        let directory = (DefaultGeoIPDatabase.installedPath as NSString).deletingLastPathComponent
        let name = (DefaultGeoIPDatabase.installedPath as NSString).lastPathComponent
        #expect(script.contains("GEOIP_DIR=\(directory)\n"))
        #expect(script.contains("GEOIP_FILE=\"$GEOIP_DIR/\(name)\"\n"))
        let example = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("config/darknetd.yaml"), encoding: .utf8)
        #expect(example.contains("  database: \(DefaultGeoIPDatabase.installedPath)\n"))
    }

    @Test func openNotesWhenThereIsNoDatabase() throws {
        let directory = try TemporaryDirectory()
        var notes: [String] = []
        #expect(DefaultGeoIPDatabase.open(in: [directory.path("missing.mmdb")], note: { notes.append($0) }) == nil)
        #expect(notes.count == 1 && notes[0].contains("no country database"), "\(notes)")

        // A file that is not a MaxMind DB: a note naming it, and no database.
        let junk = directory.path("junk.mmdb")
        try Data("not a database".utf8).write(to: URL(fileURLWithPath: junk))
        notes = []
        #expect(DefaultGeoIPDatabase.open(in: [junk], note: { notes.append($0) }) == nil)
        #expect(notes.count == 1 && notes[0].contains(junk), "\(notes)")
    }

    @Test func openNamesTheFileAndItsBuildDate() throws {
        let directory = try TemporaryDirectory()
        let path = try Fixture.write(in: directory)
        var notes: [String] = []
        let database = try #require(DefaultGeoIPDatabase.open(in: [path], note: { notes.append($0) }))
        #expect(database.path == path)
        // The fixture's build epoch is 1,700,000,000: 2023-11-14 22:13:20 UTC.
        #expect(notes == ["GeoIP: \(path) (GeoLite2-Country, built 2023-11-14)"])
    }

    @Test(.enabled(if: installedIsFirst, "no database at \(DefaultGeoIPDatabase.installedPath) (scripts/install-deps.sh installs it), or a GeoLite2 file is found first"))
    func theDefaultIsTheInstalledDatabase() {
        #expect(DefaultGeoIPDatabase.find() == DefaultGeoIPDatabase.installedPath)
    }

    /// Addresses whose holders have been where they are for decades: the
    /// registries' own servers, a university, public resolvers.
    static let wellKnown: [(address: String, country: String)] = [
        ("193.0.6.139", "NL"),       // RIPE NCC, Amsterdam
        ("202.12.29.205", "AU"),     // APNIC, Brisbane
        ("200.160.2.3", "BR"),       // NIC.br, São Paulo
        ("133.11.0.1", "JP"),        // University of Tokyo
        ("8.8.8.8", "US"),           // Google Public DNS
        ("218.92.0.1", "CN"),        // China Telecom Jiangsu
        ("2001:67c:2e8::1", "NL"),   // RIPE NCC, IPv6
    ]

    @Test(.enabled(if: installed, "no database at \(DefaultGeoIPDatabase.installedPath); scripts/install-deps.sh installs it"))
    func installedDatabaseResolvesWellKnownAddresses() throws {
        let database = try GeoIPDatabase(path: DefaultGeoIPDatabase.installedPath)
        #expect(database.metadata.binaryFormatMajorVersion == 2)
        #expect(database.metadata.ipVersion == 6)
        for (text, country) in Self.wellKnown {
            let address = try #require(IPAddress(text))
            #expect(try database.lookupCountry(of: address) == CountryCode(country), "\(text)")
        }
        // Private, documentation and benchmark space is in no country.
        for text in ["10.0.0.1", "192.168.1.1", "192.0.2.1", "198.18.0.1", "127.0.0.1", "fe80::1", "2001:db8::1"] {
            let address = try #require(IPAddress(text))
            #expect(database.country(of: address) == .unknown, "\(text)")
        }
    }
}
