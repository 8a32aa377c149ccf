import Decoding
import Foundation
import TestSupport
import Synth
import Testing

/// `darknetd analyze` and `generate` as a user runs them.
@Suite struct AnalyzeCommandTests {
    static func tempDir() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("darknetd-e2e-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// `--prefix` keeps the darknet's traffic only: the rest is counted under its own reasons (issue 12, finding 4).
    @Test func prefixCountsWhatIsNotDarknetTraffic() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let capture = dir.appendingPathComponent("gen.pcap").path
        #expect(try Subprocess.run(Executables.darknetd, ["generate", "--out", capture, "--packets", "5000", "--seed", "3"]).status == 0)
        func packets(_ extra: [String]) throws -> (decoded: Int, errors: [String: Int]) {
            let run = try Subprocess.run(Executables.darknetd, ["analyze", "--pcap", capture, "--format", "json"] + extra)
            #expect(run.status == 0, "\(run.stderr)")
            let packets = try #require(try json(run.stdout)["packets"] as? [String: Any])
            return (packets["decoded"] as? Int ?? -1, try #require(packets["decode_errors"] as? [String: Int]))
        }
        let all = try packets([])
        #expect(all.errors["dst-outside-darknet"] == 0 && all.errors["src-inside-darknet"] == 0)
        // The generator's darknet is 198.18.0.0/16; half of it as the darknet leaves the rest outside.
        let half = try packets(["--prefix", "198.18.0.0/17"])
        let outside = try #require(half.errors["dst-outside-darknet"])
        #expect(outside > 1000 && half.decoded + outside == all.decoded, "\(half) \(all)")
        let inside = try packets(["--prefix", "198.18.0.0/16", "--prefix", "0.0.0.0/1"])
        #expect((inside.errors["src-inside-darknet"] ?? 0) > 0, "\(inside)")
        let bad = try Subprocess.run(Executables.darknetd, ["analyze", "--pcap", capture, "--prefix", "198.18.0.1/16"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--prefix 198.18.0.1/16: host bits are set (did you mean 198.18.0.0/16?)"), "\(bad.stderr)")
    }

    @Test func sameFileTwiceGivesIdenticalJSON() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let capture = dir.appendingPathComponent("gen.pcap").path
        let generated = try Subprocess.run(Executables.darknetd, ["generate", "--out", capture, "--packets", "20000", "--seed", "7"])
        #expect(generated.status == 0, "\(generated.output)")
        let first = try Subprocess(Executables.darknetd, ["analyze", "--pcap", capture, "--format", "json"])
        #expect(first.waitForExit(timeout: .seconds(60)) == 0)
        let second = try Subprocess(Executables.darknetd, ["analyze", "--pcap", capture, "--format", "json"])
        #expect(second.waitForExit(timeout: .seconds(60)) == 0)
        #expect(!first.standardOutput.isEmpty)
        #expect(first.standardOutput == second.standardOutput)

        let report = try json(first.standardOutput)
        let packets = try #require(report["packets"] as? [String: Any])
        #expect(packets["total"] as? Int == 20000)
        let errors = try #require(packets["decode_errors"] as? [String: Int])
        #expect((packets["decoded"] as? Int ?? -1) + errors.values.reduce(0, +) == 20000)
        for key in ["classes", "ports", "top_sources", "countries", "scans", "backscatter", "series", "estimates", "capture", "period"] {
            #expect(report[key] != nil, "missing \(key)")
        }
        let ports = try #require(report["ports"] as? [[String: Any]])
        let counts = ports.compactMap { $0["packets"] as? Int }
        #expect(counts == counts.sorted(by: >), "ports by descending packets")
    }

    /// `generate --start` sets the first packet's time; a malformed time is refused by name.
    @Test func generateStartsWhereAsked() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let capture = dir.appendingPathComponent("gen.pcap").path
        let generated = try Subprocess.run(Executables.darknetd,
                                           ["generate", "--out", capture, "--packets", "2000", "--start", "2026-11-26T00:00:00Z"])
        #expect(generated.status == 0, "\(generated.output)")
        let result = try Subprocess(Executables.darknetd, ["analyze", "--pcap", capture, "--format", "json"])
        #expect(result.waitForExit(timeout: .seconds(60)) == 0)
        let period = try #require(try json(result.standardOutput)["period"] as? [String: Any])
        let first = try #require(period["first"] as? String)
        // Within the first second (the first packet may fall on the start itself: "…00Z").
        #expect(first.hasPrefix("2026-11-26T00:00:00"), "\(first)")

        let refused = try Subprocess.run(Executables.darknetd, ["generate", "--out", capture, "--start", "yesterday"])
        #expect(refused.status != 0)
        #expect(refused.output.contains("--start"), "\(refused.output)")
    }

    @Test func topLimitsPortsAndSources() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let capture = dir.appendingPathComponent("gen.pcap").path
        _ = try Subprocess.run(Executables.darknetd, ["generate", "--out", capture, "--packets", "5000"])
        let result = try Subprocess(Executables.darknetd, ["analyze", "--pcap", capture, "--format", "json", "--top", "3"])
        #expect(result.waitForExit(timeout: .seconds(60)) == 0)
        let report = try json(result.standardOutput)
        #expect((report["ports"] as? [Any])?.count == 3)
        #expect((report["top_sources"] as? [Any])?.count == 3)
    }

