import Foundation
import TestSupport
import Testing

/// `darknetd run` end to end, inside namespaces the test creates: traffic
/// replayed onto a veth, the UDP/53 surge alert at a syslog socket the test
/// opens, numbers through darknetctl and the raw socket protocol, sd_notify
/// datagrams, graceful stop, and state restored on restart.
@Suite(.serialized) struct DaemonTests {
    static var available: Bool {
        VethNamespaces.available && Executables.system("tcpreplay") != nil
    }

    func config(interface: String, dir: URL, syslog: String) -> String {
        """
        capture:
          interfaces: ["\(interface)"]
          filter: "udp"
          promiscuous: true
          immediate: true
        darknet:
          prefixes: ["198.18.0.0/16"]
        aggregation:
          bucket: 1s
          windows: ["60s"]
        alerts:
          syslog:
            enabled: true
            socket: \(syslog)
            format: local
          json_file: \(dir.appendingPathComponent("alerts.jsonl").path)
          rate_per_minute: 100
          rules:
            dns-open-resolver-surge:
              warmup_buckets: 3
              min_packets: 20
              min_sources: 5
        stats:
          socket: \(dir.appendingPathComponent("run/darknetd.sock").path)
          idle_timeout: 5s
          max_clients: 256
        feed:
          path: \(dir.appendingPathComponent("feed.csv").path)
          format: csv
          poll_ms: 50
          max_line_bytes: 4096
        state:
          directory: \(dir.appendingPathComponent("state").path)
          snapshot_interval: 10m
        service:
          watchdog: true
        """
    }

