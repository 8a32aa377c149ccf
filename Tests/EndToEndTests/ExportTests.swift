import Foundation
import Synchronization
import TestSupport
import Testing

/// `darknetd run` exporting to a real PostgreSQL (docs/fleet.md, "Live export"):
/// the daemon captures in a network namespace the test creates, the server runs
/// in the same namespace (so the daemon reaches it on 127.0.0.1), traffic is a
/// generated capture replayed with tcpreplay, 1 s buckets. What the database
/// holds is compared bucket by bucket with what the daemon closed (its series).
/// `DARKNET_DB_OUTAGE_SECONDS` lengthens the outages (default 8 s; the issue's minute: 60).
@Suite(.serialized) struct ExportTests {
    static var available: Bool { DaemonTests.available && PostgresServer.unavailableReason == nil }
    static var outage: Duration {
        .seconds(Int(ProcessInfo.processInfo.environment["DARKNET_DB_OUTAGE_SECONDS"] ?? "") ?? 8)
    }

    /// One test's namespaces, directory, optional server and daemon configuration.
    final class Rig {
        let net: VethNamespaces
        let dir: URL
        let server: PostgresServer?
        let socket: String
        let configPath: String
        let capture: String
        let replayPackets: Int

        /// - Parameters:
        ///   - database: start a server and migrate `fleet`; else `url` names a port where nothing listens.
        ///   - seconds, rate: the replayed capture's length and packets a second.
        ///   - externalURL: without `database`, the URL of a server the test runs elsewhere.
        init(tag: String, database: Bool, passwordFile: String? = nil, spoolMiB: String = "256",
             seconds: Int, rate: Int, externalURL: String? = nil, sensor: String = "e2e") throws {
            net = try VethNamespaces(tag: tag)
            dir = URL(fileURLWithPath: "/tmp/dnx-\(tag)-\(getpid())")
            try? FileManager.default.removeItem(at: dir)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            socket = dir.appendingPathComponent("darknetd.sock").path
            configPath = dir.appendingPathComponent("darknetd.yaml").path
            capture = dir.appendingPathComponent("replay.pcap").path
            replayPackets = seconds * rate
            let generated = try Subprocess.run(Executables.darknetd, ["generate", "--out", capture, "--packets", "\(replayPackets)",
                                                                      "--rate", "\(rate)", "--seed", "14"])
            guard generated.status == 0 else { throw PostgresServer.Failure(description: "generate: \(generated.output)") }
            let url: String
            if database {
                let server = try PostgresServer.start(namespace: net.receiver)
                self.server = server
                try server.createDatabase("fleet")
                url = server.url("fleet")
                let (exe, args) = net.inNamespace(net.receiver, [Executables.darknetd, "db", "migrate", "--db", url,
                                                                 "--db-password-file", server.passwordFile])
                let migrated = try Subprocess.run(exe, args)
                guard migrated.status == 0 else { throw PostgresServer.Failure(description: "migrate: \(migrated.output)") }
            } else {
                server = nil
                url = try externalURL ?? "postgres://sensor@127.0.0.1:\(PostgresServer.freePort())/fleet"
            }
            let password = passwordFile ?? server?.passwordFile
            try """
            capture:
              interfaces: ["\(net.receiverInterface)"]
              promiscuous: true
              immediate: true
            darknet:
              prefixes: ["198.18.0.0/16", "2001:db8:dead::/48"]
            aggregation:
              bucket: 1s
              windows: ["600s"]
            alerts:
              syslog:
                enabled: false
            stats:
              socket: \(socket)
            state:
              directory: \(dir.appendingPathComponent("state").path)
              snapshot_interval: 1h
            export:
              database:
                url: \(url)
                password_file: \(password.map { "\"\($0)\"" } ?? "null")
                sensor: \(sensor)
                spool_max_mib: \(spoolMiB)
                retry_max_backoff: 1s
            """.write(toFile: configPath, atomically: true, encoding: .utf8)
        }