    @Test func countriesComeFromTheGeoIPDatabase() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var writer = MMDBWriter(databaseType: "Test-Country")
        try writer.insert(network: "192.0.2.0/24", countryISO: "JP")
        try writer.insert(network: "198.51.100.0/24", countryISO: "HK")
        let mmdb = dir.appendingPathComponent("test.mmdb").path
        try writer.write(to: mmdb)

        let capture = dir.appendingPathComponent("c.pcap").path
        let pcap = try PcapFileWriter(path: capture)
        let sources: [(UInt32, Int)] = [(0xC000_0205, 30), (0xC000_0206, 10), (0xC633_6407, 5), (0xCB00_7101, 2)]  // JP, JP, HK, unknown
        var t: Int64 = 1_412_640_000_000_000_000
        for (source, count) in sources {
            for i in 0..<count {
                let packet = PacketBuilder.ipv4TCP(source: source, destination: 0xC612_0000 | UInt32(i), sourcePort: 40000,
                                                   destinationPort: 23, flags: TCPFlag.syn)
                try pcap.write(packet: PacketBuilder.ethernetIPv4(packet), timestampNs: t)
                t += 1_000_000
            }
        }
        try pcap.close()
        let result = try Subprocess(Executables.darknetd, ["analyze", "--pcap", capture, "--format", "json", "--geoip", mmdb])
        #expect(result.waitForExit(timeout: .seconds(60)) == 0, "\(result.standardError)")
        let report = try json(result.standardOutput)
        let countries = try #require(report["countries"] as? [String: Any])
        #expect(countries["database"] as? String == mmdb)
        let rows = try #require(countries["rows"] as? [[String: Any]])
        #expect(rows.map { $0["country"] as? String } == ["JP", "HK", "??"])
        #expect(rows.map { $0["packets"] as? Int } == [40, 5, 2])
        #expect(rows.map { $0["sources"] as? Int } == [2, 1, 1])

