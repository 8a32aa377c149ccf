import ArgumentParser
import Fleet

/// `--db URL` and `--db-password-file FILE`, shared by `db migrate` and `analyze`.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: "Fleet database: postgres://USER@HOST[:PORT]/DATABASE[?sslmode=disable|require|verify-full[&sslrootcert=FILE]] (no password here).")
    var db: String?

    @Option(name: .long, help: "File holding the database password (default: the systemd credential db-password in $CREDENTIALS_DIRECTORY, if any).")
    var dbPasswordFile: String?

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
        abstract: "The fleet database (PostgreSQL): schema migrations (docs/fleet.md).",
        subcommands: [DbMigrateCommand.self]
    )
}

struct DbMigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the fleet schema's migrations that the database lacks, in order (safe to run again, and from two sensors at once)."
    )

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        if database.db == nil { throw ValidationError("give the database with --db postgres://USER@HOST/DATABASE") }
    }

    func run() async throws {
        guard let settings = try database.settings() else { return }
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
