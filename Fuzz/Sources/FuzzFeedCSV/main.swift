// libFuzzer harness for `CSVFeedParser` and `FeedFormat.detect`. The input is
// a small CSV file: its first line (up to the first newline) is the header,
// the rest are rows, parsed in order by one parser as the feed reader would.
// The same lines then go through format detection. Declarations only.

import Decoding
import Feed
import FuzzSupport
import GeoIP

let arrivalNs: Int64 = 1_700_000_000_000_000_000

func checkEvent(_ event: FeedEvent, columns: CSVFeedParser.Columns) {
    invariant(event.count >= 1, "CSV event with count \(event.count) (a zero count imports nothing)")
    invariant(event.contributes == .all, "a CSV record counts in every figure")
    if let service = event.service {
        invariant(!service.isEmpty && service.utf8.count <= FeedEvent.maxServiceLength, "service of \(service.utf8.count) bytes")
    }
    for country in [event.sourceCountry, event.targetCountry] {
        invariant(CountryCode(rawValue: country.rawValue) == country, "country code \(country.rawValue) is not two letters A-Z")
    }
    invariant(event.source == nil || columns.index[.source] != nil, "a source without a source column")
    invariant(event.destinationPort == nil || columns.index[.destinationPort] != nil, "a port without a port column")
    invariant(event.ipProtocol == nil || columns.index[.ipProtocol] != nil, "a protocol without a protocol column")
    invariant(event.timestampNs == arrivalNs || columns.index[.time] != nil, "a time without a time column")
}

/// RFC 4180 writer for the split/join round trip: every field quoted. Works
/// on UTF-8 bytes, as `splitFields` does: a quote followed by a combining
/// mark is one Character, which String-level replacing would not see.
func joinQuoted(_ fields: [String]) -> String {
    var out: [UInt8] = []
    for (index, field) in fields.enumerated() {
        if index > 0 { out.append(UInt8(ascii: ",")) }
        out.append(UInt8(ascii: "\""))
        for byte in field.utf8 {
            out.append(byte)
            if byte == UInt8(ascii: "\"") { out.append(byte) }
        }
        out.append(UInt8(ascii: "\""))
    }
    return String(decoding: out, as: UTF8.self)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    // Split on bytes, as the feed reader does ("\r\n" is one Character, so a
    // Character split on "\n" would miss CRLF line ends).
    let lines: [Substring] = text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).map { bytes in
        Substring(bytes.last == 0x0D ? bytes.dropLast() : bytes)
    }

    var parser = CSVFeedParser()
    for line in lines {
        let before = parser.columns
        let result = parser.parse(line: line, defaultTimeNs: arrivalNs)
        switch result {
        case .success(let events):
            invariant(events.count <= 1, "a CSV row stands for \(events.count) events")
            if before == nil, let columns = parser.columns {
                // The header was just read: it must name a time or a source column.
                invariant(events.isEmpty, "the header line produced events")
                invariant(columns.index[.time] != nil || columns.index[.source] != nil, "a header without time or source accepted")
                invariant(columns.index.values.allSatisfy { $0 >= 0 && $0 < columns.count }, "column index outside the header")
            }
            if let columns = parser.columns {
                for event in events { checkEvent(event, columns: columns) }
            } else {
                invariant(events.isEmpty, "events before any header")
            }
        case .failure(let error):
            invariant(!error.message.isEmpty, "a rejection without a message")
            if before == nil { invariant(parser.columns == nil, "a rejected line became the header") }
        }

        // Splitting: fields re-joined (quoted) and re-split are the same fields.
        if case .success(let fields) = CSVFeedParser.splitFields(line) {
            invariant(!fields.isEmpty, "a line split into no fields")
            let rejoined = joinQuoted(fields)
            invariant(CSVFeedParser.splitFields(Substring(rejoined)) == .success(fields),
                      "fields re-joined and re-split differ")
            // Fields without quotes or commas also survive an unquoted join.
            if fields.allSatisfy({ !$0.utf8.contains(UInt8(ascii: ",")) && $0.utf8.first != UInt8(ascii: "\"") }) {
                invariant(CSVFeedParser.splitFields(Substring(fields.joined(separator: ","))) == .success(fields),
                          "unquoted fields re-joined and re-split differ")
            }
        }
    }

    // Detection over the first lines, and validation of what it decides.
    let firstLines = Array(lines.prefix(FeedFormat.sniffLines * 2))
    do {
        let format = try FeedFormat.detect(firstLines: firstLines, path: "fuzz.csv")
        do {
            try format.validate(firstLines: firstLines, path: "fuzz.csv")
        } catch {
            invariant(false, "detect chose \(format) but validate rejects it: \(error)")
        }
    } catch {
        invariant(!error.description.isEmpty, "a detection failure without a reason")
    }
    return 0
}
