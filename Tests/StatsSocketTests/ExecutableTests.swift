import Foundation
import TestSupport
import Interchange
import Daemon
import Testing

/// The real `darknetctl` and `darknetd check-privileges` binaries, run as subprocesses.
@Suite(.serialized) struct DarknetctlTests {
    @Test func endToEndAgainstATestServer() async throws {
        try await withServer { path, _ in
            let status = try Subprocess.run(Executables.darknetctl, ["--socket", path, "status"])
            #expect(status.status == 0, "\(status.stderr)")
            #expect(status.stdout.contains("state           capturing"), "\(status.stdout)")
            #expect(status.stdout.contains("ring:\n  captured      1000000"), "\(status.stdout)")

            let ports = try Subprocess.run(Executables.darknetctl, ["--socket", path, "top-ports", "--n", "3"])
            #expect(ports.status == 0, "\(ports.stderr)")
            let lines = ports.stdout.split(separator: "\n")
            #expect(lines.contains { $0.hasPrefix("  PROTO  PORT  PACKETS  SOURCES") }, "\(ports.stdout)")
            #expect(lines.filter { $0.hasPrefix("  tcp") || $0.hasPrefix("  udp") }.count == 3, "\(ports.stdout)")
            #expect(lines.contains("count  3"))

            let json = try Subprocess.run(Executables.darknetctl, ["--socket", path, "--json", "stats"])
            #expect(json.status == 0)
            let value = try #require(JSONValue.parse(Data(json.stdout.utf8)))
            #expect(value["ok"] == .bool(true))
            #expect(value["data"]?["packets"]?["total"] == .integer(1_000_000))

            let metrics = try Subprocess.run(Executables.darknetctl, ["--socket", path, "metrics"])
            #expect(metrics.status == 0)
            #expect(metrics.stdout.hasPrefix("# HELP darknet_packets_total Packets captured.\n# TYPE darknet_packets_total counter\n"))

            let unknown = try Subprocess.run(Executables.darknetctl, ["--socket", path, "frobnicate"])
            #expect(unknown.status == 1)
            #expect(unknown.stderr == "darknetctl: frobnicate: unknown command \"frobnicate\"; try \"help\" (unknown-command)\n")
        }
    }

    @Test func missingSocketSaysNotRunning() throws {
        let dir = TempDirectory()
        let path = dir.file("absent.sock")
        let result = try Subprocess.run(Executables.darknetctl, ["--socket", path, "status"])
        #expect(result.status != 0)
        #expect(result.stderr == "darknetctl: darknetd is not running (no socket at \(path))\n")
        #expect(result.stdout.isEmpty)
    }

    @Test(.enabled(if: geteuid() == 0 && Executables.system("setpriv") != nil, "needs root and setpriv to act as another user"))
    func permissionDeniedNamesTheGroup() async throws {
        let dir = TempDirectory()
        let path = dir.file("p.sock")
        let server = StatsServer()
        try await server.start(path: path, mode: 0o660, provider: StaticStatsProvider.sample())
        defer { Task { await server.shutdown() } }
        let result = try Subprocess.run(Executables.system("setpriv")!, [
            "--reuid=65534", "--regid=65534", "--clear-groups", Executables.darknetctl, "--socket", path, "status",
        ])
        await server.shutdown()
        #expect(result.status != 0)
        #expect(result.stderr == "darknetctl: cannot access \(path): permission denied; add your user to the socket's group\n",
                "\(result.stderr)")
    }

    @Test func timeoutIsOneLine() throws {
        // A listener that accepts (backlog) but never answers.
        let dir = TempDirectory()
        let path = dir.file("mute.sock")
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(listen(fd, 4) == 0)
        let result = try Subprocess.run(Executables.darknetctl, ["--socket", path, "--timeout", "0.5", "status"])
        #expect(result.status != 0)
        #expect(result.stderr == "darknetctl: no answer from darknetd at \(path) within 0.5 s\n", "\(result.stderr)")
    }
}

