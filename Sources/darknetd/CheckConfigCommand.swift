import ArgumentParser
import Configuration
import Foundation

/// `darknetd check-config FILE`: loads the configuration as `run` would and
/// prints the effective configuration, or every problem with its key and line.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a configuration file and print the effective configuration (defaults filled in)."
    )

    @Argument(help: "The configuration file (YAML), e.g. /etc/darknetd/darknetd.yaml.")
    var file: String

    @Flag(name: .long, help: "Also require what `run` needs (an interface, absolute paths).")
    var forRun = false

    @Flag(name: .long, help: "Print nothing when the file is valid.")
    var quiet = false

    func run() throws {
        do throws(ConfigurationError) {
            let config = try ConfigurationLoader.load(file: file)
            if forRun {
                do {
                    try config.validateForRun()
                } catch {
                    throw ConfigurationError(source: file, issues: error.issues)
                }
            }
            if !quiet { print(config.effectiveYAML(), terminator: "") }
        } catch {
            for line in error.description.split(separator: "\n") { note(String(line)) }
            throw ExitCode(1)
        }
    }
}
