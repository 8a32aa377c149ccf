import Decoding
import Foundation
import GeoIP
import Testing
@testable import Feed

/// The YAML-declared mapping without a database: how it reads CSV/TSV and
/// JSON lines, what it rejects, and how it reports a bad mapping.
struct FeedMappingTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func ns(_ text: String) -> Int64 { FeedTime.nanoseconds(text: text)! }

    func rows(_ mapping: FeedMapping, _ lines: [String]) -> [Result<[FeedRecord], FeedLineError>] {
        var parser = mapping.makeParser()
        return lines.map { parser.parse(line: $0[...], defaultTimeNs: 0) }
    }

    @Test func tsvWithHeaderServiceNamesCountryNamesAndStartEnd() throws {
        let mapping = try FeedMapping.parse(yaml: """
            input: {kind: csv, delimiter: "\\t", header: true}
            time: {field: first_seen, format: iso8601}
            end_time: {field: last_seen, format: iso8601}
            source: src
            port: {field: service}
            protocol: {field: proto}
            country: {field: country}
            weight: {field: hits}
            services: {hasp-lm: 1947}
            countries: {"Special Region": HK}
            """, name: "t.yaml")
        let result = rows(mapping, [
            "first_seen\tlast_seen\tsrc\tservice\tproto\tcountry\thits",
            "2014-10-07T01:00:00Z\t2014-10-07T02:30:00Z\t192.0.2.1\tssh\ttcp\tHong Kong\t12",
            "2014-10-08 00:00:00\t\t2001:db8::1\thasp-lm\tudp\tSPECIAL region\t2.5",
            "2014-10-09T00:00:00+09:00\t\t198.51.100.7\t445\t6\tKorea, Republic of\t1",
            "2014-10-09T00:00:00Z\t\t198.51.100.8\tTELNET\ttcp\tCôte d'Ivoire\t0",
            "first_seen\tlast_seen\tsrc\tservice\tproto\tcountry\thits",
        ])
        #expect(result[0].value == [])
        #expect(result[1].value == [FeedRecord(timeNs: Self.ns("2014-10-07T01:00:00Z"), endTimeNs: Self.ns("2014-10-07T02:30:00Z"),
                                               source: IPAddress("192.0.2.1"), ipProtocol: 6, port: 22, country: CountryCode("HK")!, weight: 12)])
        #expect(result[2].value == [FeedRecord(timeNs: Self.ns("2014-10-08T00:00:00Z"), source: IPAddress("2001:db8::1"), ipProtocol: 17,
                                               port: 1947, country: CountryCode("HK")!, weight: 2.5)])
        #expect(result[3].value == [FeedRecord(timeNs: Self.ns("2014-10-08T15:00:00Z"), source: IPAddress("198.51.100.7"), ipProtocol: 6,
                                               port: 445, country: CountryCode("KR")!, weight: 1)])
        #expect(result[4].value?.first?.port == 23)
        #expect(result[4].value?.first?.country == CountryCode("CI"))
        #expect(result[4].value?.first?.weight == 0)
        // A repeated header (concatenated files) is passed over.
        #expect(result[5].value == [])
    }

    @Test func jsonLinesWithDottedPathsEpochTimesAndConstants() throws {
        let mapping = try FeedMapping.parse(yaml: """
            input: {kind: jsonl}
            time: {field: event.ts, format: epoch-seconds}
            end_time: {field: event.until_ms, format: epoch-milliseconds}
            source: {field: peer.ip}
            port: {field: peer.port}
            protocol: {constant: udp}
            country: {field: geo.name}
            weight: {field: count}
            only: {kind: [probe, scan]}
            """, name: "j.yaml")
        let result = rows(mapping, [
            #"{"kind": "probe", "event": {"ts": 1412683200, "until_ms": 1412683260500}, "peer": {"ip": "192.0.2.9", "port": "dns"}, "geo": {"name": "Japan"}, "count": 3}"#,
            #"{"kind": "scan", "event": {"ts": 1412683200.25}, "peer": {"ip": "192.0.2.10", "port": 123}, "geo": {"name": "jp"}}"#,
            #"{"kind": "login", "event": {"ts": 1412683200}, "peer": {"ip": "192.0.2.11"}}"#,
            #"{"kind": "scan", "event.ts": 1412683201, "peer": {"ip": "192.0.2.12"}, "count": 1}"#,
            "",
            "# a comment",
        ])
        #expect(result[0].value == [FeedRecord(timeNs: 1_412_683_200_000_000_000, endTimeNs: 1_412_683_260_500_000_000,
                                               source: IPAddress("192.0.2.9"), ipProtocol: 17, port: 53, country: CountryCode("JP")!, weight: 3)])
        // No count field: the weight is missing, and the line says so.
        #expect(result[1].error?.reason == .missingField)
        #expect(result[1].error?.message.contains("count") == true)
        // Filtered out by `only`: ignored, not rejected.
        #expect(result[2].value == [])
        // A key that itself holds a dot is found before the path is walked.
        #expect(result[3].value?.first?.timeNs == 1_412_683_201_000_000_000)
        #expect(result[3].value?.first?.port == nil)
        #expect(result[4].value == [])
        #expect(result[5].value == [])

        let constantWeight = try FeedMapping.parse(yaml: "input: {kind: jsonl}\ntime: {field: t}\nweight: {constant: 2}", name: "c.yaml")
        #expect(rows(constantWeight, [#"{"t": "2014-10-07"}"#])[0].value?.first?.weight == 2)
    }

    @Test func headerlessCSVByColumnNumbers() throws {
        let mapping = try FeedMapping.parse(yaml: """
            input: {kind: csv, header: false}
            time: {field: 2, format: date}
            source: {field: 1}
            """, name: "n.yaml")
        let result = rows(mapping, ["192.0.2.1,2014-10-07", "192.0.2.2", "192.0.2.3,2014-10-08,extra"])
        #expect(result[0].value == [FeedRecord(timeNs: Self.ns("2014-10-07"), source: IPAddress("192.0.2.1"))])
        #expect(result[1].error?.reason == .badCSV)
        #expect(result[2].value?.first?.source == IPAddress("192.0.2.3"))
    }

    @Test func badValuesAreRejectedWithTheirReason() throws {
        let mapping = try FeedMapping.parse(yaml: """
            input: {kind: csv}
            time: {field: day, format: date}
            source: {field: ip}
            port: {field: svc}
            country: {field: cc}
            weight: {field: n}
            """, name: "b.yaml")
        let result = rows(mapping, [
            "day,ip,svc,cc,n",
            "2014-10-07T01:00:00Z,192.0.2.1,22,JP,1",
            "2014-10-07,192.0.2.999,22,JP,1",
            "2014-10-07,192.0.2.1,no-such-service,JP,1",
            "2014-10-07,192.0.2.1,70000,JP,1",
            "2014-10-07,192.0.2.1,22,Atlantis,1",
            "2014-10-07,192.0.2.1,22,JP,-1",
            "2014-10-07,192.0.2.1,22,JP,nan",
            "2014-10-07,192.0.2.1,22,--,1",
            "2014-10-07,192.0.2.1",
            ",192.0.2.1,22,JP,1",
        ])
        #expect(result[1].error?.reason == .badTime)
        #expect(result[1].error?.message.contains("a date such as 2014-10-07") == true)
        #expect(result[2].error?.reason == .badAddress)
        #expect(result[3].error?.reason == .badPort)
        #expect(result[3].error?.message.contains("services:") == true)
        #expect(result[4].error?.reason == .badPort)
        #expect(result[5].error?.reason == .badCountry)
        #expect(result[5].error?.message.contains("countries:") == true)
        #expect(result[6].error?.reason == .badWeight)
        #expect(result[7].error?.reason == .badWeight)
        #expect(result[8].value?.first?.country == .unknown)
        #expect(result[9].error?.reason == .badCSV)
        #expect(result[10].error?.reason == .missingField)
    }

    func mappingError(_ yaml: String) -> FeedMappingError? {
        do {
            _ = try FeedMapping.parse(yaml: yaml, name: "m.yaml")
            return nil
        } catch {
            return error
        }
    }

    @Test func validationErrorsNameTheKey() throws {
        let unknown = mappingError("input: {kind: csv}\ntime: {field: t}\nwieght: {field: n}")
        #expect(unknown?.key == "wieght")
        #expect(unknown?.line == 3)
        #expect(unknown?.description.hasPrefix("mapping m.yaml, line 3: wieght: unknown key; expected one of:") == true, "\(String(describing: unknown))")

        let noTime = mappingError("input: {kind: jsonl}\nsource: {field: ip}")
        #expect(noTime?.key == "time")
        #expect(noTime?.description.contains("say which field holds the event time") == true)

        let badFormat = mappingError("input: {kind: jsonl}\ntime: {field: t, format: rfc822}")
        #expect(badFormat?.key == "time.format")
        #expect(badFormat?.description.contains("unknown time format 'rfc822' (expected one of: auto, iso8601, date, epoch-seconds, epoch-milliseconds)") == true)

        #expect(mappingError("time: {field: t}")?.key == "input")
        #expect(mappingError("input: {kind: xml}\ntime: t")?.key == "input.kind")
        #expect(mappingError("input: {kind: jsonl, delimiter: tab}\ntime: t")?.key == "input.delimiter")
        #expect(mappingError("input: {kind: csv, delimiter: ab}\ntime: t")?.key == "input.delimiter")
        #expect(mappingError("input: {kind: csv, header: false}\ntime: {field: date}")?.description.contains("column numbers from 1") == true)
        #expect(mappingError("input: {kind: csv}\ntime: t\nprotocol: {constant: tcpx}")?.key == "protocol.constant")
        #expect(mappingError("input: {kind: csv}\ntime: t\nweight: {constant: -3}")?.key == "weight.constant")
        #expect(mappingError("input: {kind: csv}\ntime: t\nport: {field: a, constant: 22}")?.description.contains("not both") == true)
        #expect(mappingError("input: {kind: csv}\ntime: t\nport: {}")?.description.contains("either field") == true)
        #expect(mappingError("input: {kind: csv}\ntime: t\ncountries: {Atlantis: ATL}")?.key == "countries.Atlantis")
        #expect(mappingError("input: {kind: csv}\ntime: {constant: yesterday}")?.key == "time.constant")
        #expect(mappingError("")?.description.contains("empty") == true)
        #expect(mappingError("input: [")?.description.contains("YAML syntax") == true)
        let deep = mappingError(String(repeating: "[", count: 5000))
        #expect(deep?.description.contains("nested deeper than") == true)
    }

    @Test func aCSVHeaderWithoutAMappedColumnMakesTheFileUnusable() throws {
        let dir = try TemporaryDirectory()
        let mapping = try FeedMapping.parse(yaml: "input: {kind: csv}\ntime: {field: date}\nweight: {field: domainF}", name: "hk.yaml")
        let path = try dir.write("hk.csv", "date,domainA\n2014-10-07,5\n")
        let scanner = try FeedImportFormat.mapping(mapping).scanner(path: path, defaultTimeNs: 0)
        #expect(throws: FeedError.mappingMismatch(path: path, mapping: "mapping:hk.yaml",
                                                  reason: "weight names the column 'domainF', which the header (date, domainA) does not have")) {
            _ = try scanner.scanAll()
        }
    }

    @Test func theExampleMappingsLoad() throws {
        let directory = Self.repositoryRoot.appendingPathComponent("config/feed-mappings")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(names.count >= 6)
        for name in names {
            let mapping = try FeedMapping.load(path: directory.appendingPathComponent(name).path)
            #expect(mapping.label == "mapping:\(name)")
        }
        let hk = try FeedMapping.load(path: directory.appendingPathComponent("hk-domainC.yaml").path)
        #expect(hk.weight == .field("domainC"))
        #expect(hk.delimiter == 0x09)
    }

    @Test func countryNamesAndServiceNames() {
        #expect(CountryNames.code(forName: "Hong Kong") == CountryCode("HK"))
        #expect(CountryNames.code(forName: "HONG-KONG") == CountryCode("HK"))
        #expect(CountryNames.code(forName: "Korea, Republic of") == CountryCode("KR"))
        #expect(CountryNames.code(forName: "South Korea") == CountryCode("KR"))
        #expect(CountryNames.code(forName: "United States") == CountryCode("US"))
        #expect(CountryNames.code(forName: "Russian Federation") == CountryCode("RU"))
        #expect(CountryNames.code(forName: "Russia") == CountryCode("RU"))
        #expect(CountryNames.code(forName: "Côte d’Ivoire") == CountryCode("CI"))
        #expect(CountryNames.code(forName: "JPN") == CountryCode("JP"))
        #expect(CountryNames.code(forName: "Atlantis") == nil)
        #expect(CountryNames.count > 500)
        #expect(ServiceNames.port(of: "SSH") == 22)
        #expect(ServiceNames.port(of: "dropbox") == 17500)
        #expect(ServiceNames.port(of: "hasp") == 1947)
        #expect(ServiceNames.port(of: "ssh", extra: ["ssh": 2222]) == 2222)
        #expect(ServiceNames.port(of: "gibberish") == nil)
    }

    @Test func aSensorExportBucketBecomesRowsThatCountItsPacketsOnce() throws {
        let writer = SensorExportWriter(sensor: "osaka", bucketSeconds: 60)
        let start = Self.ns("2014-10-07T00:00:00Z")
        let bucket = SensorExportBucket(startNs: start, packets: 100,
                                        ports: [SensorExportPort(ipProtocol: 6, port: 23, packets: 70, sources: 4),
                                                SensorExportPort(ipProtocol: 17, port: 53, packets: 20, sources: 1)],
                                        countries: [SensorExportCountry(country: CountryCode("CN")!, packets: 100)])
        let source = SensorExportSource(timeNs: start + 1_000_000_000, address: IPAddress("192.0.2.9")!, ipProtocol: 6, port: 23,
                                        packets: 3, country: CountryCode("HK")!)
        var parser = FeedEventRecords(.sensor)
        #expect(parser.parse(line: writer.headerLine()[...], defaultTimeNs: 0).value == [])
        let rows = try #require(parser.parse(line: writer.line(bucket)[...], defaultTimeNs: 0).value)
        #expect(rows == [FeedRecord(timeNs: start, weight: 10),
                         FeedRecord(timeNs: start, ipProtocol: 6, port: 23, weight: 70),
                         FeedRecord(timeNs: start, ipProtocol: 17, port: 53, weight: 20)])
        #expect(parser.parse(line: writer.line(source)[...], defaultTimeNs: 0).value
            == [FeedRecord(timeNs: start + 1_000_000_000, source: IPAddress("192.0.2.9"), ipProtocol: 6, port: 23, country: CountryCode("HK")!, weight: 0)])
        let empty = SensorExportBucket(startNs: start + 60_000_000_000, packets: 0)
        #expect(parser.parse(line: writer.line(empty)[...], defaultTimeNs: 0).value == [FeedRecord(timeNs: start + 60_000_000_000, weight: 0)])
    }

    @Test func theScannerNumbersRowsByLineAndHashesEveryByte() throws {
        let dir = try TemporaryDirectory()
        // A BOM, CRLF line ends, a bad line, a glued pair of NORSE objects, no newline at the end.
        let text = "\u{FEFF}{\"md5\": \"192.0.2.1\", \"dport\": \"22\", \"countrycode\": \"CN\"}\r\n"
            + "{\"md5\": \"not-an-address\", \"dport\": \"22\"}\r\n"
            + "{'md5': '192.0.2.2', 'dport': '23'}{'md5': '192.0.2.3', 'dport': '445'}\n"
            + "\n"
            + "{\"md5\": \"192.0.2.4\", \"dport\": 99999}"
        let path = try dir.write("norse.txt", text)
        let scanner = try FeedImportFormat.builtIn(nil).scanner(path: path, defaultTimeNs: 7, batchSize: 2)
        var batches: [[FeedRecord]] = []
        while let batch = try scanner.nextBatch() { batches.append(batch) }
        #expect(batches.map(\.count) == [2, 1])
        let rows = batches.flatMap { $0 }
        #expect(rows.map(\.line) == [1000, 3000, 3001])
        #expect(rows.map(\.port) == [22, 23, 445])
        #expect(rows.allSatisfy { $0.timeNs == 7 })
        let summary = scanner.summary
        #expect(scanner.label == "norse")
        #expect(summary.lines == 5)
        #expect(summary.records == 3)
        #expect(summary.ignoredLines == 1)
        #expect(summary.rejected == ["bad-address": 1, "bad-port": 1])
        #expect(summary.firstRejections.map(\.line) == [2, 5])
        #expect(summary.bytes == UInt64(text.utf8.count))
        var expected: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { expected = (expected ^ UInt64(byte)) &* 0x100_0000_01b3 }
        #expect(summary.hash == expected)
        #expect(summary.days == [0])
        // FNV-1a's published test vector: "a" → af63dc4c8601ec8c.
        let a = Array("a".utf8).withUnsafeBytes { FeedFileScanner.fnv1a($0) }
        #expect(a == 0xaf63_dc4c_8601_ec8c)
        #expect(FeedFileSummary.day(ofNs: -1) == -1)
        #expect(FeedFileSummary.day(ofNs: 86_400_000_000_000) == 1)
    }

    @Test func anUnreadableFileIsAClearError() throws {
        let dir = try TemporaryDirectory()
        #expect(throws: FeedError.cannotOpen(path: dir.path("missing.csv"), reason: "No such file or directory")) {
            _ = try FeedImportFormat.builtIn(.csv).scanner(path: dir.path("missing.csv"), defaultTimeNs: 0)
        }
        let binary = try dir.write("x.pcap", bytes: [0xd4, 0xc3, 0xb2, 0xa1, 0, 0, 0, 0, 0x0a])
        #expect(throws: FeedError.self) {
            _ = try FeedImportFormat.builtIn(nil).scanner(path: binary, defaultTimeNs: 0)
        }
    }
}
