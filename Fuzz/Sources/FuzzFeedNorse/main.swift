// libFuzzer harness for `NorseParser`: one NORSE IPViking line (JSON or the
// Python `repr()` of a dict), as the feed reader hands it over (the input is
// the line, terminator removed). Declarations only (-parse-as-library).
//
// A rejected line is fine (it is counted and skipped); trapping, or
// accepting an event that breaks `FeedEvent`'s promises, is not.

import Decoding
import Feed
import FuzzSupport
import GeoIP

let arrivalNs: Int64 = 1_700_000_000_000_000_000

func checkEvent(_ event: FeedEvent, _ line: Substring) {
    invariant(event.count >= 1, "NORSE event with count \(event.count)")
    invariant(event.contributes == .all, "a NORSE record counts in every figure")
    invariant(event.source != nil, "NORSE event without its md5 source address")
    if let service = event.service {
        invariant(!service.isEmpty && service.utf8.count <= FeedEvent.maxServiceLength,
                  "service of \(service.utf8.count) bytes")
        invariant(FeedEvent.boundedService(service) == service, "service not trimmed: \(service.debugDescription)")
    }
    for country in [event.sourceCountry, event.targetCountry] {
        invariant(CountryCode(rawValue: country.rawValue) == country, "country code \(country.rawValue) is not two letters A-Z")
    }
    invariant(event.timestampNs == arrivalNs || line.contains("time"),
              "an event time other than the arrival time without a time field")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNorse(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let line = Substring(text)
    var parser = NorseParser()
    let first = parser.parse(line: line, defaultTimeNs: arrivalNs)
    if case .success(let events) = first {
        for event in events { checkEvent(event, line) }
        // The single-record form agrees with the line form.
        switch parser.parseRecord(line: line, defaultTimeNs: arrivalNs) {
        case .success(let one):
            invariant(events.count <= 1 && one == events.first, "parseRecord disagrees with parse")
        case .failure:
            invariant(events.count > 1, "parseRecord rejects a line parse accepts with \(events.count) event(s)")
        }
    } else if case .failure(let error) = first {
        invariant(!error.message.isEmpty, "a rejection without a message")
    }
    // NORSE parsing keeps no state between lines: a second parse gives the same answer.
    let again = parser.parse(line: line, defaultTimeNs: arrivalNs)
    invariant(again == first, "parsing the same line twice disagrees")
    return 0
}
