import Foundation
import TestSupport
import Testing

/// `darknetd run` with `aggregation.threads` shards, inside namespaces the
/// test creates: a generated mix replayed onto a veth must come out of the
/// daemon's merge with the exact figures `analyze` gives for the same file,
/// whatever the number of shards, and every shard's ring counters must add up.
@Suite(.serialized) struct ShardedDaemonTests {
    @Test(.enabled(if: DaemonTests.available, "needs root, iproute2 and tcpreplay"), arguments: [1, 3])
    func shardsMergeToTheFilesExactFigures(threads: Int) throws {
        let net = try VethNamespaces(tag: "s\(threads)")
        defer { net.tearDown() }
        let dir = URL(fileURLWithPath: "/tmp/dns-\(getpid())-\(threads)")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        let capture = dir.appendingPathComponent("mix.pcap").path
        let generated = try Subprocess.run(Executables.darknetd, ["generate", "--out", capture, "--packets", "2000",
                                                                  "--rate", "500", "--seed", "7"])
        #expect(generated.status == 0, "\(generated.output)")
        let prefixes = ["198.18.0.0/16", "2001:db8:dead::/48"]
        let analyzed = try Subprocess.run(Executables.darknetd, ["analyze", "--pcap", capture, "--format", "json", "--geoip", "none"]
                                          + prefixes.flatMap { ["--prefix", $0] })
        #expect(analyzed.status == 0, "\(analyzed.output)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(analyzed.stdout.utf8)) as? [String: Any])
        let sent = try #require((report["packets"] as? [String: Any])?["total"] as? Int)
        let expectedPorts = try #require(report["ports"] as? [[String: Any]]).reduce(into: [String: Int]()) { result, row in
            result["\(row["proto"] ?? "")/\(row["port"] ?? "")"] = row["packets"] as? Int
        }
        #expect(sent == 2000)

        let socket = dir.appendingPathComponent("darknetd.sock").path
        let configPath = dir.appendingPathComponent("darknetd.yaml").path
        try """
        capture:
          interfaces: ["\(net.receiverInterface)"]
          promiscuous: true
          immediate: true
        darknet:
          prefixes: [\(prefixes.map { "\"\($0)\"" }.joined(separator: ", "))]
        aggregation:
          bucket: 1s
          windows: ["60s"]
          threads: \(threads)
        alerts:
          syslog:
            enabled: false
        stats:
          socket: \(socket)
        state:
          directory: \(dir.appendingPathComponent("state").path)
        """.write(toFile: configPath, atomically: true, encoding: .utf8)

        let (exe, args) = net.inNamespace(net.receiver, [Executables.darknetd, "run", "--config", configPath, "--foreground"])
        let daemon = try Subprocess(exe, args)
        defer { if daemon.process.isRunning { daemon.process.terminate() } }
        #expect(daemon.wait(until: { daemon.standardError.contains("darknetd running") }, timeout: .seconds(30)),
                "daemon did not start: \(daemon.standardError)")
        #expect(daemon.standardError.contains("threads=\(threads)"), "\(daemon.standardError)")

        let (replayExe, replayArgs) = net.inNamespace(net.sender, [Executables.system("tcpreplay")!, "-q", "-i", net.senderInterface, capture])
        let replay = try Subprocess(replayExe, replayArgs)
        #expect(replay.waitForExit(timeout: .seconds(60)) == 0, "\(replay.standardError)")

        // Every packet counted, and every 1 s bucket closed and merged (by the wall
        // clock once the shards are idle): the series adds up to the total.
        func query(_ command: String, _ extra: [String] = []) -> [String: Any]? {
            guard let out = try? Subprocess.run(Executables.darknetctl, ["--socket", socket, command, "--json"] + extra),
                  out.status == 0,
                  let object = try? JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any] else { return nil }
            return (object["data"] as? [String: Any]) ?? object
        }
        func seriesTotal() -> Int {
            ((query("series", ["--n", "1000"])?["buckets"] as? [[String: Any]]) ?? []).reduce(0) { $0 + ($1["packets"] as? Int ?? 0) }
        }
        #expect(eventually(timeout: .seconds(20)) { seriesTotal() == sent }, "series adds up to \(seriesTotal()), sent \(sent)")

        let status = try #require(query("status"))
        let packets = try #require(status["packets"] as? [String: Any])
        #expect(packets["total"] as? Int == sent, "\(status)")
        let shards = try #require(status["shards"] as? [[String: Any]], "\(status)")
        #expect(shards.count == threads)
        var shardPackets = 0
        var shardCaptured = 0
        for shard in shards {
            let ring = try #require(shard["ring"] as? [String: Any])
            let captured = ring["captured"] as? Int ?? -1
            #expect(captured == (ring["consumed"] as? Int ?? 0) + (ring["ring_dropped"] as? Int ?? 0) + (ring["in_flight"] as? Int ?? 0))
            #expect(ring["ring_dropped"] as? Int == 0)
            shardPackets += shard["packets"] as? Int ?? 0
            shardCaptured += captured
            // The mix has thousands of sources: with 3 shards each gets some.
            #expect((shard["packets"] as? Int ?? 0) > 0, "\(shards)")
        }
        #expect(shardPackets == sent)
        let interfaces = try #require(status["interfaces"] as? [[String: Any]])
        #expect(((interfaces.first?["ring"] as? [String: Any])?["captured"] as? Int) == shardCaptured)

        // Packets per port are exact after the merge: the same as analyze's, port by port
        // (the tables are copied from the shards once a bucket; wait for the copy after the last one).
        func ports() -> [String: Int] {
            ((query("top-ports", ["--n", "1000"])?["rows"] as? [[String: Any]]) ?? []).reduce(into: [String: Int]()) { result, row in
                result["\(row["proto"] ?? "")/\(row["port"] ?? "")"] = row["packets"] as? Int
            }
        }
        #expect(eventually(timeout: .seconds(10)) { ports() == expectedPorts }, "top-ports \(ports().count) rows vs analyze \(expectedPorts.count)")

        daemon.process.terminate()
        #expect(daemon.waitForExit(timeout: .seconds(15)) == 0, "\(daemon.standardError)")
    }
}
