import Foundation
import Testing
import Decoding
import GeoIP
@testable import Aggregation
@testable import Sketches

/// Snapshot coding of the aggregator's windows (what `darknetd run` persists across restarts).
@Suite struct StateCodingTests {
    static func plist<T: Encodable>(_ value: T) throws -> Data {
        let encoder = PropertyListEncoder()
        encoder.outputFormat = .binary
        return try encoder.encode(value)
    }

    static func json<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(value)
    }

    /// Decodes `value`'s binary plist and JSON encodings; both must equal `value`, and the
    /// decoded values must encode to the same JSON bytes.
    /// (Wrapped in an array: a property list cannot be a bare string.)
    static func roundTrip<T: Codable & Equatable>(_ value: T) throws -> T {
        let fromPlist = try PropertyListDecoder().decode([T].self, from: plist([value]))
        let fromJSON = try JSONDecoder().decode([T].self, from: json([value]))
        try #require(fromPlist.count == 1 && fromJSON.count == 1)
        // Compared as Bool: a failure must not print kilobytes of registers.
        let plistEqual = fromPlist[0] == value
        let jsonEqual = fromJSON[0] == value
        #expect(plistEqual)
        #expect(jsonEqual)
        #expect(try json(fromPlist) == json([value]))
        return fromPlist[0]
    }

    static func same(_ a: [RollingWindow], _ b: [RollingWindow]) -> Bool { a == b }

    static let smallConfig = config {
        $0.windowBuckets = [3, 10]
        $0.pairSlots = 1 << 16
        $0.sourceDetailCapacity = 1 << 10
        $0.topSourceCapacity = 64
        $0.scan.minDestinations = 5
        $0.scan.minInternetRate = 0
    }

    /// Five buckets of mixed traffic: TCP scans (one source qualifies as a scan episode),
    /// DNS and NTP probes (watched ports, so top sources per port), backscatter, IPv6 ICMP,
    /// and an undecodable record.
    static func fed(_ c: AggregationConfig = smallConfig) -> Aggregator {
        var a = Aggregator(config: c)
        for b in 0..<5 {
            let base = t0 + Int64(b) * 60 * nsPerSecond
            for k in 0..<(b + 2) {
                a.add(tcpPacket(from: 0x0A00_0000 + UInt32(b * 16 + k), to: Net.darknet(k), port: 23, at: base + Int64(k) * nsPerSecond))
            }
            for k in 0..<8 {
                a.add(tcpPacket(from: Net.scanner, to: Net.darknet(100 + b * 8 + k), port: 445, at: base + seconds(0.5) + Int64(k)))
            }
            a.add(udpPacket(from: Net.scanner2, port: 53, at: base + seconds(2)))
            a.add(udpPacket(from: Net.scanner, port: 123, at: base + seconds(3)))
            a.add(tcpPacket(from: Net.victim, flags: TCPFlag.syn | TCPFlag.ack, at: base + seconds(4)))
            a.add(icmpv6Packet(type: 128, at: base + seconds(5)))
            a.add(decodeIP([0x45, 0x00], timestampNs: base + seconds(6)))
        }
        a.finish()
        return a
    }

    // MARK: Round trips

    @Test func hyperLogLogRoundTrips() throws {
        for precision in [4, 12, 14, 18] {
            var h = HyperLogLog(precision: precision)
            let hasher = SeededHash(seed0: 1, seed1: UInt64(precision))
            for i in 0..<UInt64(3000) { h.insert(hash: hasher.hash(i, 7)) }
            let back = try Self.roundTrip(h)
            #expect(back.registers == h.registers)
            #expect(back.estimate == h.estimate)
        }
        // The largest rank insert can store (rest == 0) is accepted.
        var top = HyperLogLog(precision: 4)
        top.insert(hash: 0xF000_0000_0000_0000)
        #expect(top.registers.max() == 61)
        #expect(try Self.roundTrip(top) == top)
    }

    @Test func base64MatchesFoundation() throws {
        var rng = SystemRandomNumberGenerator()
        for length in [0, 1, 2, 3, 4, 5, 16, 4096, 4097] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let text = StateBase64.encode(bytes)
            #expect(text == Data(bytes).base64EncodedString())
            #expect(StateBase64.decode(text) == bytes)
        }
        for bad in ["A", "AB=C", "A===", "AB*D", "AB==AB==", "AR=="] {
            #expect(StateBase64.decode(bad) == nil, "\(bad)")
        }
    }

    @Test func keysAndCodesRoundTrip() throws {
        for text in ["0.0.0.0", "198.51.100.7", "255.255.255.255", "::", "2001:db8::1", "::ffff:0:1", "fe80::1:2:3:4"] {
            let a = try #require(IPAddress(text))
            #expect(try Self.roundTrip(a) == a)
            #expect(String(decoding: try Self.json(a), as: UTF8.self) == "\"\(a)\"")
        }
        for code in [CountryCode.unknown, CountryCode("JP")!, CountryCode("XK")!] {
            #expect(try Self.roundTrip(code) == code)
        }
        #expect(String(decoding: try Self.json(CountryCode("JP")!), as: UTF8.self) == "\"JP\"")
        let key = AddressPort(address: Net.scanner6, ipProtocol: IPProtocolNumber.udp, port: 53)
        #expect(try Self.roundTrip(key) == key)
        let port = ProtocolPort(ipProtocol: IPProtocolNumber.tcp, port: 443)
        #expect(try Self.roundTrip(port) == port)
    }

    @Test func summariesOfARealRunRoundTrip() throws {
        let a = Self.fed()
        let window = a.windows[1]
        try #require(window.summaries.count == 5)
        // The fixture exercises every field.
        #expect(window.summaries.contains { !$0.newScans.isEmpty })
        #expect(window.summaries.allSatisfy { $0.watchedTopSources[53]?.first?.address == IPAddress(ipv4: Net.scanner2) })
        #expect(window.summaries.allSatisfy { !$0.countries.isEmpty && !$0.ports.isEmpty && $0.counters.totalErrors == 1 })
        for s in window.summaries {
            let back = try Self.roundTrip(s)
            #expect(back.sources.estimate == s.sources.estimate)
            #expect(back.watchedTopSources[123]?.map(\.packets) == s.watchedTopSources[123]?.map(\.packets))
        }
        #expect(Self.same([try Self.roundTrip(window)], [window]))
        #expect(Self.same(try Self.roundTrip(a.windows), a.windows))
    }

    @Test func equalityNoticesDifferences() throws {
        let s = Self.fed().windows[0].summaries[0]
        var other = s
        other.watchedTopSources[53] = [(IPAddress(ipv4: 1), 1)]
        #expect(other != s)
        other = s
        other.countries = other.countries.map { ($0.code, $0.packets + 1) }
        #expect(other != s)
    }

    @Test func eventsRoundTrip() throws {
        var state = ScanDetector.State()
        state.first = t0
        state.last = t0 + 5 * nsPerSecond
        state.packets = 400
        state.destinations = 300
        state.fingerprint = .masscan
        let episode = ScanEpisode(key: AddressPort(address: Net.scanner6, ipProtocol: IPProtocolNumber.tcp, port: 22),
                                  state: state, observedRate: 80, internetRate: 5.2e6, ongoing: true)
        #expect(try Self.roundTrip(episode) == episode)
        let attack = BackscatterAttack(victim: IPAddress(ipv4: Net.victim), ipProtocol: IPProtocolNumber.tcp, startNs: t0,
                                       endNs: t0 + 90 * nsPerSecond, packets: 5000, peakRate: 70.5, observedRate: 55.5,
                                       estimatedAttackRate: 3.6e6, ongoing: false)
        #expect(try Self.roundTrip(attack) == attack)
    }

    // MARK: Restoring into a fresh aggregator

    @Test func restoredWindowsGiveIdenticalTotals() throws {
        let original = Self.fed()
        let data = try Self.plist(original.windows)
        let decoded = try PropertyListDecoder().decode([RollingWindow].self, from: data)

        var fresh = Aggregator(config: Self.smallConfig)
        #expect(fresh.windows.allSatisfy { $0.summaries.isEmpty })
        let restored1 = fresh.restoreWindows(decoded)
        #expect(restored1)
        #expect(Self.same(fresh.windows, original.windows))
        for (w, o) in zip(fresh.windows, original.windows) {
            let (counters, classes, sources) = w.totals()
            let expected = o.totals()
            #expect(counters == expected.counters)
            #expect(classes == expected.classes)
            #expect(sources == expected.sources)
        }
        #expect(fresh.windows[0].summaries.count == 3)
        #expect(fresh.windows[0].totals().counters.total > 0)

        // New buckets after the restore roll the restored ones out, as if never interrupted.
        var continued = original
        let next = t0 + 5 * 60 * nsPerSecond
        continued.add(tcpPacket(to: Net.darknet(3), at: next))
        continued.finish()
        fresh.add(tcpPacket(to: Net.darknet(3), at: next))
        fresh.finish()
        #expect(Self.same(fresh.windows, continued.windows))
        #expect(fresh.windows[0].summaries.first?.startNs == t0 + 3 * 60 * nsPerSecond)
    }

    @Test func restoreRefusesMismatchedWindows() throws {
        let original = Self.fed()
        var otherCapacities = Aggregator(config: config { $0.windowBuckets = [3, 20]; $0.pairSlots = 1 << 16 })
        let restored2 = otherCapacities.restoreWindows(original.windows)
        #expect(!restored2)
        #expect(otherCapacities.windows.allSatisfy { $0.summaries.isEmpty })
        var fewer = Aggregator(config: config { $0.windowBuckets = [3]; $0.pairSlots = 1 << 16 })
        let restored3 = fewer.restoreWindows(original.windows)
        #expect(!restored3)
        var otherLength = Aggregator(config: config {
            $0.windowBuckets = [3, 10]
            $0.bucketSeconds = 300
            $0.pairSlots = 1 << 16
        })
        let restored4 = otherLength.restoreWindows(original.windows)
        #expect(!restored4)
        #expect(otherLength.windows.allSatisfy { $0.summaries.isEmpty })
    }

    @Test func restoreDropsWhatFellOutOfTheWindowAndKeepsNewerBuckets() throws {
        let original = Self.fed()
        // Restored at a later time: only what the windows still reach from `now` is kept.
        var idle = Aggregator(config: Self.smallConfig)
        let restored5 = idle.restoreWindows(original.windows, now: t0 + 13 * 60 * nsPerSecond + 5)
        #expect(restored5)
        #expect(idle.windows[0].summaries.isEmpty)
        #expect(idle.windows[1].summaries.map(\.startNs) == [t0 + 4 * 60 * nsPerSecond])
        // Still within the last restored bucket: everything is kept.
        var immediate = Aggregator(config: Self.smallConfig)
        let restored6 = immediate.restoreWindows(original.windows, now: t0 + 5 * 60 * nsPerSecond - 1)
        #expect(restored6)
        #expect(Self.same(immediate.windows, original.windows))

        var fresh = Aggregator(config: Self.smallConfig)
        // 9 buckets after the last restored one: of the 10-bucket window only buckets 4... remain.
        let now = t0 + 13 * 60 * nsPerSecond
        fresh.add(tcpPacket(to: Net.darknet(1), at: now))
        fresh.advance(to: now + 60 * nsPerSecond)
        #expect(fresh.windows[1].summaries.count == 1)
        let restored7 = fresh.restoreWindows(original.windows, now: now)
        #expect(restored7)
        #expect(fresh.windows[0].summaries.map(\.startNs) == [now])
        #expect(fresh.windows[1].summaries.map(\.startNs) == [t0 + 4 * 60 * nsPerSecond, now])
    }

    // MARK: Corrupt snapshots

    static func decode<T: Decodable>(_ type: T.Type, json text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    static func hllJSON(precision: Int, registers: [UInt8]) -> String {
        #"{"precision":\#(precision),"registers":"\#(Data(registers).base64EncodedString())"}"#
    }

    @Test func corruptHyperLogLogIsRejected() throws {
        // Well formed: accepted (so the rejections below are about the flaw).
        _ = try Self.decode(HyperLogLog.self, json: Self.hllJSON(precision: 4, registers: [UInt8](repeating: 61, count: 16)))
        #expect(throws: DecodingError.self) {
            try Self.decode(HyperLogLog.self, json: Self.hllJSON(precision: 4, registers: [UInt8](repeating: 0, count: 15)))
        }
        #expect(throws: DecodingError.self) {
            try Self.decode(HyperLogLog.self, json: Self.hllJSON(precision: 12, registers: [UInt8](repeating: 0, count: 1 << 14)))
        }
        var high = [UInt8](repeating: 0, count: 16)
        high[9] = 62
        #expect(throws: DecodingError.self) { try Self.decode(HyperLogLog.self, json: Self.hllJSON(precision: 4, registers: high)) }
        #expect(throws: DecodingError.self) { try Self.decode(HyperLogLog.self, json: Self.hllJSON(precision: 3, registers: [0, 0, 0, 0, 0, 0, 0, 0])) }
        #expect(throws: DecodingError.self) { try Self.decode(HyperLogLog.self, json: Self.hllJSON(precision: 19, registers: [])) }
        #expect(throws: DecodingError.self) { try Self.decode(HyperLogLog.self, json: #"{"precision":4,"registers":"not base64!"}"#) }
    }

    @Test func badAddressesAndCodesAreRejected() throws {
        for bad in ["", "198.51.100", "198.51.100.256", "2001:db8:::1", "example.org", "1.2.3.4 "] {
            #expect(throws: DecodingError.self, "\(bad)") { try Self.decode([IPAddress].self, json: "[\"\(bad)\"]") }
        }
        #expect(throws: DecodingError.self) { try Self.decode([IPAddress].self, json: "[17]") }
        for bad in ["jp", "J", "JPN", "1A", ""] {
            #expect(throws: DecodingError.self, "\(bad)") { try Self.decode([CountryCode].self, json: "[\"\(bad)\"]") }
        }
        #expect(try Self.decode([CountryCode].self, json: #"["??","JP"]"#) == [.unknown, CountryCode("JP")!])
    }

    /// The JSON of one summary as a mutable tree.
    static func summaryTree() throws -> [String: Any] {
        let s = fed().windows[0].summaries[0]
        return try #require(try JSONSerialization.jsonObject(with: json(s)) as? [String: Any])
    }

    static func decodeSummary(_ tree: [String: Any]) throws -> BucketSummary {
        try JSONDecoder().decode(BucketSummary.self, from: JSONSerialization.data(withJSONObject: tree))
    }

    /// State saved before the two darknet reasons existed (12 counters) still restores, with them at 0.
    @Test func summariesFromBeforeTheDarknetReasonsRestore() throws {
        var tree = try Self.summaryTree()
        var counters = try #require(tree["counters"] as? [String: Any])
        let errors = try #require(counters["decodeErrors"] as? [Int])
        #expect(errors.count == 14)
        counters["decodeErrors"] = Array(errors.prefix(12))
        tree["counters"] = counters
        let summary = try Self.decodeSummary(tree)
        #expect(summary.counters.errors(.destinationOutsideDarknet) == 0)
        #expect(summary.counters.errors(.sourceInsideDarknet) == 0)
        counters["decodeErrors"] = Array(errors.prefix(13))
        tree["counters"] = counters
        #expect(throws: DecodingError.self) { try Self.decodeSummary(tree) }
    }

    @Test func inconsistentSummariesAreRejected() throws {
        let good = try Self.summaryTree()
        _ = try Self.decodeSummary(good)

        var tree = good
        var counters = try #require(tree["counters"] as? [String: Any])
        counters["decodeErrors"] = [0, 1]
        tree["counters"] = counters
        #expect(throws: DecodingError.self) { try Self.decodeSummary(tree) }

        tree = good
        counters = try #require(tree["counters"] as? [String: Any])
        counters["total"] = (counters["total"] as! Int) + 1
        tree["counters"] = counters
        #expect(throws: DecodingError.self) { try Self.decodeSummary(tree) }

        // A per-bucket sketch of another precision would trap in totals() (merge).
        tree = good
        tree["sources"] = try JSONSerialization.jsonObject(with: Self.json(HyperLogLog(precision: 14)))
        #expect(throws: DecodingError.self) { try Self.decodeSummary(tree) }

        tree = good
        tree["lengthNs"] = 0
        #expect(throws: DecodingError.self) { try Self.decodeSummary(tree) }

        tree = good
        tree["portCount"] = 0
        #expect(throws: DecodingError.self) { try Self.decodeSummary(tree) }

        tree = good
        var watched = try #require(tree["watchedTopSources"] as? [[String: Any]])
        try #require(!watched.isEmpty)
        watched.append(watched[0])
        tree["watchedTopSources"] = watched
        #expect(throws: DecodingError.self) { try Self.decodeSummary(tree) }

        tree = good
        watched = try #require(tree["watchedTopSources"] as? [[String: Any]])
        let six = (0..<6).map { ["address": "192.0.2.\($0)", "packets": 1] as [String: Any] }
        watched[0]["sources"] = six
        tree["watchedTopSources"] = watched
        #expect(throws: DecodingError.self) { try Self.decodeSummary(tree) }

        tree = good
        var countries = try #require(tree["countries"] as? [[String: Any]])
        countries[0]["code"] = "Japan"
        tree["countries"] = countries
        #expect(throws: DecodingError.self) { try Self.decodeSummary(tree) }

        tree = good
        var ports = try #require(tree["ports"] as? [[String: Any]])
        ports[0]["scanPackets"] = (ports[0]["packets"] as! Int) + 1
        tree["ports"] = ports
        #expect(throws: DecodingError.self) { try Self.decodeSummary(tree) }
    }

    @Test func inconsistentWindowsAreRejected() throws {
        let window = Self.fed().windows[1]
        let good = try #require(try JSONSerialization.jsonObject(with: Self.json(window)) as? [String: Any])
        func decode(_ tree: [String: Any]) throws -> RollingWindow {
            try JSONDecoder().decode(RollingWindow.self, from: JSONSerialization.data(withJSONObject: tree))
        }
        #expect(Self.same([try decode(good)], [window]))

        var tree = good
        tree["capacity"] = 4  // five summaries
        #expect(throws: DecodingError.self) { try decode(tree) }
        tree["capacity"] = 0
        #expect(throws: DecodingError.self) { try decode(tree) }

        tree = good
        var summaries = try #require(tree["summaries"] as? [Any])
        summaries.swapAt(0, 1)
        tree["summaries"] = summaries
        #expect(throws: DecodingError.self) { try decode(tree) }

        tree = good
        summaries = try #require(tree["summaries"] as? [Any])
        var first = try #require(summaries[0] as? [String: Any])
        first["startNs"] = (first["startNs"] as! Int) - 20 * 60 * 1_000_000_000
        summaries[0] = first
        tree["summaries"] = summaries
        #expect(throws: DecodingError.self) { try decode(tree) }
    }

    @Test func truncatedSnapshotsAreRejected() throws {
        let windows = Self.fed().windows
        let plist = try Self.plist(windows)
        let json = try Self.json(windows)
        for cut in [0, 1, 8, plist.count / 3, plist.count / 2, plist.count - 1] {
            #expect(throws: (any Error).self, "plist cut at \(cut)") {
                try PropertyListDecoder().decode([RollingWindow].self, from: plist.prefix(cut))
            }
        }
        for cut in [0, 1, json.count / 2, json.count - 1] {
            #expect(throws: (any Error).self, "json cut at \(cut)") {
                try JSONDecoder().decode([RollingWindow].self, from: json.prefix(cut))
            }
        }
    }
}
