import Testing
import Foundation
import Glibc
import Decoding
import Interchange
import TestSupport
@testable import Alerts

/// Minimal RFC 5424 reader for the tests: header fields, SD params (raw, escapes kept), MSG.
struct ParsedSyslog {
    var header: [String] = []
    var params: [(String, [UInt8])] = []
    var msg: [UInt8] = []

    init?(_ b: [UInt8]) {
        var i = 0
        for _ in 0..<6 {
            guard let space = b[i...].firstIndex(of: 0x20) else { return nil }
            header.append(String(decoding: b[i..<space], as: UTF8.self))
            i = space + 1
        }
        guard i < b.count, b[i] == 0x5B else { return nil }
        guard let idEnd = b[i...].firstIndex(where: { $0 == 0x20 || $0 == 0x5D }) else { return nil }
        guard String(decoding: b[(i + 1)..<idEnd], as: UTF8.self) == "darknet@32473" else { return nil }
        i = idEnd
        while i < b.count, b[i] == 0x20 {
            guard let eq = b[i...].firstIndex(of: 0x3D), eq + 1 < b.count, b[eq + 1] == 0x22 else { return nil }
            let name = String(decoding: b[(i + 1)..<eq], as: UTF8.self)
            var j = eq + 2
            var value: [UInt8] = []
            while true {
                guard j < b.count else { return nil }
                if b[j] == 0x5C {
                    guard j + 1 < b.count else { return nil }
                    value += [b[j], b[j + 1]]
                    j += 2
                } else if b[j] == 0x22 {
                    break
                } else {
                    guard b[j] != 0x5D else { return nil }   // an unescaped ] inside a value
                    value.append(b[j])
                    j += 1
                }
            }
            params.append((name, value))
            i = j + 1
        }
        guard i < b.count, b[i] == 0x5D else { return nil }
        i += 1
        if i < b.count {
            guard b[i] == 0x20 else { return nil }
            msg = Array(b[(i + 1)...])
        }
    }

    func param(_ name: String) -> String? {
        params.first { $0.0 == name }.map { String(decoding: $0.1, as: UTF8.self) }
    }
}

/// Undoes the SD-PARAM escaping (`\"`, `\\`, `\]`, `\xHH`).
func unescape(_ raw: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    var i = 0
    while i < raw.count {
        if raw[i] == 0x5C, i + 1 < raw.count {
            if raw[i + 1] == 0x78, i + 3 < raw.count, let v = UInt8(String(decoding: raw[(i + 2)...(i + 3)], as: UTF8.self), radix: 16) {
                out.append(v)
                i += 4
            } else {
                out.append(raw[i + 1])
                i += 2
            }
        } else {
            out.append(raw[i])
            i += 1
        }
    }
    return out
}

@Suite struct SyslogFormatTests {
    @Test func exactBytesOfAMessage() {
        let bytes = SyslogFormat.message(sampleAlert(), facility: .daemon, hostname: "sensor1", procID: "4242")
        let expected = "<28>1 2013-03-18T00:00:00Z sensor1 darknetd 4242 dns-open-resolver-surge "
            + "[darknet@32473 rule=\"dns-open-resolver-surge\" proto=\"udp\" port=\"53\" observed=\"600\""
            + " baseline=\"20.5\" severity=\"warning\" deviation=\"3.25\" metric=\"scan_packets\" key=\"udp/53\""
            + " sources=\"150\" sources_baseline=\"5\" top_sources=\"198.51.100.7/120,203.0.113.9/80\"]"
            + " UDP/53 (DNS) open-resolver scan surge: 600 packets from 150 sources (baseline 20.5 packets from 5 sources)"
        #expect(String(decoding: bytes, as: UTF8.self) == expected)
        #expect(bytes == Array(expected.utf8))
    }

    @Test func facilityAndSeverityMakeThePRI() {
        var a = sampleAlert()
        a.severity = .critical
        let bytes = SyslogFormat.message(a, facility: .local3, hostname: "h", procID: "1")
        #expect(String(decoding: bytes.prefix(6), as: UTF8.self) == "<154>1")   // 19 × 8 + 2
    }

