import ArgumentParser
import Feed
import Fleet
import Foundation
import Interchange

struct FeedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feed",
        abstract: "External feeds in the fleet database (docs/fleet.md, feed import).",
        subcommands: [FeedImportCommand.self]
    )
}

struct FeedImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Load feed files into the fleet database under a feed name, each file once (docs/fleet.md, feed import)."
    )

    @OptionGroup var database: DatabaseOptions

    @Option(name: .long, help: "The feed the files belong to (feeds.name; 1 to 200 characters).")
    var name: String

    @Option(name: .long, help: "Built-in format: auto, norse, csv, sensor or cowrie (docs/feeds.md). Not with --mapping.")
    var format: String?

    @Option(name: .long, help: "A YAML mapping declaring how to read a JSON-lines or CSV/TSV feed (docs/fleet.md). Not with --format.")
    var mapping: String?

    @Option(name: .long, help: "Time given to lines that carry none (NORSE records, CSV without a time column): ISO 8601 or Unix seconds. Default: when the import starts.")
    var defaultTime: String?

    @Argument(help: "Feed files, imported in the order given, each in its own transaction.")
    var files: [String] = []

    func validate() throws {
        try database.requireDatabase()
        if name.isEmpty || name.count > 200 { throw ValidationError("--name: 1 to 200 characters") }
        if format != nil && mapping != nil { throw ValidationError("give --format or --mapping, not both") }
        if files.isEmpty { throw ValidationError("give at least one feed file") }
        if let defaultTime, FeedTime.nanoseconds(text: defaultTime) == nil {
            throw ValidationError("--default-time: expected an ISO 8601 time or Unix seconds, got \"\(defaultTime)\"")
        }
    }

    func run() async throws {
        let settings = try database.requiredSettings()
        let reading: FeedImportFormat
        if let mapping {
            do {
                reading = .mapping(try FeedMapping.load(path: mapping))
            } catch {
                throw fail(error.description)
            }
        } else {
            do {
                reading = .builtIn(try FeedFormat.named(format ?? "auto"))
            } catch {
                throw fail(error.description)
            }
        }
        let defaultTimeNs = defaultTime.flatMap { FeedTime.nanoseconds(text: $0) } ?? FeedReader.wallClockNs()
        var failed = false
        do {
            try await BucketStore.withStore(settings) { (store: BucketStore) async throws in
                try await store.checkSchema()
                for file in files {
                    do {
                        let result = try await store.importFeed(name: name, path: file, format: reading, defaultTimeNs: defaultTimeNs)
                        print(result.summaryLine)
                    } catch FleetError.feedInput(let message) {
                        // A file that cannot be read is named, and the other files still import.
                        note("feed import: \(message)")
                        failed = true
                    }
                }
            }
        } catch let error as FleetError {
            throw fail(error.description)
        }
        if failed { throw ExitCode(1) }
    }
}
