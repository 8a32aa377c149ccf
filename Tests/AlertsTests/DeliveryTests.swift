import CSensorShims
import Decoding
import Foundation
import Glibc
import Interchange
import Synchronization
import Testing
import TestSupport
@testable import Alerts

func keyedAlert(_ i: Int) -> Alert {
    var a = sampleAlert()
    a.key = "k\(i)"
    return a
}

/// Collects a sink's down/up events.
final class EventLog: Sendable {
    let events = Mutex<[SinkEvent]>([])
    var all: [SinkEvent] { events.withLock { $0 } }
    var record: @Sendable (SinkEvent) -> Void { { [self] e in events.withLock { $0.append(e) } } }
}

func temporaryDirectory(_ prefix: String) throws -> String {
    // Short: Unix socket paths must fit 108 bytes.
    let path = "/tmp/\(prefix)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func keys(ofLocalLines lines: [String]) -> [String] {
    lines.compactMap { line in
        line.split(separator: " ").first { $0.hasPrefix("key=") }.map { String($0.dropFirst(4)) }
    }
}

@Suite struct AlertSinkTests {
    let ms: Int64 = 1_000_000

    @Test func alertsWaitWhileTheSocketIsAwayAndArriveOnceInOrder() throws {
        let dir = try temporaryDirectory("sink")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/log"
        let log = EventLog()
        let sink = AlertSink(name: "syslog", transport: SyslogWriter(config: SyslogConfig(path: path)),
                             config: DeliveryConfig(queueLimit: 100, initialBackoffNs: 100 * ms, maxBackoffNs: 400 * ms),
                             onEvent: log.record)
        var now: Int64 = 1_000 * ms
        for i in 0..<5 {
            sink.submit(keyedAlert(i), nowNs: now)
            now += 10 * ms
        }
        var c = sink.counters
        // One attempt (ENOENT), then the others wait for the backoff instead of hammering.
        #expect(c.sent == 0 && c.queued == 5 && c.failedAttempts == 1 && c.dropped == 0 && c.down)
        #expect(c.lastError?.errno == ENOENT)
        #expect(log.all.count == 1)
        guard case .down(let name, _, _, _) = log.all.first else { Issue.record("no down event"); return }
        #expect(name == "syslog")

        // Retries before the wait is over do nothing; after it, one attempt each, backoff doubling.
        sink.retry(nowNs: now)
        #expect(sink.counters.failedAttempts == 1)
        now = 1_000 * ms + 100 * ms
        sink.retry(nowNs: now)
        #expect(sink.counters.failedAttempts == 2)
        sink.retry(nowNs: now + 150 * ms)
        #expect(sink.counters.failedAttempts == 2)   // next wait is 200 ms
        now += 200 * ms
        sink.retry(nowNs: now)
        #expect(sink.counters.failedAttempts == 3)

        // syslog is back: the timer's retry alone delivers the queue, in order.
        let daemon = try DatagramSocket(name: path)
        now += 400 * ms
        sink.retry(nowNs: now)
        c = sink.counters
        #expect(c.sent == 5 && c.queued == 0 && !c.down && c.dropped == 0)
        var received: [String] = []
        while let d = daemon.receiveNow() { received.append(String(decoding: d, as: UTF8.self)) }
        #expect(keys(ofLocalLines: received) == ["k0", "k1", "k2", "k3", "k4"])
        #expect(log.all.count == 2)
        guard case .up(_, let downNs, let dropped) = log.all.last else { Issue.record("no up event"); return }
        #expect(downNs > 0 && dropped == 0)
        #expect(log.all.last?.text.contains("nothing lost") == true)
    }

    @Test func aFullQueueDropsTheOldestAndCountsIt() throws {
        let dir = try temporaryDirectory("sink")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/log"
        let sink = AlertSink(name: "syslog", transport: SyslogWriter(config: SyslogConfig(path: path)),
                             config: DeliveryConfig(queueLimit: 3, initialBackoffNs: 10 * ms, maxBackoffNs: 10 * ms))
        for i in 0..<5 { sink.submit(keyedAlert(i), nowNs: 0) }
        #expect(sink.counters.dropped == 2 && sink.counters.queued == 3)
        #expect(sink.pending.map(\.key) == ["k2", "k3", "k4"])
        let daemon = try DatagramSocket(name: path)
        sink.retry(nowNs: 1_000 * ms)
        #expect(sink.counters.sent == 3 && sink.counters.queued == 0)
        var received: [String] = []
        while let d = daemon.receiveNow() { received.append(String(decoding: d, as: UTF8.self)) }
        #expect(keys(ofLocalLines: received) == ["k2", "k3", "k4"])
    }

