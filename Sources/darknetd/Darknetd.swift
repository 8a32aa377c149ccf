import ArgumentParser

@main
struct Darknetd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "darknetd",
        abstract: "Darknet (network telescope) sensor: capture, decode and aggregate unsolicited traffic.",
        subcommands: [AnalyzeCommand.self, CaptureCommand.self, RunCommand.self, GenerateCommand.self, CheckConfigCommand.self, CheckPrivilegesCommand.self]
    )
}
