import Foundation
import Testing
@testable import Feed

/// Inputs the libFuzzer harnesses (Fuzz/, docs/fuzzing.md) stopped on, decoded
/// exactly as the harness decodes them, with what the fixed code must give.
@Suite struct FuzzRegressionTests {
    /// The NORSE harness's input: the bytes as one line, invalid UTF-8 replaced.
    func norseEvents(_ bytes: [UInt8]) -> [FeedEvent] {
        var parser = NorseParser()
        let line = String(decoding: bytes, as: UTF8.self)
        guard case .success(let events) = parser.parse(line: line[...], defaultTimeNs: arrivalNs) else {
            Issue.record("line rejected")
            return []
        }
        return events
    }

    /// feed-norse, crash-587c4c0d (minimized): a `svc` longer than 64 bytes whose cut fell
    /// just after a space kept that trailing space, so the bounded name was not its own
    /// bounded form ("http " and "http" counted as two services).
    @Test func norseServiceCutAfterSpaceIsTrimmed() {
        let input: [UInt8] = [
            0x7b, 0x27, 0x6d, 0x64, 0x35, 0x27, 0x3a, 0x27, 0x32, 0x2e, 0x35, 0x2e, 0x32, 0x2e, 0x34, 0x27,
            0x2c, 0x27, 0x73, 0x76, 0x63, 0x27, 0x3a, 0x27, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0x32, 0xff, 0xff, 0xff, 0x67, 0xf0, 0x19, 0xd8, 0xff, 0xff, 0x20,
            0x5c, 0x5c, 0x27, 0x7d,
        ]
        let events = norseEvents(input)
        #expect(events.count == 1)
        let service = events.first?.service
        #expect(service != nil)
        if let service {
            #expect(service.utf8.count <= FeedEvent.maxServiceLength)
            #expect(!service.hasSuffix(" "))
            #expect(FeedEvent.boundedService(service) == service)
        }
    }

    @Test func boundedServiceIsIdempotent() {
        let name = String(repeating: "a", count: 63) + " bb"
        #expect(FeedEvent.boundedService(name) == String(repeating: "a", count: 63))
        #expect(FeedEvent.boundedService(String(repeating: "x", count: 64) + " ") == String(repeating: "x", count: 64))
    }

    /// feed-csv fuzz finding (ten-minute run): a 19-digit Unix time above
    /// Int64.max overflowed the digit accumulator and trapped the parser.
    @Test func nineteenDigitUnixTimeIsRejectedNotTrapped() {
        #expect(FeedTime.nanoseconds(text: "9412695298852985297") == nil)
        #expect(FeedTime.nanoseconds(text: "-9412695298852985297") == nil)
        #expect(FeedTime.nanoseconds(text: "9999999999999999999.5") == nil)
        // The largest representable 19-digit value still parses as a (nanosecond) time.
        #expect(FeedTime.nanoseconds(text: "1412695298000000000") == 1_412_695_298_000_000_000)
        var parser = CSVFeedParser()
        _ = parser.parse(line: "date,src"[...], defaultTimeNs: 0)
        if case .success(let events) = parser.parse(line: "9412695298852985297,192.0.2.1"[...], defaultTimeNs: 0) {
            Issue.record("an out-of-range time was accepted: \(events)")
        }
    }
}
