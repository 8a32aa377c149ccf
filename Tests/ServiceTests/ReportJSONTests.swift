@testable import Aggregation
import Sketches
import Decoding
import Foundation
import Synth
import Testing
@testable import Reporting

@Suite struct ReportJSONTests {
    /// Port rows are written without JSONEncoder for speed; the text must be
    /// exactly what the encoder writes, for every protocol name and extreme values.
    @Test func portRowsMatchTheEncoder() {
        var rng = SplitMix64(seed: 5)
        let protocols: [UInt8] = [IPProtocolNumber.tcp, IPProtocolNumber.udp, IPProtocolNumber.icmp, IPProtocolNumber.icmpv6, 47, 0, 255]
        var rows: [PortRow] = []
        for i in 0..<2_000 {
            var row = PortTable.Row()
            let big = i % 7 == 0
            row.packets = big ? UInt64.max : rng.next() % 1_000_000
            row.bytes = big ? UInt64.max - 1 : rng.next()
            row.sources = big ? UInt32.max : UInt32(truncatingIfNeeded: rng.next() % 100_000)
            row.destinations = UInt32(truncatingIfNeeded: rng.next())
            for c in TrafficClass.allCases { row.classes.add(c, big ? UInt64.max / 8 : rng.next() % 1_000) }
            let key = ProtocolPort(ipProtocol: protocols[i % protocols.count], port: i % 11 == 0 ? 65_535 : UInt16(truncatingIfNeeded: rng.next()))
            rows.append(PortRow(key: key, row: row))
        }
        for row in rows {
            #expect(row.json == StreamingJSON.encode(row))
        }
        // The array is one row per line, like the generic writer's.
        var fast = ""
        StreamingJSON.writeArray(rows, to: { fast += $0 })
        var generic = ""
        StreamingJSON.writeArray(rows.map { $0 as any Encodable }.map(AnyRow.init), to: { generic += $0 })
        #expect(fast == generic)
        var empty = ""
        StreamingJSON.writeArray([PortRow](), to: { empty += $0 })
        #expect(empty == "[]")
    }

    /// `estimates` says how each distinct count was made: by default the
    /// destinations of sources, ports and scan episodes are sketches with
    /// their stated error; with `--exact` all three are exact.
    @Test(arguments: [false, true])
    func estimatesNameEachDestinationCount(exact: Bool) throws {
        var config = AggregationConfig()
        config.exact = exact
        let estimates = EstimatesSection(Aggregator(config: config))
        let json = try #require(JSONSerialization.jsonObject(with: Data(StreamingJSON.encode(estimates).utf8)) as? [String: Any])
        #expect(json["mode"] as? String == (exact ? "exact" : "sketch"))
        let expected: [(String, Double)] = [("source_destinations", DestinationSketch.relativeStandardError),
                                            ("port_destinations", DestinationSketch.relativeStandardError),
                                            ("scan_destinations", ScanDetector.destinationRelativeStandardError)]
        for (key, error) in expected {
            let entry = try #require(json[key] as? [String: Any], "\(key)")
            #expect(entry["exact"] as? Bool == exact, "\(key)")
            // JSON text round-trips a double to within its last digit.
            let written = try #require(entry["relative_standard_error"] as? Double, "\(key)")
            #expect(abs(written - (exact ? 0 : error)) < 1e-12, "\(key): \(written)")
        }
    }

    /// Forces the generic (JSONEncoder) path for comparison.
    struct AnyRow: Encodable {
        let row: any Encodable
        func encode(to encoder: any Encoder) throws { try row.encode(to: encoder) }
    }
}
