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

    /// Forces the generic (JSONEncoder) path for comparison.
    struct AnyRow: Encodable {
        let row: any Encodable
        func encode(to encoder: any Encoder) throws { try row.encode(to: encoder) }
    }
}
