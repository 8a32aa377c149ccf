import Decoding
import Foundation
import Synth

/// A temporary directory removed when the value is released.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("geoip-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// The shared test database: documentation/test ranges, all at /24 (IPv4)
/// or /48 (IPv6) granularity or coarser, so `CountryCache` must agree with it.
enum Fixture {
    static let networks: [(network: String, country: String)] = [
        ("192.0.2.0/24", "JP"),
        ("198.51.100.0/24", "DE"),
        ("203.0.113.0/24", "US"),
        ("198.0.0.0/8", "MX"),          // covers 198.51.100.0/24, inserted after it
        ("10.0.0.0/8", "FR"),
        ("10.1.0.0/16", "IT"),          // more specific inside 10/8
        ("172.16.0.0/12", "GB"),
        ("100.64.0.0/10", "CA"),
        ("2001:db8::/32", "NL"),
        ("2001:db8:8000::/33", "SE"),   // upper half of 2001:db8::/32
        ("2001:db8:1234::/48", "AU"),
        ("3fff::/20", "KR"),
        ("fd00::/8", "CH"),
    ]

    /// Only `registered_country`: lookups must fall back to it.
    static let registeredOnlyNetwork = "2001:db8:4000::/34"
    static let registeredOnlyCountry = "ZA"

    /// (address, expected code or nil for unknown).
    static let expectations: [(String, String?)] = [
        ("192.0.2.0", "JP"), ("192.0.2.7", "JP"), ("192.0.2.255", "JP"),
        ("192.0.1.255", nil), ("192.0.3.0", nil),
        ("198.51.100.42", "DE"), ("198.51.101.1", "MX"), ("198.0.0.1", "MX"), ("197.255.255.255", nil),
        ("203.0.113.200", "US"), ("203.0.114.1", nil),
        ("10.0.0.1", "FR"), ("10.1.2.3", "IT"), ("10.2.0.0", "FR"), ("11.0.0.0", nil),
        ("172.16.0.1", "GB"), ("172.31.255.255", "GB"), ("172.32.0.0", nil),
        ("100.64.0.1", "CA"), ("100.127.255.255", "CA"), ("100.128.0.0", nil),
        ("8.8.8.8", nil), ("0.0.0.0", nil), ("255.255.255.255", nil),
        ("2001:db8::1", "NL"), ("2001:db8:3fff:ffff::1", "NL"),
        ("2001:db8:8000::1", "SE"), ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "SE"),
        ("2001:db8:1234::5", "AU"), ("2001:db8:1234:ffff::1", "AU"), ("2001:db8:1235::1", "NL"),
        ("2001:db8:4000::1", "ZA"), ("2001:db8:7fff::1", "ZA"),
        ("2001:db9::1", nil), ("2001:db7:ffff::1", nil),
        ("3fff::1", "KR"), ("3fff:fff::1", "KR"), ("3fff:1000::1", nil),
        ("fd12:3456::1", "CH"), ("fe80::1", nil), ("::1", nil), ("::", nil),
        // IPv4-mapped written as IPv6 is still IPv4 (IPAddress stores it that way).
        ("::ffff:192.0.2.9", "JP"),
    ]

    static func writer() throws -> MMDBWriter {
        var writer = MMDBWriter(databaseType: "GeoLite2-Country")
        for (network, country) in networks {
            try writer.insert(network: network, countryISO: country)
        }
        try writer.insert(
            network: registeredOnlyNetwork,
            record: .map(["registered_country": .map(["iso_code": .string(registeredOnlyCountry)])])
        )
        return writer
    }

    static func write(in directory: TemporaryDirectory, name: String = "country.mmdb") throws -> String {
        let path = directory.path(name)
        try writer().write(to: path)
        return path
    }
}

/// Runs `mmdblookup` if it is installed; nil when it is not.
func mmdblookup(file: String, ip: String) throws -> (status: Int32, output: String)? {
    let candidates = ["/usr/bin/mmdblookup", "/usr/local/bin/mmdblookup"]
    guard let executable = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        return nil
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = ["--file", file, "--ip", ip]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

var mmdblookupInstalled: Bool {
    FileManager.default.isExecutableFile(atPath: "/usr/bin/mmdblookup")
        || FileManager.default.isExecutableFile(atPath: "/usr/local/bin/mmdblookup")
}