    @Test func hostileValuesAreEscaped() throws {
        var a = sampleAlert()
        a.key = "a\"b\\c]d\ne\u{01}f\u{7F}g\u{85}hé"
        a.message = "line1\nline2 \"q\" \\ ] \u{07}é"
        let bytes = SyslogFormat.message(a, hostname: "bad host\n", procID: "7")
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("<28>1 2013-03-18T00:00:00Z bad_host_ darknetd 7 dns-open-resolver-surge [darknet@32473 "))
        #expect(text.contains(#" key="a\"b\\c\]d\x0Ae\x01f\x7Fg\xC2\x85hé" "#))
        #expect(text.hasSuffix(#"] line1\x0Aline2 "q" \\ ] \x07\xC3\xA9"#))
        #expect(!bytes.contains(0x0A) && !bytes.contains(0x01) && !bytes.contains(0x07) && !bytes.contains(0x7F))
        let parsed = try #require(ParsedSyslog(bytes))
        #expect(unescape(Array(try #require(parsed.params.first { $0.0 == "key" }).1)) == Array(a.key.utf8))
        #expect(parsed.param("rule") == "dns-open-resolver-surge")
    }

    @Test func invalidUTF8AndC1ControlsBecomeHexEscapes() {
        var out: [UInt8] = []
        let complete = SyslogFormat.appendEscaped([0x61, 0xFF, 0xC3, 0x28, 0xE2, 0x82, 0xAC, 0xC2, 0x85, 0xED, 0xA0, 0x80, 0xF0, 0x9F, 0x98],
                                                  mode: .parameter, limit: 1000, into: &out)
        #expect(complete)
        #expect(String(decoding: out, as: UTF8.self) == #"a\xFF\xC3(€\xC2\x85\xED\xA0\x80\xF0\x9F\x98"#)
        #expect(String(validating: out, as: UTF8.self) != nil)
    }

    @Test func theLengthIsBoundedAndCutsAreClean() throws {
        var a = sampleAlert()
        a.key = String(repeating: "é\"", count: 3000)
        a.message = String(repeating: "x", count: 5000)
        let bytes = SyslogFormat.message(a, hostname: "sensor1", procID: "1")
        #expect(bytes.count == 2048)
        #expect(String(validating: bytes, as: UTF8.self) != nil)
        let parsed = try #require(ParsedSyslog(bytes))
        // The key value was cut at 256 bytes without splitting é or \" ...
        let key = try #require(parsed.params.first { $0.0 == "key" }).1
        #expect(key.count <= 256 && key.count > 250)
        #expect(a.key.utf8.starts(with: unescape(key)))
        // ... the remaining params are all there, and MSG filled the rest.
        #expect(parsed.param("top_sources") == "198.51.100.7/120,203.0.113.9/80")
        #expect(parsed.msg.allSatisfy { $0 == 0x78 })

        // A tight bound cuts a parameter itself and leaves the rest out, SD still closed.
        for limit in [512, 600, 700, 777] {
            let small = SyslogFormat.message(a, hostname: "sensor1", procID: "1", maxBytes: limit, maxParamValueBytes: 4096)
            #expect(small.count <= limit)
            #expect(String(validating: small, as: UTF8.self) != nil)
            let p = try #require(ParsedSyslog(small), "limit \(limit)")
            let cut = try #require(p.params.last)
            #expect(cut.0 == "key")
            #expect(a.key.utf8.starts(with: unescape(cut.1)))
        }
    }

    @Test func eventAlertsOmitPortAndCarryTheAddress() throws {
        let a = EventRules().evaluate(BackscatterVictimEvent(victim: IPAddress("2001:db8::1")!, ipProtocol: 6, startNs: spamhausWeekNs,
                                                              packets: 10, peakRate: 1, estimatedAttackRate: 65536))!
        let p = try #require(ParsedSyslog(SyslogFormat.message(a, hostname: "h", procID: "1")))
        #expect(p.param("port") == nil)
        #expect(p.param("proto") == "tcp")
        #expect(p.param("address") == "2001:db8::1")
        #expect(p.param("observed") == "65536")
        #expect(p.header[5] == "backscatter-dos")
    }
}

@Suite struct SyslogWriterTests {
    @Test func oneAlertIsOneDatagramWithTheExactBytes() throws {
        let listener = try DatagramSocket(temporaryNamed: "alerts")
        let writer = SyslogWriter(config: SyslogConfig(path: listener.name, format: .rfc5424, hostname: "sensor1"))
        let a = sampleAlert()
        #expect(writer.send(a))
        var b = sampleAlert()
        b.key = "second"
        #expect(writer.send(b))
        let first = try #require(listener.receiveNow())
        let second = try #require(listener.receiveNow())
        #expect(listener.receiveNow() == nil)
        #expect(first == SyslogFormat.message(a, hostname: "sensor1", procID: String(getpid())))
        #expect(String(decoding: first, as: UTF8.self).hasPrefix("<28>1 2013-03-18T00:00:00Z sensor1 darknetd \(getpid()) dns-open-resolver-surge [darknet@32473 rule=\"dns-open-resolver-surge\" proto=\"udp\" port=\"53\" observed=\"600\" baseline=\"20.5\" severity=\"warning\""))
        #expect(ParsedSyslog(second)?.param("key") == "second")
        #expect(writer.counters.sent == 2 && writer.counters.failed == 0)
    }

