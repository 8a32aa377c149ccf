import Decoding
import Foundation
import GeoIP
import Testing
@testable import Feed

@Suite struct FeedReaderTests {
    func norse(_ ip: String, _ port: Int) -> String { #"{"md5":"\#(ip)","dport":"\#(port)","countrycode":"CN","countrycode2":"HK"}"# }

    @Test func hugeLineBetweenGoodOnesIsSkippedNotBuffered() throws {
        let dir = try TemporaryDirectory()
        let huge = #"{"md5":"9.9.9.9","pad":""# + String(repeating: "x", count: 1 << 20) + #""}"#
        let path = try dir.write("feed.jsonl", [norse("1.1.1.1", 22), huge, norse("2.2.2.2", 23)].joined(separator: "\n") + "\n")
        let reader = try FeedReader(path: path, format: .norse)
        let events = reader.readAll()
        #expect(events.map(\.source) == [IPAddress("1.1.1.1"), IPAddress("2.2.2.2")])
        #expect(reader.status.skipped == ["line-too-long": 1])
        #expect(reader.status.lastErrors == [FeedLineFailure(line: 2, reason: "line-too-long", message: "longer than 65536 bytes")])
        #expect(reader.splitter.buffer.capacity <= 2 * 65_536)
        #expect(reader.status.bytesOffset == UInt64(try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int))
    }

    @Test func hugeLastLineWithoutNewline() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("feed.jsonl", norse("1.1.1.1", 22) + "\n" + String(repeating: "y", count: 200_000))
        let (events, status) = try FeedReader.readAll(path: path, format: .norse)
        #expect(events.count == 1)
        #expect(status.skipped == ["line-too-long": 1] && status.lines == 2)
    }

    @Test func badLinesAreCountedWithLineNumbersAndNeverStopTheImport() throws {
        let dir = try TemporaryDirectory()
        let lines = [
            norse("1.1.1.1", 22),
            #"{"md5":"1.1.1.1","dport":"abc"}"#,
            "",
            #"{"md5":"1.1.1.1","dport":"22""#,
            norse("2.2.2.2", 23),
            #"{"dport":"22"}"#,
            norse("3.3.3.3", 445),
        ]
        let path = try dir.write("feed.jsonl", lines.joined(separator: "\n") + "\n")
        let reader = try FeedReader(path: path, format: .norse, options: FeedReadOptions(lastErrorCount: 2))
        let events = reader.readAll()
        #expect(events.map(\.destinationPort) == [22, 23, 445])
        let status = reader.status
        #expect(status.lines == 7 && status.parsedLines == 3 && status.ignoredLines == 1 && status.events == 3)
        #expect(status.skipped == ["bad-port": 1, "invalid-json": 1, "missing-field": 1])
        // Only the last two failures are kept, with their line numbers.
        #expect(status.lastErrors.map(\.line) == [4, 6])
        #expect(status.lastErrors.map(\.reason) == ["invalid-json", "missing-field"])
    }

    @Test func invalidUTF8LineIsCounted() throws {
        let dir = try TemporaryDirectory()
        var bytes = Array((norse("1.1.1.1", 22) + "\n").utf8)
        bytes += [0x7B, 0xFF, 0xFE, 0x7D, 0x0A]
        bytes += Array((norse("2.2.2.2", 22) + "\n").utf8)
        let path = try dir.write("feed.jsonl", bytes: bytes)
        let (events, status) = try FeedReader.readAll(path: path, format: .norse)
        #expect(events.count == 2)
        #expect(status.skipped == ["invalid-utf8": 1])
    }

    @Test func emptyFileImportsNothing() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("empty", "")
        for format in [nil] + FeedFormat.allCases.map(Optional.some) {
            let (events, status) = try FeedReader.readAll(path: path, format: format)
            #expect(events.isEmpty)
            #expect(status.lines == 0 && status.skippedTotal == 0)
        }
    }

    @Test func nonFeedFilesFailAtStartUp() throws {
        let dir = try TemporaryDirectory()
        let binary = try dir.write("capture.pcap", bytes: [0xD4, 0xC3, 0xB2, 0xA1, 0x02, 0x00, 0x04, 0x00, 0, 0, 0, 0, 0x0A, 0x00])
        let prose = try dir.write("README", "This is a readme.\nIt has no feed in it.\n")
        let json = try dir.write("other.json", #"{"name":"not a feed","items":[1,2]}"# + "\n")
        for path in [binary, prose, json] {
            #expect(throws: FeedError.self) { try FeedReader(path: path) }
        }
        #expect(throws: FeedError.self) { try FeedReader(path: binary, format: .norse) }
        #expect(throws: FeedError.self) { try FeedReader(path: prose, format: .csv) }
        #expect(throws: FeedError.self) { try FeedReader(path: json, format: .norse) }
        #expect(throws: FeedError.self) { try FeedReader(path: dir.path("missing")) }
        #expect(throws: FeedError.unknownFormat("xml")) { try FeedFormat.named("xml") }
        #expect(try FeedFormat.named("auto") == nil)
        #expect(try FeedFormat.named("NORSE") == .norse)
        do {
            _ = try FeedReader(path: prose)
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("is not a feed"))
        }
    }

    /// A text feed with a binary line among its first lines is still a feed
    /// (found by DaemonTests: hostile lines appended to a live feed made the
    /// daemon refuse to start again); the bad line is skipped and counted.
    @Test func binaryLineAfterTheFirstIsOnlyABadLine() throws {
        let dir = try TemporaryDirectory()
        let csv: [UInt8] = Array("time,src_ip,dst_port\n2024-01-01T00:00:00Z,192.0.2.1,53\n".utf8)
            + [0, 0xFF, 0x2C, 0, 0x0A] + Array("2024-01-01T00:00:01Z,192.0.2.2,23\n".utf8)
        let csvPath = try dir.write("feed.csv", bytes: csv)
        let norse: [UInt8] = Array(self.norse("192.0.2.1", 53).utf8) + [0x0A, 0, 0, 0x0A]
        let norsePath = try dir.write("feed.json", bytes: norse)
        for (path, format) in [(csvPath, FeedFormat.csv), (norsePath, FeedFormat.norse)] {
            for chosen in [nil, format] {
                let (events, status) = try FeedReader.readAll(path: path, format: chosen)
                #expect(events.count == (format == .csv ? 2 : 1), "\(path) \(String(describing: chosen))")
                #expect(status.skippedTotal == 1, "\(status.skipped)")
            }
        }
    }

    @Test func detectionOfEachFormat() throws {
        func detect(_ lines: [String]) throws -> FeedFormat {
            try FeedFormat.detect(firstLines: lines.map { $0[...] })
        }
        #expect(try detect([norse("1.2.3.4", 22)]) == .norse)
        #expect(try detect(["{'md5': '1.2.3.4', 'dport': '22', 'countrycode': 'CN'}"]) == .norse)
        #expect(try detect(["\u{FEFF}# exported", "src_ip,dst_port", "1.2.3.4,23"]) == .csv)
        #expect(try detect([#"{"format":"darknet-sensor-export","version":1,"bucket_seconds":60,"sensor":"x"}"#]) == .sensor)
        #expect(try detect([#"{"eventid":"cowrie.client.version","src_ip":"1.2.3.4","timestamp":"2018-05-08T00:06:28Z"}"#]) == .cowrie)
        #expect(throws: FeedError.self) { try detect(["", "# only comments"]) }
    }
}
