import Foundation
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
        state:
          directory: \(dir.appendingPathComponent("state").path)
          snapshot_interval: 1m
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

        let environment = ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000"]
        let (exe, args) = net.inNamespace(net.receiver, [Executables.darknetd, "run", "--config", configPath, "--foreground"])
        let daemon = try Subprocess(exe, args, environment: environment)
        defer { if daemon.process.isRunning { daemon.process.terminate() } }
        #expect(notify.wait(timeout: .seconds(30)) { $0.contains("READY=1") }, "no READY=1: \(daemon.standardError)")

        let (replayExe, replayArgs) = net.inNamespace(net.sender, [Executables.system("tcpreplay")!, "-q", "-i", net.senderInterface, capture])
        let replay = try Subprocess.run(replayExe, replayArgs, timeout: .seconds(60))
        #expect(replay.status == 0, "\(replay.output)")

        // The surge alert reaches syslog as one RFC 5424 message with structured data.
        #expect(syslog.wait(timeout: .seconds(15)) { $0.contains("dns-open-resolver-surge") },
                "no alert; daemon said: \(daemon.standardError)")
        let message = try #require(syslog.drain().first { $0.contains("dns-open-resolver-surge") })
        #expect(message.hasPrefix("<"))
        #expect(message.contains(" darknetd "))
        #expect(message.contains("[darknet@32473 "))
        #expect(message.contains("port=\"53\""))
        let jsonLines = try String(contentsOfFile: dir.appendingPathComponent("alerts.jsonl").path, encoding: .utf8)
        #expect(jsonLines.contains("\"rule\":\"dns-open-resolver-surge\""))

        // darknetctl and the raw protocol see the numbers.
        let socket = dir.appendingPathComponent("run/darknetd.sock").path
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

        #expect(notify.wait(timeout: .seconds(5)) { $0.contains("WATCHDOG=1") })
        #expect(notify.drain().contains { $0.contains("STATUS=") })

        // Graceful stop: STOPPING=1, exit 0, socket removed, state saved.
        daemon.process.terminate()  // SIGTERM
        let status = daemon.waitForExit(timeout: .seconds(15))
        #expect(status == 0, "\(daemon.standardError)")
        #expect(notify.drain().contains { $0.contains("STOPPING=1") })
        #expect(!FileManager.default.fileExists(atPath: socket))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("state/darknetd.state").path))

        // A restart restores the windows and baselines.
        let again = try Subprocess(exe, args, environment: environment)
        #expect(again.wait(until: { again.standardError.contains("state restored") }, timeout: .seconds(30)), "\(again.standardError)")
        again.process.terminate()
        #expect(again.waitForExit(timeout: .seconds(15)) == 0)
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