    @Test func aMissingSocketIsCountedNotThrownAndRecoveredLater() throws {
        let dir = NSTemporaryDirectory() + "alerts-missing-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let path = dir + "/log"
        let writer = SyslogWriter(config: SyslogConfig(path: path, hostname: "h"))
        #expect(!writer.send(sampleAlert()))
        #expect(!writer.send(sampleAlert()))
        let c = writer.counters
        #expect(c.failed == 2 && c.sendErrors == 2 && c.sent == 0)
        #expect(c.lastErrno == ENOENT)
        #expect(c.reopens == 1)   // the socket was dropped after the first error and re-created

        // The daemon appears: the next send reaches it.
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = try DatagramSocket(name: path)
        #expect(writer.send(sampleAlert()))
        #expect(writer.counters.sent == 1)
        #expect(daemon.receiveNow() != nil)
    }

    @Test func aFullReceiverDropsAndCountsInsteadOfBlocking() throws {
        let listener = try DatagramSocket(temporaryNamed: "alerts")
        let writer = SyslogWriter(config: SyslogConfig(path: listener.name, hostname: "h"))
        var sent = 0
        while writer.send(sampleAlert()) {
            sent += 1
            if sent > 1_000_000 { break }
        }
        #expect(sent > 0 && sent < 1_000_000)
        let c = writer.counters
        #expect(c.failed == 1 && c.sendErrors == 1)
        #expect(c.lastErrno == EAGAIN || c.lastErrno == ENOBUFS)
        // Drained, the same socket delivers again (a full buffer does not drop the socket).
        while listener.receiveNow() != nil {}
        #expect(writer.send(sampleAlert()))
        #expect(writer.counters.reopens == 0)
    }

    @Test func aPathTooLongForSockaddrIsCounted() {
        let writer = SyslogWriter(config: SyslogConfig(path: "/tmp/" + String(repeating: "x", count: 200)))
        #expect(!writer.send(sampleAlert()))
        #expect(writer.counters.socketErrors == 1)
        #expect(writer.counters.lastErrno == ENAMETOOLONG)
    }
}

@Suite struct JSONLinesTests {
    func temporaryPath() -> String {
        NSTemporaryDirectory() + "alerts-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).jsonl"
    }

