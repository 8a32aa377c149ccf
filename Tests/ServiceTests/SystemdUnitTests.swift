import Foundation
import Testing

/// Runs a program to completion, returning its exit status and combined output.
func runProgram(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("svc-run-\(UUID().uuidString).out")
    _ = FileManager.default.createFile(atPath: output.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: output) }
    let handle = try FileHandle(forWritingTo: output)
    process.standardOutput = handle
    process.standardError = handle
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    try handle.close()
    return (process.terminationStatus, String(decoding: try Data(contentsOf: output), as: UTF8.self))
}

/// The first executable of that name on the usual system paths.
func systemTool(_ name: String) -> String? {
    ["/usr/bin/", "/bin/", "/usr/sbin/", "/sbin/", "/usr/local/bin/"].map { $0 + name }
        .first { FileManager.default.isExecutableFile(atPath: $0) }
}

@Suite struct SystemdUnitTests {
    static var unitPath: String { repositoryRoot.appendingPathComponent("systemd/darknetd.service").path }

    static func settings() throws -> [(String, String)] {
        try String(contentsOfFile: unitPath, encoding: .utf8).split(separator: "\n")
            .filter { !$0.hasPrefix("#") && !$0.hasPrefix("[") && $0.contains("=") }
            .map { line in
                let parts = line.split(separator: "=", maxSplits: 1)
                return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
            }
    }

    /// "Overall exposure level for darknetd.service: 1.4 OK" → 1.4
    static func exposure(_ output: String) -> Double? {
        guard let line = output.split(separator: "\n").last(where: { $0.contains("Overall exposure level") }),
              let figure = line.split(separator: ":").last?.split(separator: " ").first else { return nil }
        return Double(figure)
    }

    @Test func exposureParser() {
        #expect(Self.exposure("x\n→ Overall exposure level for darknetd.service: 1.4 OK 🙂\n") == 1.4)
        #expect(Self.exposure("no figure") == nil)
    }

    @Test(.enabled(if: systemTool("systemd-analyze") != nil, "systemd-analyze is not installed"))
    func offlineSecurityExposureIsAtMost1_5() throws {
        let (status, output) = try runProgram(systemTool("systemd-analyze")!, ["security", "--offline=true", "--no-pager", Self.unitPath])
        let figure = try #require(Self.exposure(output), "no exposure figure in:\n\(output)")
        #expect(figure <= 1.5, "\(output)")
        #expect(status == 0, "\(output)")
    }

    /// The settings the brief relies on are there, and the one that would
    /// break capture is not.
    @Test func essentialSettings() throws {
        let settings = try Self.settings()
        func value(_ key: String) -> [String] { settings.filter { $0.0 == key }.map(\.1) }
        #expect(value("Type") == ["notify"])
        #expect(value("ExecStart") == ["/usr/local/bin/darknetd run --config /etc/darknetd/darknetd.yaml"])
        #expect(value("ExecReload") == ["/bin/kill -HUP $MAINPID"])
        #expect(value("WatchdogSec") == ["30"])
        #expect(value("User") == ["darknetd"] && value("Group") == ["darknetd"])
        #expect(value("AmbientCapabilities") == ["CAP_NET_RAW"] && value("CapabilityBoundingSet") == ["CAP_NET_RAW"])
        #expect(value("RestrictAddressFamilies") == ["AF_UNIX AF_PACKET AF_NETLINK"])
        #expect(value("SystemCallFilter") == ["@system-service", "~@privileged @resources"])
        #expect(value("PrivateUsers").isEmpty, "PrivateUsers= would take CAP_NET_RAW away from the host's interfaces")
        #expect(value("PrivateNetwork").isEmpty, "PrivateNetwork= would hide the darknet interface")
        #expect(value("RuntimeDirectory") == ["darknetd"] && value("RuntimeDirectoryMode") == ["0750"])
        #expect(value("StateDirectory") == ["darknetd"] && value("UMask") == ["0077"])
    }

    @Test func sysusersAndTmpfiles() throws {
        let sysusers = try String(contentsOf: repositoryRoot.appendingPathComponent("systemd/darknetd.sysusers"), encoding: .utf8)
        #expect(sysusers.split(separator: "\n").contains("u darknetd - \"darknet sensor\" /var/lib/darknetd"))
        let tmpfiles = try String(contentsOf: repositoryRoot.appendingPathComponent("systemd/darknetd.tmpfiles"), encoding: .utf8)
        #expect(tmpfiles.split(separator: "\n").contains("d /run/darknetd 0750 darknetd darknetd -"))
    }
}