    @Test func aFullReceiverKeepsTheAlertQueuedUntilItDrains() throws {
        let listener = try DatagramSocket(temporaryNamed: "sink")
        let sink = AlertSink(name: "syslog", transport: SyslogWriter(config: SyslogConfig(path: listener.name)),
                             config: DeliveryConfig(queueLimit: 100_000, initialBackoffNs: 1, maxBackoffNs: 1))
        var i = 0
        while sink.counters.queued == 0 && i < 1_000_000 {
            sink.submit(keyedAlert(i), nowNs: Int64(i))
            i += 1
        }
        var c = sink.counters
        // Full for a moment is not an outage (no log line), but the alert waits all the same.
        #expect(!c.down && c.queued == 1 && c.dropped == 0 && c.failedAttempts == 1)
        #expect(c.lastError?.errno == EAGAIN || c.lastError?.errno == ENOBUFS)
        // Still full after the grace period: now it is down.
        sink.retry(nowNs: Int64(i) + sink.config.busyGraceNs)
        c = sink.counters
        #expect(c.down && c.failedAttempts == 2)
        var received: [String] = []
        while let d = listener.receiveNow() { received.append(String(decoding: d, as: UTF8.self)) }
        sink.retry(nowNs: Int64(i) + sink.config.busyGraceNs + 10)
        while let d = listener.receiveNow() { received.append(String(decoding: d, as: UTF8.self)) }
        #expect(sink.counters.sent == UInt64(i) && sink.counters.queued == 0)
        #expect(keys(ofLocalLines: received) == (0..<i).map { "k\($0)" })
    }

    @Test func downLinesAreRateLimitedAndTheirUpLinesFollowThem() throws {
        let dir = try temporaryDirectory("sink")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/log"
        let log = EventLog()
        let sink = AlertSink(name: "syslog", transport: SyslogWriter(config: SyslogConfig(path: path)),
                             config: DeliveryConfig(initialBackoffNs: 1, maxBackoffNs: 1, downLogIntervalNs: 60_000 * ms),
                             onEvent: log.record)
        var daemon: DatagramSocket?
        var now: Int64 = 0
        for _ in 0..<3 {   // three outages within a minute
            daemon = nil
            sink.submit(sampleAlert(), nowNs: now)
            now += 1_000 * ms
            daemon = try DatagramSocket(name: path)
            sink.retry(nowNs: now)
            now += 1_000 * ms
        }
        _ = daemon
        #expect(log.all.count == 2)   // the first outage's down and up; the other two counted
        daemon = nil
        now += 60_000 * ms
        sink.submit(sampleAlert(), nowNs: now)
        guard case .down(_, _, _, let unlogged) = log.all.last else { Issue.record("no down line"); return }
        #expect(unlogged == 2)
        #expect(sink.counters.sent == 3 && sink.counters.queued == 1)
    }

    @Test func aFullDiskKeepsJSONLinesQueued() throws {
        // /dev/full: every write fails with ENOSPC, as on a full file system.
        let sink = AlertSink(name: "json_file", transport: try JSONLinesWriter(path: "/dev/full"),
                             config: DeliveryConfig(initialBackoffNs: 1, maxBackoffNs: 1))
        sink.submit(sampleAlert(), nowNs: 0)
        sink.submit(sampleAlert(), nowNs: 10)
        let c = sink.counters
        #expect(c.sent == 0 && c.queued == 2 && c.failedAttempts == 2 && c.down)
        #expect(c.lastError?.errno == ENOSPC)
    }

    @Test func anAlertThatCanNeverFitIsDroppedAndCountedNotRetried() throws {
        struct TooLarge: AlertTransport {
            func deliver(_ alert: Alert) -> DeliveryResult { .failure(SystemCallError("sendto", EMSGSIZE)) }
        }
        let sink = AlertSink(name: "syslog", transport: TooLarge())
        sink.submit(sampleAlert(), nowNs: 0)
        #expect(sink.counters.dropped == 1 && sink.counters.rejected == 1 && sink.counters.queued == 0 && !sink.counters.down)
    }
}

@Suite struct LocalFormatTests {
    let time = LocalTimestamp(month: 3, day: 8, hour: 0, minute: 5, second: 9)