        func startDaemon() throws -> Subprocess {
            let (exe, args) = net.inNamespace(net.receiver, [Executables.darknetd, "run", "--config", configPath, "--foreground"])
            let daemon = try Subprocess(exe, args)
            guard daemon.wait(until: { daemon.standardError.contains("darknetd running") || !daemon.process.isRunning },
                              timeout: .seconds(30)), daemon.process.isRunning else {
                throw PostgresServer.Failure(description: "daemon did not start: \(daemon.standardError)")
            }
            return daemon
        }

        /// tcpreplay of the capture, running.
        func replay() throws -> Subprocess {
            let (exe, args) = net.inNamespace(net.sender, [Executables.system("tcpreplay")!, "-q", "-i", net.senderInterface, capture])
            return try Subprocess(exe, args)
        }

        func query(_ command: String, _ extra: [String] = []) -> [String: Any]? {
            guard let out = try? Subprocess.run(Executables.darknetctl, ["--socket", socket, command, "--json"] + extra),
                  out.status == 0,
                  let object = try? JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any] else { return nil }
            return (object["data"] as? [String: Any]) ?? object
        }

        /// The daemon's closed buckets: second (UTC, `YYYY-MM-DDTHH:MM:SS`) → packets.
        func series() -> [String: Int] {
            ((query("series", ["--n", "1000"])?["buckets"] as? [[String: Any]]) ?? []).reduce(into: [String: Int]()) { result, bucket in
                if let start = bucket["start"] as? String { result[String(start.prefix(19))] = bucket["packets"] as? Int ?? -1 }
            }
        }

        func export() -> [String: Any] { (query("status")?["export"] as? [String: Any]) ?? [:] }

        /// The buckets in the database: second → packets.
        func stored() throws -> [String: Int] {
            guard let server else { return [:] }
            let rows = try server.psql("fleet", """
                SELECT to_char(bucket_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS'), packets FROM buckets ORDER BY 1
                """)
            return rows.reduce(into: [String: Int]()) { result, row in
                let parts = row.split(separator: "|")
                result[String(parts[0])] = Int(parts[1]) ?? -1
            }
        }

