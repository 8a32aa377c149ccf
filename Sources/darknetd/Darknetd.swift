import ArgumentParser
import Daemon

@main
struct Darknetd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "darknetd",
        abstract: "Darknet (network telescope) sensor: capture, decode and aggregate unsolicited traffic.",
        subcommands: [AnalyzeCommand.self, CaptureCommand.self, RunCommand.self, GenerateCommand.self, CheckConfigCommand.self, CheckPrivilegesCommand.self, DbCommand.self, FeedCommand.self, FleetCommand.self]
    )

    /// ArgumentParser's own `main`, after fixing glibc's mmap threshold
    /// (`MemoryPolicy.fixMmapThreshold`: RSS stays flat across bucket closes).
    static func main() async {
        MemoryPolicy.fixMmapThreshold()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
