import Foundation
import Testing
@testable import Configuration

/// The folder of the test bundle, which also holds the built executables.
var buildDirectory: URL {
    URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
}

var builtDarknetd: String { buildDirectory.appendingPathComponent("darknetd").path }

/// A temporary directory removed when the value goes away.
final class ScratchDirectory {
    let path: String
    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("svc-install-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

func mode(_ path: String) -> Int? {
    (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int
}

@Suite struct InstallScriptTests {
    static var script: String { repositoryRoot.appendingPathComponent("scripts/install.sh").path }

    func install(_ arguments: [String]) throws -> (Int32, String) {
        // DESTDIR through the environment, the way packagers pass it.
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "PREFIX")
        if let index = arguments.firstIndex(of: "--env-destdir") {
            environment["DESTDIR"] = arguments[index + 1]
            var rest = arguments
            rest.removeSubrange(index...index + 1)
            return try runProgram("/bin/bash", [Self.script] + rest, environment: environment)
        }
        environment.removeValue(forKey: "DESTDIR")
        return try runProgram("/bin/bash", [Self.script] + arguments, environment: environment)
    }

    @Test func installsEverythingUnderDestdir() throws {
        let dest = ScratchDirectory()
        let (status, output) = try install(["--no-build", "--bin-dir", buildDirectory.path, "--env-destdir", dest.path])
        #expect(status == 0, "\(output)")
        let d = dest.path
        for (path, expectedMode) in [
            ("/usr/local/bin/darknetd", 0o755), ("/usr/local/bin/darknetctl", 0o755),
            ("/etc/systemd/system/darknetd.service", 0o644), ("/usr/lib/sysusers.d/darknetd.conf", 0o644),
            ("/usr/lib/tmpfiles.d/darknetd.conf", 0o644), ("/etc/darknetd/darknetd.yaml", 0o644),
            ("/usr/local/share/doc/darknetd/operations.md", 0o644),
            ("/usr/local/share/doc/darknetd/configuration.md", 0o644),
        ] {
            #expect(mode(d + path) == expectedMode, "\(path)")
        }
        // With the default prefix the unit is installed as shipped.
        #expect(FileManager.default.contentsEqual(atPath: d + "/etc/systemd/system/darknetd.service",
                                                  andPath: SystemdUnitTests.unitPath))
        #expect(FileManager.default.contentsEqual(atPath: d + "/etc/darknetd/darknetd.yaml",
                                                  andPath: ExampleConfigurationTests.examplePath))
        #expect(output.contains("not touching the running system"))
        // The installed binary accepts the installed configuration.
        let (checkStatus, checkOutput) = try runProgram(d + "/usr/local/bin/darknetd",
                                                        ["check-config", "--for-run", d + "/etc/darknetd/darknetd.yaml"])
        #expect(checkStatus == 0, "\(checkOutput)")
        #expect(checkOutput.contains("interfaces: [\"eth1\"]"))
    }

    @Test func keepsAnExistingConfiguration() throws {
        let dest = ScratchDirectory()
        let config = dest.path + "/etc/darknetd/darknetd.yaml"
        try FileManager.default.createDirectory(atPath: dest.path + "/etc/darknetd", withIntermediateDirectories: true)
        try "capture:\n  interfaces: [eno2]\n".write(toFile: config, atomically: true, encoding: .utf8)
        for _ in 0..<2 {
            let (status, output) = try install(["--no-build", "--bin-dir", buildDirectory.path, "--destdir", dest.path])
            #expect(status == 0, "\(output)")
            #expect(output.contains("kept the existing"))
        }
        #expect(try String(contentsOfFile: config, encoding: .utf8) == "capture:\n  interfaces: [eno2]\n")
        #expect(FileManager.default.contentsEqual(atPath: config + ".example", andPath: ExampleConfigurationTests.examplePath))
    }

    @Test func prefixMovesBinariesAndTheUnitFollows() throws {
        let dest = ScratchDirectory()
        let (status, output) = try install(["--no-build", "--bin-dir", buildDirectory.path, "--destdir", dest.path,
                                            "--prefix", "/opt/darknet"])
        #expect(status == 0, "\(output)")
        #expect(FileManager.default.isExecutableFile(atPath: dest.path + "/opt/darknet/bin/darknetd"))
        #expect(!FileManager.default.fileExists(atPath: dest.path + "/usr/local/bin/darknetd"))
        let unit = try String(contentsOfFile: dest.path + "/etc/systemd/system/darknetd.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=/opt/darknet/bin/darknetd run --config /etc/darknetd/darknetd.yaml"))
        #expect(!unit.contains("/usr/local/"))
    }

    @Test func missingBinariesFail() throws {
        let dest = ScratchDirectory()
        let empty = ScratchDirectory()
        let (status, output) = try install(["--no-build", "--bin-dir", empty.path, "--destdir", dest.path])
        #expect(status != 0)
        #expect(output.contains("darknetd is missing"))
        #expect(!FileManager.default.fileExists(atPath: dest.path + "/usr/local/bin/darknetd"))
        let (badStatus, badOutput) = try install(["--bogus"])
        #expect(badStatus == 2, "\(badOutput)")
    }
}

@Suite struct CheckConfigCommandTests {
    @Test func printsTheEffectiveConfiguration() throws {
        let (status, output) = try runProgram(builtDarknetd, ["check-config", ExampleConfigurationTests.examplePath])
        #expect(status == 0, "\(output)")
        let printed = try ConfigurationLoader.load(yaml: output)
        #expect(printed == (try ConfigurationLoader.load(file: ExampleConfigurationTests.examplePath)).withEffectiveRules())
    }

    @Test func reportsEveryProblemWithKeyAndLine() throws {
        let dir = ScratchDirectory()
        let path = dir.path + "/bad.yaml"
        try "capture:\n  snaplen: 1\naggregation:\n  scan:\n    min_destination: 3\n".write(toFile: path, atomically: true, encoding: .utf8)
        let (status, output) = try runProgram(builtDarknetd, ["check-config", path])
        #expect(status == 1)
        #expect(output.contains("\(path): line 2, column 12: capture.snaplen"))
        #expect(output.contains("\(path): line 5, column 5: aggregation.scan.min_destination: unknown key"))
        let empty = dir.path + "/empty.yaml"
        try "".write(toFile: empty, atomically: true, encoding: .utf8)
        #expect(try runProgram(builtDarknetd, ["check-config", empty]).0 == 0)
        let (runStatus, runOutput) = try runProgram(builtDarknetd, ["check-config", "--for-run", "--quiet", empty])
        #expect(runStatus == 1)
        #expect(runOutput.contains("capture.interfaces"))
    }
}