        func tearDown() {
            server?.stop()
            net.tearDown()
            try? FileManager.default.removeItem(at: dir)
        }
    }

    static func int(_ object: [String: Any], _ key: String) -> Int { object[key] as? Int ?? -1 }

    /// The spool's counters add up (docs/fleet.md): recovered + spooled = committed + dropped + corrupt + rejected + waiting.
    static func countersAddUp(_ e: [String: Any]) -> Bool {
        int(e, "recovered_entries") + int(e, "spooled_entries")
            == int(e, "committed_entries") + int(e, "dropped_entries") + int(e, "corrupt_entries") + int(e, "rejected_entries")
            + int(e, "spool_entries")
    }

    static func count(_ text: String, _ needle: String) -> Int { text.components(separatedBy: needle).count - 1 }

    @Test(.enabled(if: ExportTests.available, "needs root, iproute2, tcpreplay and PostgreSQL"))
    func everyBucketArrivesOnceThroughADatabaseOutage() throws {
        let rig = try Rig(tag: "o", database: true, seconds: 16 + Int(Self.outage.components.seconds), rate: 100)
        defer { rig.tearDown() }
        let server = try #require(rig.server)
        let daemon = try rig.startDaemon()
        defer { if daemon.process.isRunning { daemon.process.terminate() } }
        let replay = try rig.replay()

        // Buckets flow while the database is up.
        #expect(eventually(timeout: .seconds(20)) { ((try? rig.stored().count) ?? 0) >= 3 }, "\(daemon.standardError)")
        #expect(rig.export()["state"] as? String == "writing")
        server.stopProcess()
        let stopped = ContinuousClock.now
        // The daemon keeps capturing and spooling; the export says what is wrong.
        #expect(eventually(timeout: .seconds(15)) { Self.int(rig.export(), "spool_entries") >= 3 }, "\(rig.export())")
        let failing = rig.export()
        #expect(failing["state"] as? String == "failing", "\(failing)")
        #expect((failing["last_error"] as? String ?? "").contains("cannot reach the database"), "\(failing)")
        let remaining = Self.outage - (ContinuousClock.now - stopped)
        if remaining > .zero { Thread.sleep(forTimeInterval: Double(remaining.components.seconds) + Double(remaining.components.attoseconds) / 1e18) }
        let backlog = Self.int(rig.export(), "spool_entries")
        try server.restart()
        let restarted = ContinuousClock.now
        #expect(eventually(timeout: .seconds(30)) { Self.int(rig.export(), "spool_entries") == 0 }, "\(rig.export())")
        let drained = ContinuousClock.now - restarted
        print("export drain: \(backlog) entries spooled during a \(Self.outage) outage, written \(drained) after the server's restart (includes up to 1 s of backoff)")

        #expect(replay.waitForExit(timeout: .seconds(120)) == 0, "\(replay.standardError)")
        #expect(eventually(timeout: .seconds(20)) {
            rig.series().values.reduce(0, +) == rig.replayPackets && Self.int(rig.export(), "spool_entries") == 0
        }, "series \(rig.series().values.reduce(0, +)) of \(rig.replayPackets); \(rig.export())")
        // Exactly the daemon's buckets: no gap, no duplicate (the primary key forbids one; the counts confirm it).
        let series = rig.series()
        let stored = try rig.stored()
        #expect(stored == series, "database \(stored.count) buckets, daemon \(series.count)")
        #expect(stored.values.reduce(0, +) == rig.replayPackets)
        let e = rig.export()
        #expect(Self.countersAddUp(e), "\(e)")
        #expect(Self.int(e, "buckets_written") == series.count && Self.int(e, "committed_entries") == Self.int(e, "spooled_entries"), "\(e)")
        #expect(Self.int(e, "dropped_entries") == 0 && Self.int(e, "buckets_already_stored") == 0, "\(e)")
        #expect(Self.int(e, "failures") >= 1 && e["state"] as? String == "writing" && e["last_success"] is String, "\(e)")
        #expect(Self.int(e, "spool_write_failures") == 0)
        print("export spool append: last \(e["last_append_seconds"] ?? "?") s, longest \(e["max_append_seconds"] ?? "?") s; last transaction \(e["last_write_seconds"] ?? "?") s")
        // One line when it failed, one when it recovered: not one per retry.
        let log = daemon.standardError
        #expect(Self.count(log, "export: cannot write to the fleet database") == 1, "\(log)")
        #expect(Self.count(log, "export: writing to postgres://") == 1, "\(log)")
        #expect(!log.contains(server.password) && !(rig.query("status").map { "\($0)" } ?? "").contains(server.password))
        let metrics = (rig.query("metrics")?["text"] as? String) ?? ""
        #expect(metrics.contains("\ndarknet_export_buckets_written_total \(series.count)\n"), "\(metrics)")
        #expect(metrics.contains("\ndarknet_export_up 1\n"))

        daemon.process.terminate()
        #expect(daemon.waitForExit(timeout: .seconds(20)) == 0, "\(daemon.standardError)")
    }

    @Test(.enabled(if: ExportTests.available, "needs root, iproute2, tcpreplay and PostgreSQL"))
    func killNineDuringABacklogAndWhileFlushingLosesAndRepeatsNothing() throws {
        let rig = try Rig(tag: "k", database: true, seconds: 6, rate: 100)
        defer { rig.tearDown() }
        let server = try #require(rig.server)
        func replayAndWait(_ daemon: Subprocess, total: Int) throws {
            let replay = try rig.replay()
            #expect(replay.waitForExit(timeout: .seconds(60)) == 0, "\(replay.standardError)")
            #expect(eventually(timeout: .seconds(20)) { rig.series().values.reduce(0, +) == total },
                    "series \(rig.series().values.reduce(0, +)) of \(total): \(daemon.standardError)")
        }

        // A: one replay written, a second spooled while the database is down; then SIGKILL.
        let a = try rig.startDaemon()
        defer { if a.process.isRunning { kill(a.process.processIdentifier, SIGKILL) } }
        try replayAndWait(a, total: rig.replayPackets)
        #expect(eventually(timeout: .seconds(20)) { Self.int(rig.export(), "spool_entries") == 0 })
        let before = try rig.stored().count
        server.stopProcess()
        try replayAndWait(a, total: 2 * rig.replayPackets)
        let seriesA = rig.series()
        let backlogA = Self.int(rig.export(), "spool_entries")
        #expect(backlogA >= 5, "\(rig.export())")
        kill(a.process.processIdentifier, SIGKILL)
        #expect(a.waitForExit(timeout: .seconds(10)) != 0)

        // B, same state directory, database still down: it finds A's backlog and adds its own.
        let b = try rig.startDaemon()
        defer { if b.process.isRunning { kill(b.process.processIdentifier, SIGKILL) } }
        #expect(Self.int(rig.export(), "recovered_entries") == backlogA, "\(rig.export())")
        try replayAndWait(b, total: rig.replayPackets)
        let seriesB = rig.series()
        #expect(eventually(timeout: .seconds(10)) { Self.int(rig.export(), "spool_entries") == backlogA + seriesB.count }, "\(rig.export())")
        // The database returns; B is killed as soon as the first backlog rows have landed.
        try server.restart()
        #expect(eventually(timeout: .seconds(20)) { ((try? rig.stored().count) ?? 0) > before })
        kill(b.process.processIdentifier, SIGKILL)
        #expect(b.waitForExit(timeout: .seconds(10)) != 0)
        let landedBeforeKill = try rig.stored().count - before

        // C drains the rest.
        let c = try rig.startDaemon()
        defer { if c.process.isRunning { c.process.terminate() } }
        #expect(eventually(timeout: .seconds(30)) { Self.int(rig.export(), "spool_entries") == 0 }, "\(rig.export())")
        let e = rig.export()
        #expect(Self.countersAddUp(e), "\(e)")
        #expect(Self.int(e, "corrupt_entries") == 0 && Self.int(e, "dropped_entries") == 0, "\(e)")
        let expected = seriesA.merging(seriesB) { _, _ in -1 }
        #expect(expected.count == seriesA.count + seriesB.count, "A's and B's buckets are distinct seconds")
        let stored = try rig.stored()
        #expect(stored == expected, "database \(stored.count) buckets, daemons \(expected.count)")
        #expect(stored.values.reduce(0, +) == 3 * rig.replayPackets)
        print("export kill -9: A left \(backlogA) entries, B \(backlogA + seriesB.count); \(landedBeforeKill) landed before B's SIGKILL; C recovered \(Self.int(e, "recovered_entries")), rewrote \(Self.int(e, "buckets_already_stored")) already stored")
        c.process.terminate()
        #expect(c.waitForExit(timeout: .seconds(20)) == 0, "\(c.standardError)")
    }

    @Test(.enabled(if: ExportTests.available, "needs root, iproute2, tcpreplay and PostgreSQL"))
    func aWrongPasswordIsReportedWhileCaptureGoesOnAndTheSpoolGrows() throws {
        let wrong = FileManager.default.temporaryDirectory.appendingPathComponent("darknetd-wrong-\(getpid())").path
        try "not-the-password\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: wrong) }
        let rig = try Rig(tag: "w", database: true, passwordFile: wrong, seconds: 5, rate: 100)
        defer { rig.tearDown() }
        let daemon = try rig.startDaemon()
        defer { if daemon.process.isRunning { daemon.process.terminate() } }
        let replay = try rig.replay()
        #expect(replay.waitForExit(timeout: .seconds(60)) == 0)
        #expect(eventually(timeout: .seconds(20)) { rig.series().values.reduce(0, +) == rig.replayPackets }, "\(daemon.standardError)")
        let buckets = rig.series().count
        #expect(eventually(timeout: .seconds(10)) { Self.int(rig.export(), "spool_entries") == buckets }, "\(rig.export())")
        let e = rig.export()
        #expect(e["state"] as? String == "failing")
        let error = e["last_error"] as? String ?? ""
        #expect(error.contains("authentication failed for user \"fleetadmin\""), "\(e)")
        #expect(Self.int(e, "buckets_written") == 0 && Self.int(e, "failures") >= 2, "\(e)")
        #expect(e["last_success"] is NSNull, "\(e)")
        #expect((rig.query("status")?["packets"] as? [String: Any])?["total"] as? Int == rig.replayPackets)
        #expect(try rig.stored().isEmpty)
        let log = daemon.standardError
        #expect(Self.count(log, "export: cannot write to the fleet database") == 1, "\(log)")
        #expect(log.contains("authentication failed"))
        #expect(!log.contains("not-the-password") && !error.contains("not-the-password"))
        daemon.process.terminate()
        #expect(daemon.waitForExit(timeout: .seconds(20)) == 0, "\(daemon.standardError)")
        // The buckets are still spooled for the next start.
        let files = try FileManager.default.contentsOfDirectory(atPath: rig.dir.appendingPathComponent("state/spool").path)
        #expect(files.filter { $0.hasSuffix(".entry") }.count == buckets)
    }

    @Test(.enabled(if: DaemonTests.available, "needs root, iproute2 and tcpreplay"))
    func aFullSpoolDropsTheOldestAndCountsThem() throws {
        // About 20 kB: two or three 1 s buckets of this traffic; nothing listens at the URL.
        let rig = try Rig(tag: "b", database: false, spoolMiB: "0.02", seconds: 8, rate: 100)
        defer { rig.tearDown() }
        let daemon = try rig.startDaemon()
        defer { if daemon.process.isRunning { daemon.process.terminate() } }
        let replay = try rig.replay()
        #expect(replay.waitForExit(timeout: .seconds(60)) == 0)
        #expect(eventually(timeout: .seconds(20)) { rig.series().values.reduce(0, +) == rig.replayPackets }, "\(daemon.standardError)")
        let buckets = rig.series().count
        #expect(eventually(timeout: .seconds(10)) { Self.int(rig.export(), "spooled_entries") == buckets }, "\(rig.export())")
        let e = rig.export()
        let kept = Self.int(e, "spool_entries"), dropped = Self.int(e, "dropped_entries")
        #expect(kept >= 1 && kept <= 4 && dropped == buckets - kept, "\(e)")
        #expect(Self.countersAddUp(e), "\(e)")
        #expect(Self.int(e, "spool_max_bytes") == 20_971)
        #expect((e["last_error"] as? String ?? "").contains("Connection refused"), "\(e)")
        let files = try FileManager.default.contentsOfDirectory(atPath: rig.dir.appendingPathComponent("state/spool").path)
        #expect(files.filter { $0.hasSuffix(".entry") }.count == kept)
        #expect(daemon.standardError.contains("export: spool full (20971 bytes): dropped the"), "\(daemon.standardError)")
        daemon.process.terminate()
        #expect(daemon.waitForExit(timeout: .seconds(20)) == 0, "\(daemon.standardError)")
    }

    /// Two daemons, each capturing in namespaces of its own, export to one
    /// PostgreSQL that runs in a third namespace, each over a veth link of its
    /// own (198.19.1.0/30 and 198.19.2.0/30, RFC 2544 addresses that exist only
    /// in these namespaces): each sensor's rows are exactly its own daemon's
    /// buckets, and neither disturbs the other.
    @Test(.enabled(if: ExportTests.available, "needs root, iproute2, tcpreplay and PostgreSQL"))
    func twoDaemonsInTheirOwnNamespacesWriteToOneDatabase() throws {
        let ip = try #require(Executables.system("ip"))
        let suffix = "\(getpid() % 100_000)"
        let dbNamespace = "dnd-\(suffix)"
        func run(_ arguments: [String]) throws {
            let result = try Subprocess.run(ip, arguments)
            if result.status != 0 { throw PostgresServer.Failure(description: "ip \(arguments.joined(separator: " ")): \(result.output)") }
        }
        _ = try? Subprocess.run(ip, ["netns", "del", dbNamespace])
        try run(["netns", "add", dbNamespace])
        defer { _ = try? Subprocess.run(ip, ["netns", "del", dbNamespace]) }
        // The database's ends of the two links, addressed before the server binds them.
        for (link, net) in [("a", 1), ("b", 2)] {
            try run(["link", "add", "dd\(link)\(suffix)", "type", "veth", "peer", "name", "dp\(link)\(suffix)"])
            try run(["link", "set", "dd\(link)\(suffix)", "netns", dbNamespace])
            try run(["-n", dbNamespace, "addr", "add", "198.19.\(net).1/30", "dev", "dd\(link)\(suffix)"])
            try run(["-n", dbNamespace, "link", "set", "dd\(link)\(suffix)", "up"])
        }
        try run(["-n", dbNamespace, "link", "set", "lo", "up"])
        let server = try PostgresServer.start(namespace: dbNamespace, extraListen: ["198.19.1.1", "198.19.2.1"], extraClients: ["198.19.0.0/16"])
        defer { server.stop() }
        try server.createDatabase("fleet")
        let migrate = try Subprocess.run(ip, ["netns", "exec", dbNamespace, Executables.darknetd, "db", "migrate",
                                              "--db", server.url("fleet"), "--db-password-file", server.passwordFile])
        #expect(migrate.status == 0, "\(migrate.output)")

        let a = try Rig(tag: "a", database: false, passwordFile: server.passwordFile, seconds: 8, rate: 100,
                        externalURL: server.url("fleet", host: "198.19.1.1"), sensor: "sensor-a")
        defer { a.tearDown() }
        let b = try Rig(tag: "b", database: false, passwordFile: server.passwordFile, seconds: 8, rate: 100,
                        externalURL: server.url("fleet", host: "198.19.2.1"), sensor: "sensor-b")
        defer { b.tearDown() }
        // Each daemon's end of its link, in its own capture namespace.
        for (rig, link, net) in [(a, "a", 1), (b, "b", 2)] {
            try run(["link", "set", "dp\(link)\(suffix)", "netns", rig.net.receiver])
            try run(["-n", rig.net.receiver, "addr", "add", "198.19.\(net).2/30", "dev", "dp\(link)\(suffix)"])
            try run(["-n", rig.net.receiver, "link", "set", "dp\(link)\(suffix)", "up"])
        }

        let daemonA = try a.startDaemon()
        defer { if daemonA.process.isRunning { daemonA.process.terminate() } }
        let daemonB = try b.startDaemon()
        defer { if daemonB.process.isRunning { daemonB.process.terminate() } }
        let replayA = try a.replay()
        let replayB = try b.replay()
        #expect(replayA.waitForExit(timeout: .seconds(60)) == 0, "\(replayA.standardError)")
        #expect(replayB.waitForExit(timeout: .seconds(60)) == 0, "\(replayB.standardError)")
        for (rig, daemon) in [(a, daemonA), (b, daemonB)] {
            #expect(eventually(timeout: .seconds(30)) {
                rig.series().values.reduce(0, +) == rig.replayPackets && Self.int(rig.export(), "spool_entries") == 0
                    && Self.int(rig.export(), "buckets_written") == rig.series().count
            }, "series \(rig.series().values.reduce(0, +)) of \(rig.replayPackets); \(rig.export()); \(daemon.standardError)")
        }

        func stored(_ sensor: String) throws -> [String: Int] {
            let rows = try server.psql("fleet", """
                SELECT to_char(b.bucket_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS'), b.packets
                FROM buckets b JOIN sensors s USING (sensor_id) WHERE s.name = '\(sensor)' ORDER BY 1
                """)
            return rows.reduce(into: [String: Int]()) { result, row in
                let parts = row.split(separator: "|")
                result[String(parts[0])] = Int(parts[1]) ?? -1
            }
        }
        let seriesA = a.series(), seriesB = b.series()
        let storedA = try stored("sensor-a"), storedB = try stored("sensor-b")
        #expect(!seriesA.isEmpty && storedA == seriesA, "sensor-a: database \(storedA.count) buckets, daemon \(seriesA.count)")
        #expect(!seriesB.isEmpty && storedB == seriesB, "sensor-b: database \(storedB.count) buckets, daemon \(seriesB.count)")
        #expect(storedA.values.reduce(0, +) == a.replayPackets && storedB.values.reduce(0, +) == b.replayPackets)
        let total = try server.psql("fleet", "SELECT count(*) FROM buckets")
        #expect(total == ["\(seriesA.count + seriesB.count)"])
        for rig in [a, b] {
            let e = rig.export()
            #expect(Self.countersAddUp(e) && Self.int(e, "failures") == 0 && e["state"] as? String == "writing", "\(e)")
        }
        daemonA.process.terminate()
        daemonB.process.terminate()
        #expect(daemonA.waitForExit(timeout: .seconds(20)) == 0, "\(daemonA.standardError)")
        #expect(daemonB.waitForExit(timeout: .seconds(20)) == 0, "\(daemonB.standardError)")
    }
}