    @Test func oneObjectPerLineAppendedAndReadableBack() throws {
        let path = temporaryPath()
        defer { unlink(path) }
        try Data("existing\n".utf8).write(to: URL(fileURLWithPath: path))
        let writer = try JSONLinesWriter(path: path)
        let a = sampleAlert()
        let b = EventRules().evaluate(BackscatterVictimEvent(victim: IPAddress("192.0.2.1")!, ipProtocol: 6,
                                                              startNs: spamhausWeekNs + 1_500_000_000, packets: 10,
                                                              peakRate: 0.25, estimatedAttackRate: 4096))!
        #expect(writer.write(a))
        #expect(writer.write(b))
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 4 && lines[0] == "existing" && lines[3] == "")
        #expect(lines[1] == #"{"address":null,"baseline":20.5,"deviation":3.25,"key":"udp/53","message":"UDP/53 (DNS) open-resolver scan surge: 600 packets from 150 sources (baseline 20.5 packets from 5 sources)","metric":"scan_packets","observed":600,"port":53,"proto":"udp","rule":"dns-open-resolver-surge","severity":"warning","severity_code":4,"sources_baseline":5,"sources_observed":150,"time":"2013-03-18T00:00:00Z","time_ns":1363564800000000000,"top_sources":[{"address":"198.51.100.7","packets":120},{"address":"203.0.113.9","packets":80}]}"#)
        #expect(lines[2].contains(#""time":"2013-03-18T00:00:01.500000Z""#))
        #expect(lines[2].contains(#""port":null"#) && lines[2].contains(#""proto":"tcp""#))
        #expect(try AlertJSON.decode(line: lines[1]) == a)
        #expect(try AlertJSON.decode(line: lines[2]) == b)
        #expect(writer.counters.written == 2)
    }

    @Test func reopenFollowsLogRotation() throws {
        let path = temporaryPath()
        defer { unlink(path); unlink(path + ".1") }
        let writer = try JSONLinesWriter(path: path)
        #expect(writer.write(sampleAlert()))
        #expect(rename(path, path + ".1") == 0)
        #expect(writer.write(sampleAlert()))          // still the rotated file
        try writer.reopen()
        var c = sampleAlert()
        c.key = "after-rotation"
        #expect(writer.write(c))
        let old = try String(contentsOfFile: path + ".1", encoding: .utf8)
        let new = try String(contentsOfFile: path, encoding: .utf8)
        #expect(old.split(separator: "\n").count == 2)
        #expect(new.split(separator: "\n").count == 1 && new.contains(#""key":"after-rotation""#))
    }

    @Test func anUnopenablePathFailsAtStartup() {
        #expect(throws: JSONLinesWriter.OpenError.self) {
            _ = try JSONLinesWriter(path: "/nonexistent-dir-\(getpid())/alerts.jsonl")
        }
    }

    @Test func correlationFieldsAndSummaryRoundTrip() throws {
        var a = sampleAlert()
        a.rule = .correlatedSurge
        a.correlation = CorrelationFigures(feedObserved: 5000, feedBaseline: 104.5, lagBuckets: -1)
        let line = try AlertJSON.line(a)
        #expect(line.contains(#""feed_observed":5000"#) && line.contains(#""feed_baseline":104.5"#) && line.contains(#""lag_buckets":-1"#))
        #expect(try AlertJSON.decode(line: line) == a)
        let s = Alert(rule: .alertRateLimited, severity: .warning, timeNs: 0, key: "rate-limit", metric: "suppressed_alerts",
                      observed: 7, baseline: 20, suppressed: 7, message: "m")
        #expect(try AlertJSON.line(s).contains(#""suppressed":7"#))
        #expect(try AlertJSON.decode(line: AlertJSON.line(s)) == s)
    }
}

@Suite struct TimeAndNumberTests {
    /// Alerts write six fraction digits (RFC 5424's limit); the formatter
    /// itself is tested in InterchangeTests.
    @Test func alertTimesUseMicroseconds() throws {
        #expect(RFC3339.format(-1, fractionDigits: 6) == "1969-12-31T23:59:59.999999Z")
        let a = Alert(rule: .alertRateLimited, severity: .warning, timeNs: spamhausWeekNs + 250_000_001, key: "k",
                      metric: "m", observed: 1, baseline: 1, suppressed: 0, message: "m")
        #expect(try AlertJSON.line(a).contains(#""time":"2013-03-18T00:00:00.250000Z""#))
    }

    @Test func numbers() {
        #expect(AlertNumber.format(600) == "600")
        #expect(AlertNumber.format(20.5) == "20.5")
        #expect(AlertNumber.format(3.14159) == "3.142")
        #expect(AlertNumber.format(-0.0004) == "0")
        #expect(AlertNumber.format(-2.25) == "-2.25")
        #expect(AlertNumber.format(.nan) == "0")
        #expect(AlertNumber.format(1e20) == "1e+20")
    }

    @Test func configDecodesFromAPartialDocument() throws {
        let json = #"{"surges":{"port":{"min_packets":1000},"max_tracked_ports":128},"correlation":{"lag_buckets":4,"feed_only_severity":"warning"}}"#
        let c = try JSONDecoder().decode(AlertEngineConfig.self, from: Data(json.utf8))
        #expect(c.surges.port.minPackets == 1000)
        #expect(c.surges.port.k == 5 && c.surges.port.severity == .notice)   // port-surge's own defaults
        #expect(c.surges.dns == .dnsDefault)
        #expect(c.surges.maxTrackedPorts == 128)
        #expect(c.correlation.lagBuckets == 4 && c.correlation.feedOnlySeverity == .warning)
        #expect(c.scanCampaign == ScanCampaignRuleConfig())
        let gate = try JSONDecoder().decode(AlertGateConfig.self, from: Data(#"{"max_alerts_per_window":5}"#.utf8))
        #expect(gate.maxAlertsPerWindow == 5 && gate.cooldownSeconds == 900)
        let syslog = try JSONDecoder().decode(SyslogConfig.self, from: Data(#"{"facility":"local0"}"#.utf8))
        #expect(syslog.facility == .local0 && syslog.path == "/dev/log")
        // And round-trips.
        let again = try JSONDecoder().decode(AlertEngineConfig.self, from: JSONEncoder().encode(c))
        #expect(again == c)
    }
}