    @Test(.enabled(if: DaemonTests.available, "needs root, iproute2 and tcpreplay"))
    func runCapturesAlertsAnswersAndStopsGracefully() throws {
        let net = try VethNamespaces(tag: "d")
        defer { net.tearDown() }
        let dir = URL(fileURLWithPath: "/tmp/dnd-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let syslog = try DatagramListener(path: dir.appendingPathComponent("log.sock").path)
        let notify = try DatagramListener(path: dir.appendingPathComponent("notify.sock").path)
        let configPath = dir.appendingPathComponent("darknetd.yaml").path
        try config(interface: net.receiverInterface, dir: dir, syslog: syslog.path).write(toFile: configPath, atomically: true, encoding: .utf8)

        // Quiet UDP/53 scanning for 8 s, then a surge from many sources in seconds 8-10.
        let capture = dir.appendingPathComponent("replay.pcap").path
        let generated = try Subprocess.run(Executables.darknetd, ["generate", "--out", capture, "--packets", "3200",
                                                                  "--rate", "200", "--surge", "8:10:600", "--seed", "5"])
        #expect(generated.status == 0, "\(generated.output)")

        // The feed the daemon follows: a header and two good lines for now.
        let feedPath = dir.appendingPathComponent("feed.csv").path
        try "time,src_ip,dst_port,proto,cc\n2024-01-01T00:00:00Z,192.0.2.1,53,udp,CN\n2024-01-01T00:00:01Z,192.0.2.2,23,tcp,HK\n"
            .write(toFile: feedPath, atomically: true, encoding: .utf8)

        let environment = ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000"]
        let (exe, args) = net.inNamespace(net.receiver, [Executables.darknetd, "run", "--config", configPath, "--foreground"])
        let daemon = try Subprocess(exe, args, environment: environment)
        defer { if daemon.process.isRunning { daemon.process.terminate() } }
        #expect(notify.wait(timeout: .seconds(30)) { $0.contains("READY=1") }, "no READY=1: \(daemon.standardError)")

        let (replayExe, replayArgs) = net.inNamespace(net.sender, [Executables.system("tcpreplay")!, "-q", "-i", net.senderInterface, capture])
        let replay = try Subprocess(replayExe, replayArgs)
        let socket = dir.appendingPathComponent("run/darknetd.sock").path

        // Hostile clients while traffic flows: 200 connections, an oversized line,
        // invalid JSON and invalid UTF-8, clients that never read. Capture keeps counting.
        var hostile: [Int32] = []
        for i in 0..<200 {
            let fd = DaemonTests.connect(socket)
            guard fd >= 0 else { continue }
            hostile.append(fd)
            let junk: [UInt8]
            switch i % 4 {
            case 0: junk = Array(repeating: UInt8(ascii: "A"), count: 10_000) + [10]
            case 1: junk = Array("{not json\n".utf8)
            case 2: junk = [0xFF, 0xFE, 0x7B, 0x0A]
            default: junk = Array(String(repeating: "{\"command\":\"series\"}\n", count: 50).utf8)  // and never read
            }
            _ = junk.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        #expect(hostile.count >= 60)
        // Hostile feed lines appended while traffic flows: over-long, binary with
        // NULs and invalid UTF-8, wrong field counts, bad addresses, ports and
        // times, an unterminated quote; then 10 good lines. None may stop the
        // import, and each is counted.
        var hostileFeed = Data()
        hostileFeed.append(Data(String(repeating: "9", count: 10_000).utf8) + Data([10]))
        hostileFeed.append(Data([0, 0xFF, 0xFE, 0x2C, 0xC3, 0x28, 0x2C, 0, 10]))
        hostileFeed.append(Data(String(repeating: ",", count: 3_000).utf8) + Data([10]))
        for bad in ["2024-01-01T00:00:02Z,999.1.1.1,53,udp,CN", "2024-01-01T00:00:02Z,192.0.2.3,70000,udp,CN",
                    "99999999999999999999,192.0.2.4,53,udp,CN", "2024-13-45T99:00:00Z,192.0.2.5,53,udp,CN",
                    "\"2024-01-01T00:00:02Z,192.0.2.6,53,udp,CN", "2024-01-01T00:00:02Z,192.0.2.7"] {
            hostileFeed.append(Data((bad + "\n").utf8))
        }
        for i in 0..<10 { hostileFeed.append(Data("2024-01-01T00:00:0\(i)Z,198.51.100.\(i),53,udp,US\n".utf8)) }
        let feedHandle = try #require(FileHandle(forWritingAtPath: feedPath))
        try feedHandle.seekToEnd()
        try feedHandle.write(contentsOf: hostileFeed)
        try feedHandle.close()

        let before = try DaemonTests.packets(socket)
        Thread.sleep(forTimeInterval: 2)
        let after = try DaemonTests.packets(socket)
        #expect(after > before, "capture counters stopped moving under hostile clients: \(before) -> \(after)")
        for fd in hostile { close(fd) }
        #expect(replay.waitForExit(timeout: .seconds(60)) == 0, "\(replay.standardError)")

        // The surge alert reaches syslog as one local line (as logger(1) sends), attributes as key=value.
        #expect(syslog.wait(timeout: .seconds(15)) { $0.contains("dns-open-resolver-surge") },
                "no alert; daemon said: \(daemon.standardError)")
        let message = try #require(syslog.drain().first { $0.contains("dns-open-resolver-surge") })
        #expect(message.hasPrefix("<"))
        #expect(message.contains(" darknetd[\(daemon.process.processIdentifier)]: "))
        #expect(message.contains(" rule=dns-open-resolver-surge "))
        #expect(message.contains(" port=53 "))
        let jsonLines = try String(contentsOfFile: dir.appendingPathComponent("alerts.jsonl").path, encoding: .utf8)
        #expect(jsonLines.contains("\"rule\":\"dns-open-resolver-surge\""))

        // darknetctl and the raw protocol see the numbers.
        let stats = try Subprocess.run(Executables.darknetctl, ["--socket", socket, "stats", "--json"])
        #expect(stats.status == 0, "\(stats.output)")
        let statsObject = try #require(try JSONSerialization.jsonObject(with: Data(stats.output.utf8)) as? [String: Any])
        let data = try #require((statsObject["data"] as? [String: Any]) ?? statsObject)
        let since = try #require(data["since_start"] as? [String: Any], "\(stats.output)")
        #expect((since["udp"] as? Int ?? 0) > 1000)
        let alerts = try Subprocess.run(Executables.darknetctl, ["--socket", socket, "alerts"])
        #expect(alerts.status == 0)
        #expect(alerts.output.contains("dns-open-resolver-surge"), "\(alerts.output)")
        let metrics = try Subprocess.run(Executables.darknetctl, ["--socket", socket, "metrics"])
        #expect(metrics.output.contains("darknet_packets_total"))
        // Per-sink delivery: the alerts were delivered, none dropped, none waiting.
        for sink in ["syslog", "json_file"] {
            let sent = metrics.output.split(separator: "\n").first { $0.hasPrefix("darknet_alert_sink_sent_total{sink=\"\(sink)\"} ") }
            #expect((sent?.split(separator: " ").last.flatMap { Double($0) } ?? 0) >= 1, "\(metrics.output)")
            #expect(metrics.output.contains("\ndarknet_alert_sink_dropped_total{sink=\"\(sink)\"} 0\n"), "\(metrics.output)")
            #expect(metrics.output.contains("\ndarknet_alert_sink_queued{sink=\"\(sink)\"} 0\n"), "\(metrics.output)")
        }
        // Supervised (NOTIFY_SOCKET is set): the sd_notify counts are there, and nothing failed.
        #expect(metrics.output.contains("\ndarknet_systemd_notify_failed_total 0\n"), "\(metrics.output)")
        let notifySent = metrics.output.split(separator: "\n").first { $0.hasPrefix("darknet_systemd_notify_sent_total ") }
        #expect((notifySent?.split(separator: " ").last.flatMap { Double($0) } ?? 0) >= 1, "\(metrics.output)")
        // A state directory is configured: the snapshot writer's counts are there, and nothing failed.
        #expect(metrics.output.contains("\ndarknet_snapshot_failures_total 0\n"), "\(metrics.output)")
        #expect(metrics.output.contains("\ndarknet_snapshots_superseded_total "), "\(metrics.output)")

        // The feed kept importing: 12 good lines, the 9 hostile ones skipped and counted by reason.
        let feed = try Subprocess.run(Executables.darknetctl, ["--socket", socket, "feed", "--json"])
        #expect(feed.status == 0, "\(feed.output)")
        let feedObject = try #require(try JSONSerialization.jsonObject(with: Data(feed.stdout.utf8)) as? [String: Any])
        let feedData = try #require((feedObject["data"] as? [String: Any]) ?? feedObject)
        let feedStatus = try #require(feedData["status"] as? [String: Any], "\(feed.output)")
        #expect(feedStatus["events"] as? Int == 12, "\(feed.output)")
        let skipped = try #require(feedStatus["skipped"] as? [String: Int], "\(feed.output)")
        #expect(skipped.values.reduce(0, +) == 9, "\(feed.output)")
        #expect(skipped["line-too-long"] == 1, "\(feed.output)")

        #expect(notify.wait(timeout: .seconds(5)) { $0.contains("WATCHDOG=1") })
        #expect(notify.drain().contains { $0.contains("STATUS=") })

        // SIGHUP: feed and alert rules re-read, windows kept.
        kill(daemon.process.processIdentifier, SIGHUP)  // `ip netns exec` execs the daemon: same pid
        #expect(notify.wait(timeout: .seconds(10)) { $0.contains("RELOADING=1") })
        #expect(daemon.wait(until: { daemon.standardError.contains("reloaded feed and alert rules") }, timeout: .seconds(10)))
        #expect(try DaemonTests.packets(socket) >= after)

        // SIGUSR1: a snapshot now, long before the 10-minute interval.
        let statePath = dir.appendingPathComponent("state/darknetd.state").path
        #expect(!FileManager.default.fileExists(atPath: statePath))
        kill(daemon.process.processIdentifier, SIGUSR1)
        #expect(daemon.wait(until: { daemon.standardError.contains("snapshot requested") }, timeout: .seconds(10)))
        #expect(eventually(timeout: .seconds(10)) { FileManager.default.fileExists(atPath: statePath) })
        #expect(eventually(timeout: .seconds(10)) {
            (try? Subprocess.run(Executables.darknetctl, ["--socket", socket, "metrics"]).output
                .contains("\ndarknet_snapshots_saved_total 1\n")) ?? false
        })

