import Foundation
import TestSupport
import Testing

/// The helper every end-to-end test reads its reports through.
@Suite struct SubprocessTests {
    /// Output that reaches the pipe after Foundation has seen the child exit
    /// must be collected: waitForExit returns only at the end of file. The old
    /// fixed 0.1 s sleep lost it, and once, on a loaded CI machine, lost the
    /// tail of a JSON report. To make that late output certain rather than
    /// racy, the child closes every descriptor above 2 (Foundation's own
    /// exit-watch socket among them, which would otherwise keep `isRunning`
    /// true) and leaves a grandchild writing 0.4 s after it has exited.
    @Test func outputWrittenAfterExitIsCollected() throws {
        let bash = try #require(Executables.system("bash"))
        let script = #"for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; "#
            + "(sleep 0.4; echo late; echo late-err >&2) & echo early"
        let result = try Subprocess.run(bash, ["-c", script])
        #expect(result.status == 0)
        #expect(result.stdout == "early\nlate\n")
        #expect(result.stderr == "late-err\n")
    }

    /// Every byte of a large output arrives, in order.
    @Test func largeOutputArrivesWhole() throws {
        let shell = try #require(Executables.system("sh"))
        let result = try Subprocess.run(shell, ["-c", "seq 1 200000"])
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 200_000)
        #expect(lines.last == "200000")
    }

    /// Output is visible while the child still runs (tests wait on a
    /// daemon's log lines this way), and SIGTERM stops a child that does not
    /// handle it (it once arrived blocked, inherited from the test's thread).
    @Test func outputIsVisibleWhileTheChildRuns() throws {
        let shell = try #require(Executables.system("sh"))
        let child = try Subprocess(shell, ["-c", "echo ready; echo also >&2; exec sleep 30"])
        defer { kill(child.process.processIdentifier, SIGKILL) }
        #expect(child.wait(until: { child.standardOutput == "ready\n" && child.standardError == "also\n" }, timeout: .seconds(10)))
        #expect(child.process.isRunning)
        child.process.terminate()
        #expect(child.waitForExit(timeout: .seconds(3)) == SIGTERM)
    }
}
