import Foundation
import Testing
import Alerts
import Decoding
@testable import Daemon
@testable import Pipeline

/// The alert stage's window ends (issue 12, finding 7): a rate-limit summary goes out when
/// its window ends, on the daemon's tick, and a daemon killed after sending it and restarted
/// from an older snapshot does not send it again.
@Suite struct AlertStageTests {
    static let minute: Int64 = 60_000_000_000
    /// 2013-03-18T00:07:00Z, the start of a rate-limit window.
    static let windowStart: Int64 = 1_363_564_800 * 1_000_000_000 + 7 * minute

    func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("alert-stage-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func notices(_ count: Int, at ns: Int64) -> [Alert] {
        (0..<count).map { i in
            Alert(rule: .portSurge, severity: .notice, timeNs: ns + Int64(i), key: "tcp/\(1000 + i)", ipProtocol: 6,
                  port: UInt16(1000 + i), metric: "scan_packets", observed: 1, message: "surge \(i)")
        }
    }

    /// A stage writing to a JSON-lines file, as the daemon's.
    func stage(_ file: String) throws -> AlertStage {
        let sink = AlertSink(name: "json_file", transport: try JSONLinesWriter(path: file))
        return AlertStage(sinks: AlertSinks(syslog: nil, jsonLines: sink))
    }

    func lines(_ file: String) throws -> [Alert] {
        try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map { try AlertJSON.decode(line: String($0)) }
    }

