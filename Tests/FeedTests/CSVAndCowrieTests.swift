import Decoding
import Foundation
import GeoIP
import Testing
@testable import Feed

@Suite struct CSVFeedParserTests {
    @Test func headerAliasesQuotingAndUnknownColumns() throws {
        let lines = [
            "TS,Src_IP,Note,DPort,Proto,CC,dst_country,Service,Events",
            #"2014-10-07T12:00:00Z,192.0.2.1,"hello, ""world""",23,tcp,cn,HK,telnet,5"#,
            ",198.51.100.7,,,,,,,",
        ]
        let results = parseAll(CSVFeedParser(), lines)
        #expect(try results[0].get().isEmpty)
        let first = try #require(try results[1].get().first)
        #expect(first.timestampNs == 1_412_683_200_000_000_000)
        #expect(first.source == IPAddress("192.0.2.1"))
        #expect(first.destinationPort == 23)
        #expect(first.ipProtocol == IPProtocolNumber.tcp)
        #expect(first.sourceCountry == CountryCode("CN"))
        #expect(first.targetCountry == CountryCode("HK"))
        #expect(first.service == "telnet")
        #expect(first.count == 5)
        let second = try #require(try results[2].get().first)
        #expect(second.timestampNs == arrivalNs)
        #expect(second.destinationPort == nil && second.ipProtocol == nil && second.count == 1)
    }

    @Test func splitFieldsFollowsRFC4180() throws {
        #expect(try CSVFeedParser.splitFields(#"a,"b,c","d""e",,"""#[...]).get() == ["a", "b,c", #"d"e"#, "", ""])
        #expect(CSVFeedParser.splitFields(#"a,"unterminated"#[...]).error?.reason == .badCSV)
        #expect(CSVFeedParser.splitFields(#"a,"x"y,b"#[...]).error?.reason == .badCSV)
    }

    @Test func badRowsNameTheProblem() {
        let header = "time,src,port,protocol,count"
        let cases: [(String, FeedLineError.Reason)] = [
            ("2014-10-07T12:00:00Z,192.0.2.1,abc,tcp,1", .badPort),
            ("2014-10-07T12:00:00Z,192.0.2.999,23,tcp,1", .badAddress),
            ("not-a-time,192.0.2.1,23,tcp,1", .badTime),
            ("2014-10-07T12:00:00Z,192.0.2.1,23,quic?,1", .badProtocol),
            ("2014-10-07T12:00:00Z,192.0.2.1,23,tcp,-4", .badCount),
            ("2014-10-07T12:00:00Z,192.0.2.1,23", .badCSV),
            ("2014-10-07T12:00:00Z,192.0.2.1,23,tcp,1,extra", .badCSV),
        ]
        for (line, reason) in cases {
            let results = parseAll(CSVFeedParser(), [header, line])
            #expect(results[1].error?.reason == reason, "\(line)")
        }
    }

    @Test func headerWithoutTimeOrSourceIsAnError() throws {
        #expect(CSVFeedParser.headerColumns("port,count"[...]) == nil)
        #expect(parseAll(CSVFeedParser(), ["port,count"])[0].error?.reason == .missingHeader)
        let dir = try TemporaryDirectory()
        let path = try dir.write("ports.csv", "port,count\n23,5\n")
        #expect(throws: FeedError.self) { try FeedReader(path: path) }
        #expect(throws: FeedError.self) { try FeedReader(path: path, format: .csv) }
    }

    @Test func fileWithBOMAndCRLFAndRepeatedHeader() throws {
        let dir = try TemporaryDirectory()
        let text = "\u{FEFF}time,src,port\r\n1412683200,192.0.2.1,23\r\n# comment\r\n\r\ntime,src,port\r\n1412683260,192.0.2.2,2323"
        let path = try dir.write("feed.csv", text)
        let (events, status) = try FeedReader.readAll(path: path, clock: fixedClock)
        #expect(status.format == "csv")
        #expect(events.map(\.destinationPort) == [23, 2323])
        #expect(events.map(\.source) == [IPAddress("192.0.2.1"), IPAddress("192.0.2.2")])
        #expect(status.lines == 6 && status.parsedLines == 2 && status.ignoredLines == 4 && status.skippedTotal == 0)
    }
}

@Suite struct CowrieParserTests {
    @Test func connectEventsOnly() throws {
        var parser = CowrieParser()
        let connect = #"{"eventid": "cowrie.session.connect", "src_ip": "115.238.245.8", "src_port": 51646, "timestamp": "2018-05-08T00:06:27.856164Z", "dst_ip": "172.17.0.3", "protocol": "ssh", "dst_port": 2222}"#
        let event = try #require(try parser.parse(line: connect[...], defaultTimeNs: 0).get().first)
        #expect(event.source == IPAddress("115.238.245.8"))
        #expect(event.destinationPort == 2222)
        #expect(event.ipProtocol == IPProtocolNumber.tcp)
        #expect(event.service == "ssh")
        #expect(event.timestampNs == 1_525_737_987_856_164_000)
        let closed = #"{"eventid": "cowrie.session.closed", "timestamp": "2018-05-08T00:06:29.138161Z", "src_ip": "115.238.245.8"}"#
        #expect(try parser.parse(line: closed[...], defaultTimeNs: 0).get().isEmpty)
        #expect(parser.parse(line: #"{"eventid": "cowrie.session.connect", "src_ip": "x", "timestamp": "2018-05-08T00:06:27Z"}"#[...], defaultTimeNs: 0).error?.reason == .badAddress)
        #expect(parser.parse(line: #"{"src_ip": "1.2.3.4"}"#[...], defaultTimeNs: 0).error?.reason == .missingField)
    }

    @Test func corpusSample() throws {
        guard let path = Corpus.file("cowrie_kareiva_cowrie.json.2018-05-08") else { return }
        let (events, status) = try FeedReader.readAll(path: path)
        #expect(status.format == "cowrie")
        #expect(events.count == 259)
        #expect(status.skippedTotal == 0, "\(status.lastErrors)")
        #expect(status.lines == 915)
        let day = Int64(1_525_737_600) * 1_000_000_000
        #expect(events.allSatisfy { $0.timestampNs >= day && $0.timestampNs < day + 86_400 * 1_000_000_000 && $0.source != nil })
    }
}
