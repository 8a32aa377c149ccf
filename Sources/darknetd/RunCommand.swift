import ArgumentParser
import Configuration
import Daemon
import Foundation
import Logging

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the sensor as a service: capture, aggregate, alert, serve stats (systemd Type=notify)."
    )

    @Option(name: .long, help: "Configuration file (YAML).")
    var config: String = "/etc/darknetd/darknetd.yaml"

    @Flag(name: .long, help: "Interactive use: human-readable log lines with timestamps on stderr.")
    var foreground = false

    func run() async throws {
        let configuration: SensorConfiguration
        do {
            configuration = try ConfigurationLoader.load(file: config)
        } catch {
            throw fail("\(error)")
        }
        // Logs go to stderr: under systemd that is the journal (journalctl -u darknetd).
        let interactive = foreground
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return interactive ? handler : JournalLogHandler(label: label)
        }
        let logger = Logger(label: "darknetd")
        let daemon = SensorDaemon(configuration: configuration, configurationPath: config, logger: logger)
        do {
            try await daemon.run()
        } catch {
            throw fail("\(error)")
        }
    }
}

/// One line per message on stderr without our own timestamp (the journal adds it).
struct JournalLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    let label: String

    init(label: String) { self.label = label }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        // Newlines in messages would split journal entries: escape them.
        let text = "\(event.level): \(event.message)" + (fields.isEmpty ? "" : " \(fields)")
        FileHandle.standardError.write(Data((text.replacingOccurrences(of: "\n", with: "\\n") + "\n").utf8))
    }
}
