import ArgumentParser
import Foundation
import Interchange
import Fleet

/// `--db URL` and `--db-password-file FILE`, shared by `db migrate` and `analyze`.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: "Fleet database: postgres://USER@HOST[:PORT]/DATABASE[?sslmode=disable|require|verify-full[&sslrootcert=FILE]] (no password here).")
    var db: String?

    @Option(name: .long, help: "File holding the database password (default: the systemd credential db-password in $CREDENTIALS_DIRECTORY, if any).")
    var dbPasswordFile: String?

    static let missing = ValidationError("give the database with --db postgres://USER@HOST/DATABASE")

    /// For commands that cannot run without a database (`validate`).
    func requireDatabase() throws {
        if db == nil { throw Self.missing }
    }

    /// `settings()` for commands that cannot run without a database.
    func requiredSettings() throws -> ConnectionSettings {
        guard let settings = try settings() else { throw Self.missing }
        return settings
    }

    /// The parsed URL with its password, or nil without --db.
    func settings() throws -> ConnectionSettings? {
        guard let db else {
            if dbPasswordFile != nil { throw ValidationError("--db-password-file needs --db") }
            return nil
        }
        do {
            var settings = try ConnectionSettings(url: db)
            settings.password = try PasswordSource.read(file: dbPasswordFile)
            return settings
        } catch {
            throw fail(error.description)
        }
    }
}

struct DbCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "The fleet database (PostgreSQL): schema migrations and retention (docs/fleet.md).",
        subcommands: [DbMigrateCommand.self, DbPruneCommand.self]
    )
}

struct DbMigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the fleet schema's migrations that the database lacks, in order (safe to run again, and from two sensors at once)."
    )

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        try database.requireDatabase()
    }

    func run() async throws {
        let settings = try database.requiredSettings()
        do {
            let store = try await BucketStore.connect(settings)
            do {
                let applied = try await store.migrate()
                await store.close()
                if applied.isEmpty {
                    print("db migrate: \(settings.redactedURL) already at version \(Migrations.latestVersion)")
                } else {
                    print("db migrate: applied \(applied.map { "\($0)" }.joined(separator: ", ")) to \(settings.redactedURL); now at version \(Migrations.latestVersion)")
                }
            } catch {
                await store.close()
                throw error
            }
        } catch let error as FleetError {
            throw fail(error.description)
        }
    }
}

struct DbPruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Drop whole UTC days of buckets, alerts and feed events older than a date (the tables' owner only; docs/fleet.md, Retention)."
    )

    @OptionGroup var database: DatabaseOptions

    @Option(name: .long, help: "Drop every day before this UTC date (YYYY-MM-DD).")
    var before: String?

    @Option(name: .long, help: "Keep this many UTC days, today included; drop the days before them.")
    var keepDays: Int?

    func validate() throws {
        try database.requireDatabase()
        if (before == nil) == (keepDays == nil) { throw ValidationError("give exactly one of --before YYYY-MM-DD and --keep-days N") }
        if let keepDays, keepDays < 1 { throw ValidationError("--keep-days must be at least 1 (today)") }
        if let before, FleetReportCommand.parseUTCDate(before) == nil { throw ValidationError("--before \(before): not a date (YYYY-MM-DD)") }
    }

    func run() async throws {
        let settings = try database.requiredSettings()
        let cutoff: Int64
        if let before, let midnight = FleetReportCommand.parseUTCDate(before) {
            cutoff = midnight
        } else {
            let today = Int64(Date().timeIntervalSince1970) / 86_400 * 86_400
            cutoff = today - Int64((keepDays ?? 1) - 1) * 86_400
        }
        do {
            let dropped = try await BucketStore.withStore(settings) { store in
                try await store.checkSchema()
                return try await store.dropPartitions(before: Date(timeIntervalSince1970: Double(cutoff)))
            }
            let day = RFC3339.formatDate(seconds: cutoff)
            let days = Set(dropped.compactMap { $0.split(separator: "_").last.map(String.init) })
            print("db prune: dropped \(dropped.count) partitions (\(days.count) days) before \(day) in \(settings.redactedURL)")
        } catch let error as FleetError {
            throw fail(error.description)
        }
    }
}