        let bad = try Subprocess.run(Executables.darknetd, ["analyze", "--pcap", capture, "--geoip", capture])
        #expect(bad.status == 1)
        #expect(bad.output.hasPrefix("darknetd: "), "\(bad.output)")
    }

    @Test func badInputIsAOneLineErrorAndNonZeroExit() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = try Subprocess.run(Executables.darknetd, ["analyze", "--pcap", dir.appendingPathComponent("nope.pcap").path])
        #expect(missing.status == 1)
        #expect(missing.output.split(separator: "\n").count == 1, "\(missing.output)")
        #expect(missing.output.contains("No such file"))

        let text = dir.appendingPathComponent("text.pcap")
        try Data("hello\n".utf8).write(to: text)
        let notCapture = try Subprocess.run(Executables.darknetd, ["analyze", "--pcap", text.path])
        #expect(notCapture.status == 1)
        #expect(notCapture.output.contains("not a pcap or pcapng capture"))

        let noFiles = try Subprocess.run(Executables.darknetd, ["analyze"])
        #expect(noFiles.status != 0)
        let badBucket = try Subprocess.run(Executables.darknetd, ["analyze", "--demo", "--bucket", "soon"])
        #expect(badBucket.status != 0)
        #expect(badBucket.output.contains("--bucket"))
    }

    @Test func htmlReportIsSelfContained() throws {
        let result = try Subprocess(Executables.darknetd, ["analyze", "--demo", "--format", "html"])
        #expect(result.waitForExit(timeout: .seconds(120)) == 0, "\(result.standardError)")
        let page = result.standardOutput
        #expect(page.hasPrefix("<!DOCTYPE html>"))
        #expect(page.contains("<svg"))
        #expect(page.contains("class=\"sensor\""))
        #expect(page.contains("dns-open-resolver-surge"))
        #expect(page.hasSuffix("</html>\n"))
        // Nothing is fetched: no script, no external resource (the SVG namespace URI is not a fetch).
        #expect(!page.contains("<script"))
        #expect(!page.contains("src="))
        #expect(!page.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "").contains("http"))
    }

    @Test func demoRunsOnTheBuiltInCapture() throws {
        let result = try Subprocess(Executables.darknetd, ["analyze", "--demo", "--format", "json"])
        #expect(result.waitForExit(timeout: .seconds(120)) == 0, "\(result.standardError)")
        let report = try json(result.standardOutput)
        let packets = try #require(report["packets"] as? [String: Any])
        #expect(packets["total"] as? Int == 200_000)
        let classes = try #require(report["classes"] as? [String: Int])
        #expect((classes["reflection-recon"] ?? 0) > 0)
        #expect((classes["backscatter"] ?? 0) > 0)
    }

    static let installedGeoIP = "/usr/local/share/GeoIP/dbip-city-lite.mmdb"  // scripts/install-deps.sh

    /// Without `--geoip` the demo finds the database install-deps.sh
    /// installs and prints countries, not one `??` row; `--geoip none` turns it off.
    @Test(.enabled(if: FileManager.default.isReadableFile(atPath: installedGeoIP), "no database at \(installedGeoIP); scripts/install-deps.sh installs it"))
    func demoHasCountriesOutOfTheBox() throws {
        let result = try Subprocess(Executables.darknetd, ["analyze", "--demo", "--format", "json"])
        #expect(result.waitForExit(timeout: .seconds(120)) == 0, "\(result.standardError)")
        #expect(result.standardError.contains("GeoIP: /"), "\(result.standardError)")
        let countries = try #require(try json(result.standardOutput)["countries"] as? [String: Any])
        #expect((countries["database"] as? String)?.hasSuffix(".mmdb") == true)
        let rows = try #require(countries["rows"] as? [[String: Any]])
        let packets = Dictionary(uniqueKeysWithValues: rows.map { ($0["country"] as? String ?? "", $0["packets"] as? Int ?? 0) })
        #expect(packets.values.reduce(0, +) == 200_000)
        #expect((packets["??"] ?? 0) < 2_000, "\(packets["??"] ?? 0) packets without a country")
        #expect(packets.count >= 50)
        #expect((packets["US"] ?? 0) > 0 && (packets["CN"] ?? 0) > 0 && (packets["JP"] ?? 0) > 0)

        let off = try Subprocess(Executables.darknetd, ["analyze", "--demo", "--format", "json", "--geoip", "none"])
        #expect(off.waitForExit(timeout: .seconds(120)) == 0, "\(off.standardError)")
        let none = try #require(try json(off.standardOutput)["countries"] as? [String: Any])
        #expect(none["database"] == nil || none["database"] is NSNull)
        #expect((none["rows"] as? [[String: Any]])?.map { $0["country"] as? String } == ["??"])
    }
}
