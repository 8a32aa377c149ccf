// Helpers shared by the test targets that drive the real executables:
// child processes with their output collected, and where the executables are.
import Foundation
import Synchronization

/// A child process with its stdout/stderr collected as they arrive, for
/// tests that drive the real executables.
public final class Subprocess: Sendable {
    public let process: Process
    private let out = Buffer()
    private let err = Buffer()

    final class Buffer: Sendable {
        let data = Mutex(Data())
        func append(_ chunk: Data) { data.withLock { $0.append(chunk) } }
        var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }
    }

    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        self.process = process
        stdout.fileHandleForReading.readabilityHandler = { [out] handle in
            let chunk = handle.availableData
            out.append(chunk)
        }
        stderr.fileHandleForReading.readabilityHandler = { [err] handle in
            let chunk = handle.availableData
            err.append(chunk)
        }
        try process.run()
    }

    public var standardOutput: String { out.text }
    public var standardError: String { err.text }

    /// Polls until `condition` holds or `timeout` passes.
    public func wait(until condition: () -> Bool, timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return condition()
    }

    /// Waits for exit; kills the process if it outlives `timeout`. Returns the status, nil if killed.
    public func waitForExit(timeout: Duration) -> Int32? {
        if !wait(until: { !process.isRunning }, timeout: timeout) {
            process.terminate()
            process.waitUntilExit()
            return nil
        }
        process.waitUntilExit()
        // Let the pipes' handlers deliver the last bytes.
        Thread.sleep(forTimeInterval: 0.1)
        return process.terminationStatus
    }

    /// What `run` returns: the exit status (-1 when killed at the timeout) and both streams.
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// stdout followed by stderr.
        public var output: String { stdout + stderr }
    }

    /// Runs a command to completion (killing it after `timeout`).
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(60),
                           environment: [String: String]? = nil) throws -> Result {
        let child = try Subprocess(executable, arguments, environment: environment)
        let status = child.waitForExit(timeout: timeout) ?? -1
        return Result(status: status, stdout: child.standardOutput, stderr: child.standardError)
    }
}

public enum Executables {
    /// The build folder holding the test bundle also holds the executables.
    public static var buildDirectory: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    }

    public static var darknetd: String { buildDirectory.appendingPathComponent("darknetd").path }
    public static var darknetctl: String { buildDirectory.appendingPathComponent("darknetctl").path }

    /// First path of `name` on the usual system directories.
    public static func system(_ name: String) -> String? {
        for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"] {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}