    /// Alerts still queued for a sink that is down when the daemon stops are named, not lost silently.
    @Test func alertsQueuedAtStopAreNamed() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sink = AlertSink(name: "syslog", transport: SyslogWriter(config: SyslogConfig(path: dir + "/no-such-socket")))
        var stage = AlertStage(sinks: AlertSinks(syslog: sink, jsonLines: nil))
        stage.deliver(notices(3, at: Self.windowStart))
        #expect(sink.counters.queued == 3)
        let lines = stage.undeliveredAtStop()
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix("alerts: 3 alerts still queued for the syslog sink at stop, not delivered") == true, "\(lines)")
        #expect(AlertStage().undeliveredAtStop().isEmpty, "no sinks: nothing to say")
    }

    @Test func theSummaryGoesOutWhenTheWindowEnds() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/alerts.jsonl"
        var stage = try stage(file)
        stage.deliver(notices(25, at: Self.windowStart))
        #expect(try lines(file).count == 20)
        stage.tick(nowNs: Self.windowStart + Self.minute - 1)
        #expect(try lines(file).count == 20, "window not over yet")
        stage.tick(nowNs: Self.windowStart + Self.minute)
        let summary = try #require(try lines(file).last)
        #expect(summary.rule == .alertRateLimited && summary.suppressed == 5 && summary.timeNs == Self.windowStart)
        stage.tick(nowNs: Self.windowStart + 5 * Self.minute)
        #expect(try lines(file).count == 21)
    }

    /// The snapshot is saved mid-window; the old process sends the window's summary, is
    /// killed (no stop, no snapshot), and a new process restores the older snapshot.
    func restartAfterTheSummary(ledger: Bool) throws -> (before: [Alert], after: [Alert]) {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = SnapshotStore<DaemonSnapshot>(directory: dir, name: "darknetd.state", payloadVersion: DaemonSnapshot.payloadVersion)

        var old = try stage(dir + "/old.jsonl")
        if ledger { #expect(old.keepWindowLedger(in: dir) == nil) }
        old.deliver(notices(25, at: Self.windowStart))
        try store.save(DaemonSnapshot(savedNs: Self.windowStart, windows: [], alerts: old.engine, gate: old.gate))
        old.tick(nowNs: Self.windowStart + Self.minute + 1_000_000_000)
        let before = try lines(dir + "/old.jsonl")

        var new = try stage(dir + "/new.jsonl")
        if ledger { #expect(new.keepWindowLedger(in: dir) == nil) }
        guard case .restored(let saved) = store.load() else {
            Issue.record("snapshot not restored")
            return (before, [])
        }
        new.restore(engine: saved.alerts, gate: saved.gate, engineConfig: AlertEngineConfig(), gateConfig: AlertGateConfig())
        new.tick(nowNs: Self.windowStart + 3 * Self.minute)
        let after = (try? lines(dir + "/new.jsonl")) ?? []
        return (before, after)
    }

    @Test func aSummarySentBeforeAKillIsNotSentAgain() throws {
        let (before, after) = try restartAfterTheSummary(ledger: true)
        #expect(before.filter { $0.rule == .alertRateLimited }.count == 1)
        #expect(after.isEmpty, "the restarted daemon re-sent: \(after.map(\.message))")
    }

    /// The failure the ledger prevents (today's main): the snapshot alone re-sends the summary.
    @Test func withoutTheLedgerTheOlderSnapshotWouldResendIt() throws {
        let (_, after) = try restartAfterTheSummary(ledger: false)
        #expect(after.map(\.rule) == [.alertRateLimited])
    }

    @Test func aScanWindowSummarizedBeforeAKillIsNotSummarizedAgain() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var engine = AlertEngine(config: AlertEngineConfig(scanCampaign: ScanCampaignRuleConfig(minNewScanners: 1)))
        for i in 0..<3 {
            _ = engine.observe(ScanEpisodeEvent(source: IPAddress(ipv4: 0xC633_6400 + UInt32(i)), ipProtocol: 6, port: 23,
                                                startNs: Self.windowStart, packets: 100, destinations: 100, internetRate: 1))
        }
        #expect(engine.events.windowPortCount == 1)
        let hourStart = Self.windowStart - 7 * Self.minute
        // The old process sent the hour's summaries (its ledger says so) after the snapshot.
        let ledger = try WindowLedger(directory: dir)
        ledger.record(.scanCampaign, windowStartNs: hourStart)

        var restarted = AlertStage(engine: engine.config)
        #expect(restarted.keepWindowLedger(in: dir) == nil)
        restarted.restore(engine: engine, gate: AlertGate(), engineConfig: engine.config, gateConfig: AlertGateConfig())
        #expect(restarted.engine.events.windowPortCount == 0)
        // A ledger of an earlier hour leaves the window alone.
        var other = AlertStage(engine: engine.config)
        let otherDir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: otherDir) }
        try WindowLedger(directory: otherDir).record(.scanCampaign, windowStartNs: hourStart - 60 * Self.minute)
        #expect(other.keepWindowLedger(in: otherDir) == nil)
        other.restore(engine: engine, gate: AlertGate(), engineConfig: engine.config, gateConfig: AlertGateConfig())
        #expect(other.engine.events.windowPortCount == 1)
    }

    @Test func theLedgerFileReadsBackAndIgnoresForeignContent() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let ledger = try WindowLedger(directory: dir)
            #expect(ledger.recorded == WindowLedger.Recorded())
            ledger.record(.rateLimit, windowStartNs: 120)
            ledger.record(.rateLimit, windowStartNs: 60)   // never moves back
            ledger.record(.scanCampaign, windowStartNs: -3600)
        }
        let text = try String(contentsOfFile: dir + "/alert-windows", encoding: .utf8)
        #expect(text.utf8.count == 128 && text.hasPrefix("darknetd alert windows v1 rate_limit=120 scan_campaign=-3600 "))
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: dir + "/alert-windows")[.posixPermissions] as? Int)
        #expect(mode == 0o600)
        #expect(try WindowLedger(directory: dir).recorded == WindowLedger.Recorded(rateLimit: 120, scanCampaign: -3600))
        try "garbage\u{0}\u{1}".write(toFile: dir + "/alert-windows", atomically: true, encoding: .utf8)
        #expect(try WindowLedger(directory: dir).recorded == WindowLedger.Recorded())
        #expect(throws: (any Error).self) { try WindowLedger(directory: dir + "/missing/dir") }
    }
}
