import Decoding
import Foundation
import GeoIP
import Testing
@testable import Feed

@Suite struct NorseParserTests {
    let jsonLine = #"{"md5":"210.78.137.6","dport":"22","svc":"ssh","countrycode":"CN","country":"CN","city":"Changsha","org":"CHINANET","latitude":"34.63","longitude":"10.08","countrycode2":"US","country2":"US","city2":"Miami","latitude2":35.86,"longitude2":104.1,"type":"ipviking.honey","zerg":""}"#

    func parse(_ line: String) -> Result<FeedEvent?, FeedLineError> {
        NorseParser().parseRecord(line: line[...], defaultTimeNs: arrivalNs)
    }

    @Test func jsonLineWithoutTimeUsesArrivalTime() throws {
        let event = try #require(try parse(jsonLine).get())
        #expect(event.source == IPAddress("210.78.137.6"))
        #expect(event.destinationPort == 22)
        #expect(event.ipProtocol == nil)
        #expect(event.service == "ssh")
        #expect(event.sourceCountry == CountryCode("CN"))
        #expect(event.targetCountry == CountryCode("US"))
        #expect(event.timestampNs == arrivalNs)
        #expect(event.count == 1)
        #expect(event.contributes == .all)
    }

    @Test func pythonDictFormWithQuotesNoneAndUnicodePrefix() throws {
        let line = #"{u'md5': u'1.2.3.4', 'dport': 445, 'svc': None, 'org': "MTN COTE D'IVOIRE S.A", 'city': 'it\'s', 'countrycode': 'ci', 'countrycode2': 'US', 'zerg': True, 'latitude2': 35.86}"#
        let event = try #require(try parse(line).get())
        #expect(event.source == IPAddress("1.2.3.4"))
        #expect(event.destinationPort == 445)
        #expect(event.service == nil)
        #expect(event.sourceCountry == CountryCode("CI"))
        #expect(event.targetCountry == CountryCode("US"))
    }