        // Graceful stop: STOPPING=1, exit 0, socket removed, state saved.
        daemon.process.terminate()  // SIGTERM
        let status = daemon.waitForExit(timeout: .seconds(15))
        #expect(status == 0, "\(daemon.standardError)")
        #expect(notify.drain().contains { $0.contains("STOPPING=1") })
        #expect(!FileManager.default.fileExists(atPath: socket))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("state/darknetd.state").path))

        // No hash_seed configured: a random key was made in the state directory,
        // private to the daemon's user.
        let keyPath = dir.appendingPathComponent("state/hash.key").path
        let key = try String(contentsOfFile: keyPath, encoding: .utf8)
        #expect(key.count == 33 && key.hasSuffix("\n"), "\(key)")
        #expect(key.trimmingCharacters(in: .newlines) != "6461726b6e65743153454e534f522d31")  // not the public default key
        let mode = (try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        #expect(daemon.standardError.contains("made a new random hash key"))

        // A restart reuses the key, so it restores the windows and baselines.
        let again = try Subprocess(exe, args, environment: environment)
        #expect(again.wait(until: { again.standardError.contains("state restored") }, timeout: .seconds(30)), "\(again.standardError)")
        #expect(try String(contentsOfFile: keyPath, encoding: .utf8) == key)
        // SIGHUP and SIGUSR1 during start-up (right after the restore, before the
        // service group traps them) are ignored, and SIGTERM then still ends in a
        // graceful stop.
        kill(again.process.processIdentifier, SIGHUP)
        kill(again.process.processIdentifier, SIGUSR1)
        again.process.terminate()
        #expect(again.waitForExit(timeout: .seconds(15)) == 0, "\(again.standardError)")
    }

    /// A raw connection to the stats socket (-1 on failure).
    static func connect(_ path: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() where i < raw.count - 1 { raw[i] = b }
        }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if status != 0 { close(fd); return -1 }
        return fd
    }

    /// Packets counted so far, through the raw protocol (one JSON line each way).
    static func packets(_ path: String) throws -> Int {
        let fd = connect(path)
        guard fd >= 0 else { throw VethNamespaces.NamespaceError(description: "cannot connect to \(path)") }
        defer { close(fd) }
        let request = Array("{\"command\":\"stats\"}\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while recv(fd, &byte, 1, 0) == 1 {
            if byte == 10 { break }
            line.append(byte)
        }
        let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
        let data = object?["data"] as? [String: Any]
        let since = data?["since_start"] as? [String: Any]
        return since?["total"] as? Int ?? -1
    }

    @Test func badConfigurationNamesKeyAndLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dnc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("bad.yaml").path
        try "capture:\n  interfaces: [\"lo\"]\naggregation:\n  bukcet: 60s\n".write(toFile: path, atomically: true, encoding: .utf8)
        let result = try Subprocess.run(Executables.darknetd, ["run", "--config", path])
        #expect(result.status == 1)
        #expect(result.output.contains("line 4"), "\(result.output)")
        #expect(result.output.contains("aggregation.bukcet"), "\(result.output)")
    }
}
