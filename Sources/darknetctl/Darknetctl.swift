import ArgumentParser

@main
struct Darknetctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "darknetctl",
        abstract: "Query a running darknetd over its local Unix socket."
    )
}
