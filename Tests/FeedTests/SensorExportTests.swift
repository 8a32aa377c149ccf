import Aggregation
import Decoding
import Foundation
import GeoIP
import Testing
@testable import Feed
import Sketches

@Suite struct SensorExportTests {
    let start: Int64 = 1_412_683_200 * 1_000_000_000

    @Test func writerOutputIsTheDocumentedFormat() {
        let writer = SensorExportWriter(sensor: "tokyo-1", bucketSeconds: 60)
        #expect(writer.headerLine() == #"{"bucket_seconds":60,"format":"darknet-sensor-export","sensor":"tokyo-1","version":1}"#)
        let bucket = SensorExportBucket(startNs: start, packets: 10,
                                        ports: [SensorExportPort(ipProtocol: IPProtocolNumber.udp, port: 53, packets: 4, sources: 2)],
                                        countries: [SensorExportCountry(country: CountryCode("CN")!, packets: 6)])
        #expect(writer.line(bucket) == #"{"countries":[{"country":"CN","packets":6}],"packets":10,"ports":[{"packets":4,"port":53,"proto":"udp","sources":2}],"start":"2014-10-07T12:00:00Z","type":"bucket"}"#)
        let source = SensorExportSource(timeNs: start + 1_500_000_000, address: IPAddress("192.0.2.9")!, ipProtocol: IPProtocolNumber.tcp,
                                        port: 23, packets: 3, country: CountryCode("HK")!)
        #expect(writer.line(source) == #"{"address":"192.0.2.9","country":"HK","packets":3,"port":23,"proto":"tcp","time":"2014-10-07T12:00:01.500000000Z","type":"source"}"#)
    }

    @Test func roundTripThroughAFile() throws {
        let writer = SensorExportWriter(sensor: "a", bucketSeconds: 60)
        let buckets = [
            SensorExportBucket(startNs: start, packets: 100,
                               ports: [SensorExportPort(ipProtocol: IPProtocolNumber.tcp, port: 23, packets: 70, sources: 5),
                                       SensorExportPort(ipProtocol: IPProtocolNumber.udp, port: 53, packets: 30, sources: 1)],
                               countries: [SensorExportCountry(country: CountryCode("CN")!, packets: 60),
                                           SensorExportCountry(country: .unknown, packets: 40)]),
            SensorExportBucket(startNs: start + 60_000_000_000, packets: 0),
        ]
        let sources = [
            SensorExportSource(timeNs: start + 5, address: IPAddress("2001:db8::1")!, ipProtocol: IPProtocolNumber.icmpv6, port: nil, packets: 2),
            SensorExportSource(timeNs: start + 7, address: IPAddress("192.0.2.1")!, ipProtocol: 47, port: 0, packets: 9, country: CountryCode("JP")!),
        ]
        let dir = try TemporaryDirectory()
        let path = try dir.write("export.jsonl", writer.document(buckets: buckets, sources: sources))
        let (events, status) = try FeedReader.readAll(path: path)
        #expect(status.format == "sensor")
        #expect(status.skippedTotal == 0, "\(status.lastErrors)")
        #expect(events.count == 1 + 2 + 2 + 1 + 2)
        var series = FeedSeries(timeBuckets: TimeBuckets(lengthSeconds: 60), hasher: SeededHash(seed0: 1, seed1: 2))
        series.add(events)
        let first = try #require(series.bucket(containing: start))
        #expect(first.total == 100)
        #expect(first.ports == [23: 70, 53: 30])
        #expect(first.sourceCountries == [CountryCode("CN")!: 60, .unknown: 40])
        #expect(first.distinctSources == 2)
        #expect(series.bucket(containing: start + 60_000_000_000)?.total == 0)
        let sourceEvents = events.filter { $0.contributes == .sources }
        #expect(sourceEvents.map(\.source) == sources.map(\.address))
        #expect(sourceEvents.map(\.ipProtocol) == [IPProtocolNumber.icmpv6, 47])
        #expect(sourceEvents.map(\.destinationPort) == [nil, 0])
        #expect(sourceEvents.map(\.count) == [2, 9])
        #expect(sourceEvents.map(\.sourceCountry) == [.unknown, CountryCode("JP")!])
        #expect(sourceEvents.map(\.timestampNs) == [start + 5, start + 7])
    }

    @Test func headerIsRequiredAndVersioned() throws {
        let bucket = #"{"type":"bucket","start":"2014-10-07T12:00:00Z","packets":1,"ports":[],"countries":[]}"#
        #expect(parseAll(SensorExportParser(), [bucket])[0].error?.reason == .missingHeader)
        let v2 = #"{"format":"darknet-sensor-export","version":2,"bucket_seconds":60,"sensor":"x"}"#
        #expect(parseAll(SensorExportParser(), [v2])[0].error?.reason == .unsupported)
        let dir = try TemporaryDirectory()
        let path = try dir.write("v2.jsonl", v2 + "\n" + bucket + "\n")
        #expect(throws: FeedError.self) { try FeedReader(path: path, format: .sensor) }
    }

    @Test func badDataLines() {
        let header = #"{"format":"darknet-sensor-export","version":1,"bucket_seconds":60,"sensor":"x"}"#
        let cases: [(String, FeedLineError.Reason)] = [
            (#"{"type":"bucket","start":"yesterday","packets":1}"#, .badTime),
            (#"{"type":"bucket","start":"2014-10-07T12:00:00Z","packets":"many"}"#, .badCount),
            (#"{"type":"bucket","start":"2014-10-07T12:00:00Z","packets":1,"ports":{"a":1}}"#, .wrongType),
            (#"{"type":"bucket","start":"2014-10-07T12:00:00Z","packets":1,"ports":[{"proto":"udp","port":"abc","packets":1}]}"#, .badPort),
            (#"{"type":"source","time":"2014-10-07T12:00:00Z","address":"1.2.3","proto":"tcp","port":23,"packets":1}"#, .badAddress),
            (#"{"type":"source","time":"2014-10-07T12:00:00Z","proto":"tcp","port":23,"packets":1}"#, .missingField),
            (#"{"type":"flow"}"#, .unsupported),
            (#"{"type":"bucket","start":"2014-10-07T12:00:00Z""#, .invalidJSON),
        ]
        for (line, reason) in cases {
            #expect(parseAll(SensorExportParser(), [header, line])[1].error?.reason == reason, "\(line)")
        }
    }
}