    @Test func theLineLoggerSendsWithAttributesAsKeyValue() {
        let bytes = LocalSyslogFormat.message(sampleAlert(), facility: .daemon, tag: "darknetd", pid: 4242, time: time)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text == "<28>Mar  8 00:05:09 darknetd[4242]: UDP/53 (DNS) open-resolver scan surge: 600 packets from 150 sources"
            + " (baseline 20.5 packets from 5 sources) rule=dns-open-resolver-surge severity=warning proto=udp port=53"
            + " metric=scan_packets observed=600 baseline=20.5 deviation=3.25 sources_observed=150 sources_baseline=5"
            + " key=udp/53 time=2013-03-18T00:00:00Z time_ns=1363564800000000000 severity_code=4"
            + " top_sources=198.51.100.7/120,203.0.113.9/80")
    }

    @Test func valuesWithSpacesAreQuotedAndControlsEscaped() {
        var a = sampleAlert()
        a.key = "a \"b\"=c"
        a.message = "line\none \\ é"
        a.topSources = []
        let text = String(decoding: LocalSyslogFormat.message(a, pid: 1, time: time), as: UTF8.self)
        #expect(text.contains(#": line\x0Aone \\ é rule="#))
        #expect(text.contains(#" key="a \"b\"=c" "#))
        #expect(!text.contains("\n"))
    }

    @Test func longLinesAreCutAtACharacterBoundary() {
        var a = sampleAlert()
        a.message = String(repeating: "é\u{1}", count: 400)
        for limit in 480...520 {
            let bytes = LocalSyslogFormat.message(a, pid: 1, time: time, maxBytes: limit)
            #expect(bytes.count <= limit)
            #expect(String(validating: bytes, as: UTF8.self) != nil)
            let text = String(decoding: bytes, as: UTF8.self)
            // Never a broken escape at the end.
            #expect(!text.hasSuffix("\\") && !text.hasSuffix("\\x") && !text.hasSuffix("\\x0"))
        }
    }
}

/// A test socket standing in for journald: datagrams, and descriptors passed with them.
func receiveJournal(_ socket: DatagramSocket) -> (payload: [UInt8], memfd: Int32)? {
    guard socket.waitReadable(timeout: .seconds(2)) else { return nil }
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    var received = 0
    var fd: Int32 = -1
    let status = buffer.withUnsafeMutableBytes { csensor_recv_with_fd(socket.fd, $0.baseAddress, $0.count, &received, &fd) }
    guard status == 0 else { return nil }
    return (Array(buffer[0..<received]), fd)
}

@Suite struct JournalFormatTests {
    @Test func theDatagramByteForByte() throws {
        let listener = try DatagramSocket(temporaryNamed: "journal")
        let writer = SyslogWriter(config: SyslogConfig(path: listener.name, format: .journal, facility: .local3))
        var a = sampleAlert()
        a.topSources = [SourceContribution(address: IPAddress("198.51.100.7")!, packets: 120)]
        #expect(writer.send(a))
        let d = try #require(receiveJournal(listener))
        #expect(d.memfd == -1)
        let expected = """
            MESSAGE=UDP/53 (DNS) open-resolver scan surge: 600 packets from 150 sources (baseline 20.5 packets from 5 sources)
            PRIORITY=4
            SYSLOG_FACILITY=19
            SYSLOG_IDENTIFIER=darknetd
            DARKNET_RULE=dns-open-resolver-surge
            DARKNET_SEVERITY=warning
            DARKNET_PROTO=udp
            DARKNET_PORT=53
            DARKNET_METRIC=scan_packets
            DARKNET_OBSERVED=600
            DARKNET_BASELINE=20.5
            DARKNET_DEVIATION=3.25
            DARKNET_SOURCES_OBSERVED=150
            DARKNET_SOURCES_BASELINE=5
            DARKNET_KEY=udp/53
            DARKNET_TIME=2013-03-18T00:00:00Z
            DARKNET_TIME_NS=1363564800000000000
            DARKNET_SEVERITY_CODE=4
            DARKNET_TOP_SOURCES=198.51.100.7/120

            """
        #expect(d.payload == Array(expected.utf8))
    }

    @Test func aValueWithANewlineUsesTheLengthPrefixedForm() {
        let bytes = JournalFormat.entry([("MESSAGE", "a\nb"), ("X", "y")])
        #expect(bytes == Array("MESSAGE\n".utf8) + [3, 0, 0, 0, 0, 0, 0, 0] + Array("a\nb\nX=y\n".utf8))
    }

    @Test func everyAttributeOfTheJSONLineHasAField() throws {
        var a = sampleAlert()
        a.address = IPAddress("192.0.2.1")
        a.correlation = CorrelationFigures(feedObserved: 40, feedBaseline: 2, lagBuckets: 1)
        a.suppressed = 3
        let json = try #require(try JSONSerialization.jsonObject(with: Data(AlertJSON.line(a).utf8)) as? [String: Any])
        let fields = Set(JournalFormat.fields(a).map(\.name))
        for (key, value) in json where !(value is NSNull) && key != "message" {
            #expect(fields.contains("DARKNET_" + key.uppercased()), "no journal field for \(key)")
        }
        #expect(fields.contains("MESSAGE"))
    }