    @Test func timesFromCollectorFields() throws {
        let cases: [(String, Int64)] = [
            (#""timestamp":"2014-10-07T12:00:00Z""#, 1_412_683_200_000_000_000),
            (#""timestamp":"2014-10-07T12:00:00.25Z""#, 1_412_683_200_250_000_000),
            (#""time":"2014-10-07T21:00:00+09:00""#, 1_412_683_200_000_000_000),
            (#""datetime":"2014-10-07 12:00:00""#, 1_412_683_200_000_000_000),
            (#""time":1412683200"#, 1_412_683_200_000_000_000),
            (#""time":1412683200.5"#, 1_412_683_200_500_000_000),
            (#""timestamp":"1412683200.125""#, 1_412_683_200_125_000_000),
            (#""timestamp":1412683200125"#, 1_412_683_200_125_000_000),
        ]
        for (field, expected) in cases {
            let event = try #require(try parse(#"{"md5":"1.2.3.4","dport":"23","#+field+"}").get())
            #expect(event.timestampNs == expected, "\(field)")
        }
    }

    @Test func protoMakesThePortProtocolSpecific() throws {
        #expect(try parse(#"{"md5":"1.2.3.4","dport":53,"proto":"udp"}"#).get()?.ipProtocol == IPProtocolNumber.udp)
        #expect(try parse(#"{"md5":"1.2.3.4","dport":53,"proto":6}"#).get()?.ipProtocol == IPProtocolNumber.tcp)
        #expect(parse(#"{"md5":"1.2.3.4","dport":53,"proto":"gre-ish"}"#).error?.reason == .badProtocol)
    }

    @Test func brokenLinesNameTheProblem() {
        let cases: [(String, FeedLineError.Reason)] = [
            (#"{"md5":"1.2.3.4","dport":"22","svc":"ss"#, .invalidJSON),       // truncated
            (#"{"md5":"1.2.3.4","dport":"abc"}"#, .badPort),
            (#"{"md5":"1.2.3.4","dport":[22]}"#, .wrongType),
            (#"{"md5":"1.2.3.4","dport":70000}"#, .badPort),
            (#"{"md5":"1.2.3.4","dport":true}"#, .wrongType),
            (#"{"dport":"22","countrycode":"CN"}"#, .missingField),
            (#"{"md5":"210.78.137","dport":"22"}"#, .badAddress),
            (#"{"md5":42,"dport":"22"}"#, .wrongType),
            (#"{"md5":"1.2.3.4","timestamp":"2014-13-40T00:00:00Z"}"#, .badTime),
            (#"{"md5":"1.2.3.4","timestamp":"yesterday"}"#, .badTime),
            (#"{"md5":"1.2.3.4","svc":["ssh"]}"#, .wrongType),
            ("[1,2,3]", .invalidJSON),
            ("{'md5': '1.2.3.4', 'x': nan}", .invalidJSON),
            ("not json at all", .invalidJSON),
        ]
        for (line, reason) in cases {
            let error = parse(line).error
            #expect(error?.reason == reason, "\(line) -> \(String(describing: error))")
            #expect(error?.message.isEmpty == false)
        }
    }

    @Test func blankAndCommentLinesAreIgnored() throws {
        #expect(try parse("").get() == nil)
        #expect(try parse("   ").get() == nil)
        #expect(try parse("# collector started").get() == nil)
    }

    @Test func concatenatedObjectsOnOneLineAreSeparateEvents() throws {
        var parser = NorseParser()
        let events = try parser.parse(line: #"{'md5': '1.1.1.1', 'dport': '22'}{'md5': '2.2.2.2', 'dport': '23'}"#[...], defaultTimeNs: arrivalNs).get()
        #expect(events.map(\.source) == [IPAddress("1.1.1.1"), IPAddress("2.2.2.2")])
        #expect(events.map(\.destinationPort) == [22, 23])
        let bad = parser.parse(line: #"{'md5': '1.1.1.1'}{'md5': 'x'}"#[...], defaultTimeNs: arrivalNs)
        #expect(bad.error?.reason == .badAddress)
        #expect(bad.error?.message.contains("object 2 of 2") == true)
    }

    @Test func serviceNamesAreBounded() throws {
        let long = String(repeating: "x", count: 500)
        let event = try #require(try parse(#"{"md5":"1.2.3.4","svc":"\#(long)"}"#).get())
        #expect(event.service?.utf8.count == FeedEvent.maxServiceLength)
    }

    @Test func corpusSampleParsesAll315Records() throws {
        guard let path = Corpus.file("norse_ipviking_eventstream_voilet-push_api.pyrepr.txt") else { return }
        let (events, status) = try FeedReader.readAll(path: path, clock: fixedClock)
        #expect(status.format == "norse")
        #expect(events.count == 315)
        #expect(status.events == 315)
        #expect(status.skippedTotal == 0, "\(status.lastErrors)")
        #expect(events.allSatisfy { $0.timestampNs == arrivalNs && $0.count == 1 && $0.ipProtocol == nil })
        #expect(events.filter { $0.source == IPAddress("210.78.137.6") }.count == 308)
        #expect(events.filter { $0.source == IPAddress("198.20.69.98") }.count == 7)
        var targets: [String: Int] = [:]
        for event in events { targets[event.targetCountry.description, default: 0] += 1 }
        #expect(targets == ["US": 259, "FR": 14, "TR": 14, "AU": 7, "AT": 7, "ES": 7, "TH": 7])
        var countries: [String: Int] = [:]
        for event in events { countries[event.sourceCountry.description, default: 0] += 1 }
        // 'O1' (NORSE's "other") is not a country code: unknown.
        #expect(countries == ["CN": 161, "US": 77, "IL": 21, "CI": 7, "HK": 7, "BG": 7, "VN": 7, "ID": 7, "??": 7, "RU": 7, "FR": 7])
        var ports: [UInt16: Int] = [:]
        for event in events { if let port = event.destinationPort { ports[port, default: 0] += 1 } }
        #expect(ports[22] == 112 && ports[445] == 42 && ports[53] == 35 && ports[23] == 35 && ports[9943] == 7)
        #expect(events.contains { $0.service == "ssh" && $0.destinationPort == 22 })
    }
}
