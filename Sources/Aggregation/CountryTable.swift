import Decoding
import GeoIP
import Sketches

/// Per-country figures of the sources' countries: a flat array indexed by
/// the two letters (677 rows: A–Z × A–Z plus "unknown"), no hashing.
public struct CountryTable: Sendable {
    public struct Row: Sendable, Equatable {
        public var packets: UInt64 = 0
        public var bytes: UInt64 = 0
        /// Distinct sources (from `DistinctPairs`, same exactness).
        public var sources: UInt32 = 0
        public var classes = ClassCounts()
    }

    static let rowCount = 26 * 26 + 1
    @usableFromInline var rows: ContiguousArray<Row>
    @usableFromInline var bucketPackets: ContiguousArray<UInt64>

    public init() {
        rows = ContiguousArray(repeating: Row(), count: CountryTable.rowCount)
        bucketPackets = ContiguousArray(repeating: 0, count: CountryTable.rowCount)
    }

    /// Row of a code: 0 for unknown, else 1 + (first-'A')×26 + (second-'A').
    @inline(__always)
    public static func rowIndex(_ code: CountryCode) -> Int {
        guard code.isKnown else { return 0 }
        let first = Int(code.rawValue >> 8) - 65
        let second = Int(code.rawValue & 0xFF) - 65
        return 1 + first * 26 + second
    }

    public static func code(ofRow row: Int) -> CountryCode {
        guard row > 0 else { return .unknown }
        return CountryCode(first: UInt8(65 + (row - 1) / 26), second: UInt8(65 + (row - 1) % 26)) ?? .unknown
    }

    @inline(__always)
    mutating func count(row: Int, bytes: UInt32, trafficClass: TrafficClass) {
        rows[row].packets &+= 1
        rows[row].bytes &+= UInt64(bytes)
        rows[row].classes.add(trafficClass)
        bucketPackets[row] &+= 1
    }

    /// Packets per country in the open bucket (countries with packets), then resets them.
    mutating func takeBucket() -> [(code: CountryCode, packets: UInt64)] {
        var result: [(code: CountryCode, packets: UInt64)] = []
        for row in bucketPackets.indices where bucketPackets[row] > 0 {
            result.append((CountryTable.code(ofRow: row), bucketPackets[row]))
            bucketPackets[row] = 0
        }
        return result
    }

    @inline(__always)
    mutating func addSource(row: Int) { rows[row].sources &+= 1 }

    public subscript(code: CountryCode) -> Row { rows[CountryTable.rowIndex(code)] }

    /// Countries with packets, by descending packets (ties by code).
    public func nonEmptyRows() -> [(code: CountryCode, row: Row)] {
        var result: [(code: CountryCode, row: Row)] = []
        for i in rows.indices where rows[i].packets > 0 { result.append((CountryTable.code(ofRow: i), rows[i])) }
        result.sort { $0.row.packets != $1.row.packets ? $0.row.packets > $1.row.packets : $0.code < $1.code }
        return result
    }
}
