import Foundation
import Testing
@testable import Correlation

@Suite struct AlignmentTests {
    static let day: Int64 = 86_400_000_000_000

    @Test func unionWithZerosFilled() throws {
        let d = Self.day, t0: Int64 = 1_412_640_000 * 1_000_000_000
        let sensor: [Int64: Double] = [t0: 5, t0 + 2 * d: 7]
        let feed: [Int64: Double] = [t0 + d: 3, t0 + 4 * d: 1]
        let pair = try Alignment.align(sensor: sensor, feed: feed, bucketWidthNs: d)
        #expect(pair.starts == [t0, t0 + d, t0 + 2 * d, t0 + 3 * d, t0 + 4 * d])
        #expect(pair.sensor == [5, 0, 7, 0, 0])
        #expect(pair.feed == [0, 3, 0, 0, 1])
    }

    @Test func explicitRangeDropsOutsideKeys() throws {
        let d = Self.day
        let sensor: [Int64: Double] = [-d: 9, 0: 1, 3 * d: 4, 10 * d: 8]
        let feed: [Int64: Double] = [d: 2]
        let pair = try Alignment.align(sensor: sensor, feed: feed, bucketWidthNs: d, first: 0, count: 4)
        #expect(pair.starts == [0, d, 2 * d, 3 * d])
        #expect(pair.sensor == [1, 0, 0, 4])
        #expect(pair.feed == [0, 2, 0, 0])
    }

    @Test func integerCounts() throws {
        let pair = try Alignment.align(sensor: [0: UInt64(3), 20: 4], feed: [10: 1], bucketWidthNs: 10)
        #expect(pair.sensor == [3, 0, 4] && pair.feed == [0, 1, 0])
    }

    @Test func errors() {
        #expect(throws: AlignmentError.offGrid(start: 15)) {
            try Alignment.align(sensor: [0: 1.0, 15: 2], feed: [:], bucketWidthNs: 10)
        }
        #expect(throws: AlignmentError.offGrid(start: 15)) {
            try Alignment.align(sensor: [0: 1.0, 15: 2], feed: [20: 1], bucketWidthNs: 10)
        }
        #expect(throws: AlignmentError.nonPositiveWidth) {
            try Alignment.align(sensor: [0: 1.0], feed: [:], bucketWidthNs: 0)
        }
        #expect(throws: AlignmentError.tooManyBuckets(Int64.max / 1000 + 1)) {
            try Alignment.align(sensor: [0: 1.0, Int64.max / 1000 * 1000: 1], feed: [:], bucketWidthNs: 1000)
        }
        #expect(throws: AlignmentError.negativeCount) {
            try Alignment.align(sensor: [:], feed: [:], bucketWidthNs: 1, first: 0, count: -1)
        }
        #expect((try? Alignment.align(sensor: [:], feed: [:], bucketWidthNs: 1))?.isEmpty == true)
    }

    @Test func codableRoundTripAndLengthCheck() throws {
        let pair = AlignedPair(starts: [0, 10], sensor: [1, 2], feed: [3, 4])
        let data = try JSONEncoder().encode(pair)
        #expect(try JSONDecoder().decode(AlignedPair.self, from: data) == pair)
        let bad = Data(#"{"starts":[0,10],"sensor":[1],"feed":[3,4]}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(AlignedPair.self, from: bad) }
    }
}
