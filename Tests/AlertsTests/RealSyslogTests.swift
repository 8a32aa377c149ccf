import Foundation
import Glibc
import Testing
import TestSupport
@testable import Alerts

/// A real rsyslogd on a socket of its own: Debian's stock imuxsock settings (the system
/// socket's parser, which is what reads /dev/log), every message written to a file as
/// `programname|timestamp|syslogtag|msg`. Started with `-n` and stopped (SIGTERM, then
/// SIGKILL) by the test; runs as whoever runs the tests.
final class Rsyslogd {
    static var executable: String? { Executables.system("rsyslogd") }

    let directory: String
    var socket: String { directory + "/log" }
    var output: String { directory + "/out.log" }
    var child: Subprocess?

    init() throws {
        directory = try temporaryDirectory("rsys")
        let conf = """
            global(workDirectory="\(directory)")
            module(load="imuxsock" SysSock.Name="\(directory)/log")
            template(name="fields" type="string" string="%programname%|%timestamp:::date-rfc3339%|%syslogtag%|%msg%\\n")
            *.* action(type="omfile" file="\(directory)/out.log" template="fields")

            """
        try conf.write(toFile: directory + "/rsyslog.conf", atomically: true, encoding: .utf8)
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Starts it and waits for its socket.
    func start() throws {
        let executable = try #require(Rsyslogd.executable)
        let child = try Subprocess(executable, ["-n", "-f", directory + "/rsyslog.conf", "-i", directory + "/rsyslogd.pid"])
        self.child = child
        let up = eventually(timeout: .seconds(10)) { FileManager.default.fileExists(atPath: socket) }
        if !up {
            stop()
            throw Failure(description: "rsyslogd did not open \(socket): \(child.standardError)")
        }
    }

    /// Stops it (SIGTERM; SIGKILL after 5 s) and waits until it has exited.
    func stop() {
        guard let child else { return }
        if child.process.isRunning { child.process.terminate() }
        _ = child.waitForExit(timeout: .seconds(5))
        self.child = nil
        unlink(socket)   // if it was killed: a stale socket file refuses (ECONNREFUSED)
    }

    /// The output file's lines (rsyslogd writes them as each batch ends).
    var lines: [String] {
        ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    struct Failure: Error, CustomStringConvertible { var description: String }
}

@Suite(.serialized) struct RealRsyslogTests {
    @Test(.enabled(if: Rsyslogd.executable != nil, "rsyslogd is not installed (apt-get install rsyslog)"))
    func aStockRsyslogdFilesTheAlertUnderDarknetdWithItsAttributes() throws {
        let rsyslog = try Rsyslogd()
        try rsyslog.start()
        defer { rsyslog.stop() }
        let writer = SyslogWriter(config: SyslogConfig(path: rsyslog.socket, format: .local))
        #expect(writer.send(sampleAlert()))
        #expect(eventually(timeout: .seconds(10)) { !rsyslog.lines.isEmpty })
        let line = try #require(rsyslog.lines.first)
        let fields = line.split(separator: "|", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        #expect(fields.count == 4, "\(line)")
        guard fields.count == 4 else { return }
        #expect(fields[0] == "darknetd", "programname: \(line)")
        #expect(fields[2] == "darknetd[\(getpid())]:", "syslogtag: \(line)")
        // rsyslog's msg keeps the space after the tag's colon.
        #expect(fields[3].hasPrefix(" UDP/53 (DNS) open-resolver scan surge: 600 packets from 150 sources"), "msg: \(line)")
        for pair in ["rule=dns-open-resolver-surge", "severity=warning", "proto=udp", "port=53", "observed=600", "baseline=20.5",
                     "sources_observed=150", "top_sources=198.51.100.7/120,203.0.113.9/80"] {
            #expect(fields[3].contains(" " + pair), "\(pair) missing: \(line)")
        }
        // The timestamp is this year's (imuxsock stamps what it receives), not a misparse.
        var t = time_t()
        time(&t)
        var parts = tm()
        gmtime_r(&t, &parts)
        #expect(fields[1].hasPrefix("\(parts.tm_year + 1900)-"), "timestamp: \(line)")
    }

    @Test(.enabled(if: Rsyslogd.executable != nil, "rsyslogd is not installed (apt-get install rsyslog)"))
    func anRFC5424DatagramOnDevLogIsWhatTheIssueSaw() throws {
        // The old format, for the record: a stock rsyslogd files it under programname "1".
        let rsyslog = try Rsyslogd()
        try rsyslog.start()
        defer { rsyslog.stop() }
        #expect(SyslogWriter(config: SyslogConfig(path: rsyslog.socket, format: .rfc5424)).send(sampleAlert()))
        #expect(eventually(timeout: .seconds(10)) { !rsyslog.lines.isEmpty })
        #expect(rsyslog.lines.first?.hasPrefix("1|") == true, "\(rsyslog.lines)")
    }

    /// rsyslogd stopped while alerts are produced, then started again: every alert arrives
    /// once, in order, and the counters say so. DARKNET_OUTAGE_SECONDS and
    /// DARKNET_OUTAGE_ALERTS change the figures (the issue's: 20 s and 60 alerts).
    @Test(.enabled(if: Rsyslogd.executable != nil, "rsyslogd is not installed (apt-get install rsyslog)"))
    func anOutageLosesNothing() throws {
        let environment = ProcessInfo.processInfo.environment
        let outageSeconds = Double(environment["DARKNET_OUTAGE_SECONDS"] ?? "") ?? 3
        let total = Int(environment["DARKNET_OUTAGE_ALERTS"] ?? "") ?? 60
        let rsyslog = try Rsyslogd()
        try rsyslog.start()
        defer { rsyslog.stop() }
        let log = EventLog()
        let sink = AlertSink(name: "syslog", transport: SyslogWriter(config: SyslogConfig(path: rsyslog.socket, format: .local)),
                             config: DeliveryConfig(queueLimit: 1000, initialBackoffNs: 100_000_000, maxBackoffNs: 1_000_000_000),
                             onEvent: log.record)
        // The daemon's one-second tick, run until the queue is empty. (A burst of more than
        // net.unix.max_dgram_qlen datagrams, 10 by default, finds even a running rsyslogd
        // full for a moment: EAGAIN, and the rest wait in the queue.)
        func tickUntilDelivered() -> Bool {
            eventually(timeout: .seconds(15)) {
                sink.retry()
                return sink.counters.queued == 0
            }
        }
        // A third before, a third during, a third after the outage.
        let before = total / 3
        let during = total / 3
        for i in 0..<before { sink.submit(keyedAlert(i)) }
        #expect(tickUntilDelivered())
        #expect(sink.counters.sent == UInt64(before))
        #expect(log.all.isEmpty, "a moment's full buffer is not an outage: \(log.all)")
        // Stop rsyslogd only once it has filed them: a datagram the kernel accepted
        // is lost with a receiver that dies before reading it, and no sender can
        // see that (docs/alerts.md).
        #expect(eventually(timeout: .seconds(10)) { rsyslog.lines.count >= before })

        rsyslog.stop()
        let pause = outageSeconds / Double(max(1, during))
        for i in before..<(before + during) {
            sink.submit(keyedAlert(i))
            Thread.sleep(forTimeInterval: pause)
            sink.retry()
        }
        let whileDown = sink.counters
        #expect(whileDown.down && whileDown.queued == during && whileDown.dropped == 0, "\(whileDown)")
        #expect(whileDown.failedAttempts >= 1)

        try rsyslog.start()
        // The tick alone delivers the queue once rsyslogd is back.
        #expect(tickUntilDelivered())
        for i in (before + during)..<total { sink.submit(keyedAlert(i)) }
        #expect(tickUntilDelivered())
        let c = sink.counters
        #expect(c.sent == UInt64(total) && c.queued == 0 && c.dropped == 0 && !c.down, "\(c)")
        #expect(eventually(timeout: .seconds(10)) { rsyslog.lines.count >= total })
        Thread.sleep(forTimeInterval: 0.3)   // nothing more (no duplicates) arrives
        let keys = keys(ofLocalLines: rsyslog.lines)
        #expect(keys == (0..<total).map { "k\($0)" }, "\(rsyslog.lines.count) lines")
        #expect(log.all.count == 2, "\(log.all)")
        print("outage of \(outageSeconds) s: \(total) alerts produced, \(keys.count) filed by rsyslogd, \(Set(keys).count) distinct;"
              + " sent \(c.sent), failed attempts \(c.failedAttempts), dropped \(c.dropped); log: \(log.all.map(\.text))")
    }
}

/// A real systemd-journald, started by the test in a journal namespace of its own
/// (`systemd-journald NAMESPACE`: sockets in /run/systemd/journal.NAMESPACE, files in
/// /var/log/journal/MACHINE-ID.NAMESPACE), read back with `journalctl --namespace`.
/// Needs root, the binary and a machine id.
enum Journald {
    static let executable = "/lib/systemd/systemd-journald"
    static var journalctl: String? { Executables.system("journalctl") }
    static var usable: Bool {
        geteuid() == 0 && FileManager.default.isExecutableFile(atPath: executable) && journalctl != nil
            && FileManager.default.fileExists(atPath: "/etc/machine-id")
    }
}

@Suite(.serialized) struct RealJournaldTests {
    @Test(.enabled(if: Journald.usable, "needs root, /lib/systemd/systemd-journald, journalctl and /etc/machine-id"))
    func journaldStoresEveryFieldAndTheLargeEntry() throws {
        let namespace = "darknettest\(getpid())"
        let runDirectory = "/run/systemd/journal.\(namespace)"
        let machineID = (try String(contentsOfFile: "/etc/machine-id", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)
        let journal = try Subprocess(Journald.executable, [namespace])
        defer {
            journal.process.terminate()
            _ = journal.waitForExit(timeout: .seconds(5))
            try? FileManager.default.removeItem(atPath: runDirectory)
            try? FileManager.default.removeItem(atPath: "/var/log/journal/\(machineID).\(namespace)")
            try? FileManager.default.removeItem(atPath: "/run/log/journal/\(machineID).\(namespace)")
        }
        let socket = runDirectory + "/socket"
        try #require(eventually(timeout: .seconds(10)) { FileManager.default.fileExists(atPath: socket) },
                     "journald did not start: \(journal.standardError)")

        let writer = SyslogWriter(config: SyslogConfig(path: socket, format: .journal))
        var a = sampleAlert()
        a.key = "udp/53 \(namespace)"
        a.message = "first line\nsecond line"
        #expect(writer.send(a))
        var large = sampleAlert()
        large.key = "large \(namespace)"
        large.message = String(repeating: "y", count: 1 << 20)   // 1 MiB: past any datagram, through a memfd
        #expect(writer.send(large))
        #expect(writer.counters.memfdEntries == 1)

        func read(_ match: String) -> [[String: Any]] {
            guard let result = try? Subprocess.run(Journald.journalctl!, ["--namespace=\(namespace)", "--no-pager", "-o", "json",
                                                                          "--all", match]) else { return [] }
            return result.stdout.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }
        var entries: [[String: Any]] = []
        #expect(eventually(timeout: .seconds(15)) {
            entries = read("DARKNET_RULE=dns-open-resolver-surge")
            return entries.count >= 2
        }, "journalctl found \(entries.count) entries; journald said: \(journal.standardError)")
        let entry = try #require(entries.first { ($0["DARKNET_KEY"] as? String) == a.key })
        #expect(entry["SYSLOG_IDENTIFIER"] as? String == "darknetd")
        #expect(entry["PRIORITY"] as? String == "4")
        #expect(entry["SYSLOG_FACILITY"] as? String == "3")
        #expect(entry["DARKNET_PORT"] as? String == "53")
        #expect(entry["DARKNET_PROTO"] as? String == "udp")
        #expect(entry["DARKNET_OBSERVED"] as? String == "600")
        #expect(entry["DARKNET_BASELINE"] as? String == "20.5")
        #expect(entry["DARKNET_TOP_SOURCES"] as? String == "198.51.100.7/120,203.0.113.9/80")
        #expect(entry["MESSAGE"] as? String == "first line\nsecond line", "\(String(describing: entry["MESSAGE"]))")
        #expect(entry["_TRANSPORT"] as? String == "journal")
        let big = try #require(entries.first { ($0["DARKNET_KEY"] as? String) == large.key })
        #expect((big["MESSAGE"] as? String)?.count == 1 << 20)
    }
}