    @Test func anEntryTooLargeForADatagramGoesAsASealedMemfd() throws {
        let listener = try DatagramSocket(temporaryNamed: "journal")
        let writer = SyslogWriter(config: SyslogConfig(path: listener.name, format: .journal))
        var a = sampleAlert()
        // Larger than any datagram the kernel takes (net.core.wmem_max is far below 4 MiB by default).
        a.message = String(repeating: "x", count: 4 << 20)
        #expect(writer.send(a))
        #expect(writer.counters.memfdEntries == 1)
        let d = try #require(receiveJournal(listener))
        #expect(d.payload.isEmpty && d.memfd >= 0)
        defer { close(d.memfd) }
        let seals = fcntl(d.memfd, 1034 /* F_GET_SEALS */)
        #expect(seals & 0xF == 0xF)   // SEAL, SHRINK, GROW, WRITE
        var contents = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var offset: off_t = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(d.memfd, $0.baseAddress, $0.count, offset) }
            guard n > 0 else { break }
            contents += chunk[0..<n]
            offset += off_t(n)
        }
        #expect(contents == JournalFormat.entry(a))
    }
}

@Suite struct RemoteTargetTests {
    @Test func targetsParse() {
        #expect(SyslogTarget(parsing: "udp://collector.example:514") == .udp(host: "collector.example", port: 514))
        #expect(SyslogTarget(parsing: "tcp://[2001:db8::1]:6514") == .tcp(host: "2001:db8::1", port: 6514))
        #expect(SyslogTarget(parsing: "/dev/log") == .unix("/dev/log"))
        #expect(SyslogTarget(parsing: "tcp://host") == nil)
        #expect(SyslogTarget(parsing: "tcp://host:0") == nil)
        #expect(SyslogTarget(parsing: "http://host:80") == nil)
        #expect(SyslogTarget(parsing: "tcp://[2001:db8::1]:6514")?.description == "tcp://[2001:db8::1]:6514")
    }

    /// A TCP listener on 127.0.0.1 (`port` 0: any free port); the descriptor and its port.
    func listener(port: UInt16 = 0) -> (Int32, UInt16) {
        let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var one: Int32 = 1
        setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(server, $0, length) } }
        precondition(bound == 0 && listen(server, 4) == 0, "listen: \(String(cString: strerror(errno)))")
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(server, $0, &length) } }
        return (server, UInt16(bigEndian: address.sin_port))
    }

    /// Reads from `connection` until `count` bytes came (or 5 s passed).
    func read(_ connection: Int32, count: Int) -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        _ = eventually(timeout: .seconds(5)) {
            let n = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 { received += buffer[0..<n] }
            return received.count >= count
        }
        return received
    }

    func frames(_ alerts: [Alert]) -> [UInt8] {
        alerts.flatMap { a -> [UInt8] in
            let m = SyslogFormat.message(a, hostname: "sensor1", procID: String(getpid()))
            return Array("\(m.count) ".utf8) + m
        }
    }

    @Test func tcpFramesAreOctetCountedAndResentAfterTheCollectorReturns() throws {
        let (server, port) = listener()
        let writer = SyslogWriter(config: SyslogConfig(target: .tcp(host: "127.0.0.1", port: port), format: .rfc5424, hostname: "sensor1"))
        let sink = AlertSink(name: "syslog", transport: writer, config: DeliveryConfig(initialBackoffNs: 1, maxBackoffNs: 1))
        sink.submit(keyedAlert(1), nowNs: 0)
        sink.submit(keyedAlert(2), nowNs: 0)
        #expect(sink.counters.sent == 2)
        let connection = accept(server, nil, nil)
        #expect(connection >= 0)
        let expected = frames([keyedAlert(1), keyedAlert(2)])
        let received = read(connection, count: expected.count)
        #expect(received == expected)
        let first = SyslogFormat.message(keyedAlert(1), hostname: "sensor1", procID: String(getpid()))
        #expect(String(decoding: received, as: UTF8.self).hasPrefix("\(first.count) <28>1 2013-03-18T00:00:00Z sensor1 darknetd "))

        // The collector goes away. TCP may take one more frame before the reset shows, so
        // alerts go on until the sink is down; what is queued then goes out, in order, on
        // the next connection.
        close(connection)
        close(server)
        var n = 3
        while !sink.counters.down && n < 100 {
            sink.submit(keyedAlert(n), nowNs: Int64(n))
            n += 1
            usleep(5_000)
        }
        #expect(sink.counters.down)
        let lastKey = "k\(n - 1)"
        #expect(sink.pending.last?.key == lastKey)
        let waiting = sink.pending
        let (again, _) = listener(port: port)
        defer { close(again) }
        sink.retry(nowNs: 1_000_000_000)
        #expect(sink.counters.queued == 0 && !sink.counters.down)
        let second = accept(again, nil, nil)
        defer { close(second) }
        let resent = frames(waiting)
        #expect(read(second, count: resent.count) == resent)
    }
}
