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

    /// One stream's bytes so far, and whether its end of file has been read.
    final class Buffer: Sendable {
        let state = Mutex((data: Data(), closed: false))
        func append(_ chunk: Data) { state.withLock { $0.data.append(chunk) } }
        func close() { state.withLock { $0.closed = true } }
        var closed: Bool { state.withLock { $0.closed } }
        var text: String { state.withLock { String(decoding: $0.data, as: UTF8.self) } }
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
        // The child inherits the spawning thread's signal mask, and Swift's
        // worker threads block most signals: a child spawned from one
        // ignored SIGTERM until it exited of its own accord. Spawn with an
        // empty mask, then restore this thread's.
        var empty = sigset_t(), saved = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        try process.run()
        // One blocking reader thread per stream, to its end of file.
        // (Foundation's readabilityHandler on Linux was measured here to
        // reorder chunks and to miss the end of file now and then.)
        for (pipe, buffer) in [(stdout, out), (stderr, err)] {
            let handle = pipe.fileHandleForReading
            Thread.detachNewThread {
                // Plain read(2): it returns what has arrived. (FileHandle's
                // read(upToCount:) waits until the count is filled.)
                var bytes = [UInt8](repeating: 0, count: 65_536)
                while true {
                    let n = bytes.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { break }
                    buffer.append(Data(bytes[0..<n]))
                }
                buffer.close()
            }
        }
    }

    public var standardOutput: String { out.text }
    public var standardError: String { err.text }

    /// Polls until `condition` holds or `timeout` passes (`eventually`).
    public func wait(until condition: () -> Bool, timeout: Duration) -> Bool {
        eventually(timeout: timeout, condition)
    }

    /// Waits for exit; if the process outlives `timeout`, sends SIGTERM and,
    /// 5 s later, SIGKILL. Returns the status, nil if it had to be stopped.
    public func waitForExit(timeout: Duration) -> Int32? {
        if !wait(until: { !process.isRunning }, timeout: timeout) {
            process.terminate()
            if !wait(until: { !process.isRunning }, timeout: .seconds(5)) {
                kill(process.processIdentifier, SIGKILL)
            }
            process.waitUntilExit()
            _ = wait(until: { out.closed && err.closed }, timeout: .seconds(2))
            return nil
        }
        process.waitUntilExit()
        // The child has exited, but the reader threads may still be reading
        // what it wrote last (a fixed sleep here once cut a JSON report short on a
        // loaded machine). Wait for both ends of file; a grandchild that keeps
        // a pipe open is given 10 s.
        _ = wait(until: { out.closed && err.closed }, timeout: .seconds(10))
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