@Suite struct PrivilegeDropTests {
    @Test(.enabled(if: geteuid() == 0, "dropping privileges needs root"))
    func checkPrivilegesDropsToNobody() throws {
        // Loopback traffic while the check reads, so the handle has something to deliver.
        let sender = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(sender) }
        let child = try Subprocess(Executables.darknetd, ["check-privileges", "--user", "nobody", "--interface", "lo"])
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = UInt16(9).bigEndian
        target.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let deadline = Date().addingTimeInterval(15)
        while child.process.isRunning && Date() < deadline {
            _ = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(sender, "probe", 5, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            usleep(20_000)
        }
        let status = child.waitForExit(timeout: .seconds(15))
        #expect(status == 0, "\(child.standardError)")
        let value = try #require(JSONValue.parse(Data(child.standardOutput.utf8)), "\(child.standardOutput)")
        let nobody = try PrivilegeDrop.lookup(user: "nobody")
        let uids = value["status"]?["Uid"]?.arrayValue?.compactMap(\.intValue)
        #expect(uids == Array(repeating: Int(nobody.uid), count: 4))
        #expect(value["status"]?["Gid"]?.arrayValue?.compactMap(\.intValue) == Array(repeating: Int(nobody.gid), count: 4))
        #expect(value["status"]?["CapEff"] == .string("0000000000000000"))
        #expect(value["status"]?["CapPrm"] == .string("0000000000000000"))
        #expect(value["status"]?["CapBnd"] == .string("0000000000000000"))
        #expect(value["can_regain_root"] == .bool(false))
        #expect(value["capture"]?["delivering"] == .bool(true))
        #expect((value["capture"]?["packets"]?.intValue ?? 0) > 0, "no loopback packet read after the drop")
    }

    @Test(.enabled(if: geteuid() == 0, "dropping privileges needs root"))
    func retainedNetRawIsTheOnlyCapability() throws {
        let result = try Subprocess.run(Executables.darknetd, ["check-privileges", "--user", "nobody", "--retain-net-raw", "--seconds", "0.2"])
        #expect(result.status == 0, "\(result.stderr)")
        let value = try #require(JSONValue.parse(Data(result.stdout.utf8)))
        #expect(value["status"]?["CapEff"] == .string("0000000000002000"))
        #expect(value["status"]?["CapPrm"] == .string("0000000000002000"))
        #expect(value["retained_net_raw"] == .bool(true))
    }

    @Test func unknownUserIsNamed() throws {
        let result = try Subprocess.run(Executables.darknetd, ["check-privileges", "--user", "no-such-user-dks", "--seconds", "0.2"])
        #expect(result.status != 0)
        // Without root the capture may fail to open first; either way one line.
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        if geteuid() == 0 {
            #expect(result.stderr == "darknetd: cannot drop privileges to user \"no-such-user-dks\": no such user\n")
        }
        #expect(throws: PrivilegeDropError(user: "no-such-user-dks", message: "no such user")) {
            try PrivilegeDrop.lookup(user: "no-such-user-dks")
        }
    }

    @Test func parsesProcStatus() {
        let text = """
            Name:\tdarknetd
            Uid:\t65534\t65534\t65534\t65534
            Gid:\t65534\t65534\t65534\t65534
            Groups:\t65534 
            CapInh:\t0000000000000000
            CapPrm:\t0000000000002000
            CapEff:\t0000000000002000
            CapBnd:\t000001ffffffffff
            CapAmb:\t0000000000000000
            """
        let status = ProcessStatus(text: text, source: "x")
        #expect(status.uid == [65534, 65534, 65534, 65534])
        #expect(status.groups == [65534])
        #expect(status.effectiveCapabilities == 1 << 13)
        #expect(status.boundingCapabilities == 0x1ff_ffff_ffff)
    }
}
