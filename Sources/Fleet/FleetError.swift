import NIOCore
import NIOSSL
import PostgresNIO

/// What can go wrong between a sensor and the fleet database, in words an
/// operator acts on. No case carries the password, and none prints a query's
/// bound values.
public enum FleetError: Error, Equatable, CustomStringConvertible {
    /// The `--db` URL does not parse; the string says what is wrong.
    case invalidURL(String)
    /// The URL has `user:password@`: passwords never go on a command line.
    case passwordInURL
    /// The password file (or systemd credential) could not be read.
    case passwordFile(path: String, reason: String)
    /// The server rejected the user name or password.
    case authenticationFailed(user: String, endpoint: String, detail: String)
    /// The server asked for a password and none was given.
    case passwordRequired(user: String, endpoint: String)
    /// Nothing answered at the address, or the connection broke.
    case unreachable(endpoint: String, detail: String)
    /// TLS could not be set up or the server's certificate was not accepted.
    case tls(endpoint: String, detail: String)
    /// The database named in the URL does not exist.
    case databaseMissing(database: String, endpoint: String)
    /// The schema is older than this darknetd needs: `darknetd db migrate` has not run.
    case schemaNotMigrated(applied: Int, required: Int)
    /// The schema is newer than this darknetd knows (a newer darknetd migrated it).
    case schemaNewer(applied: Int, known: Int)
    /// The sensor name is not in `sensors` and this role may not add it (least privilege).
    case sensorNotRegistered(sensor: String, user: String)
    /// The feed name is not in `feeds` and this role may not add it (least privilege).
    case feedNotRegistered(feed: String, user: String)
    /// The feed is registered for another role: row-level security refuses this one's imports.
    case feedNotPermitted(feed: String, user: String)
    /// A feed file or mapping that cannot be imported (the Feed module's message).
    case feedInput(String)
    /// The file changed between the import's two readings of it.
    case feedFileChanged(path: String)
    /// The server refused a statement; `sqlState` is PostgreSQL's error code.
    case server(sqlState: String, message: String)
    /// `fleet report`: a sensor or feed name that is not in the database; `known` lists the names there are.
    case unknownNetwork(kind: String, name: String, known: [String])
    /// `fleet report`: a sensor's stored buckets do not fit in the report's buckets.
    case bucketsStraddle(sensor: String, storedSeconds: Int, firstStart: Int64, reportSeconds: Int64, count: Int)

    public var description: String {
        switch self {
        case .invalidURL(let why):
            return "--db: \(why) (expected postgres://USER@HOST[:PORT]/DATABASE[?sslmode=disable|require|verify-full])"
        case .passwordInURL:
            return "--db: the URL contains a password; put it in a file readable only by the sensor and give --db-password-file FILE (or the systemd credential db-password), never on the command line"
        case .passwordFile(let path, let reason):
            return "database password file \(path): \(reason)"
        case .authenticationFailed(let user, let endpoint, let detail):
            return "database authentication failed for user \"\(user)\" at \(endpoint): \(detail) (check the password file and the server's pg_hba.conf)"
        case .passwordRequired(let user, let endpoint):
            return "the database at \(endpoint) asks user \"\(user)\" for a password and none was given: use --db-password-file FILE or the systemd credential db-password"
        case .unreachable(let endpoint, let detail):
            return "cannot reach the database at \(endpoint): \(detail) (is PostgreSQL running and listening there, and does the firewall let the sensor through?)"
        case .tls(let endpoint, let detail):
            return "TLS with the database at \(endpoint) failed: \(detail)"
        case .databaseMissing(let database, let endpoint):
            return "database \"\(database)\" does not exist at \(endpoint) (create it, then run darknetd db migrate)"
        case .schemaNotMigrated(let applied, let required):
            return "the fleet schema is at version \(applied) and this darknetd needs \(required): run darknetd db migrate --db URL first"
        case .schemaNewer(let applied, let known):
            return "the fleet schema is at version \(applied), newer than this darknetd knows (\(known)): upgrade darknetd"
        case .sensorNotRegistered(let sensor, let user):
            return "sensor \"\(sensor)\" is not registered in the fleet database and user \"\(user)\" may not register it: the administrator runs INSERT INTO sensors (name, db_role) VALUES ('\(sensor)', '\(user)') (docs/fleet.md, least privilege)"
        case .feedNotRegistered(let feed, let user):
            return "feed \"\(feed)\" is not registered in the fleet database and user \"\(user)\" may not register it: the administrator runs INSERT INTO feeds (name, db_role) VALUES ('\(feed)', '\(user)') (docs/fleet.md, feed import)"
        case .feedNotPermitted(let feed, let user):
            return "user \"\(user)\" may not import into feed \"\(feed)\": the feed is registered for another role (feeds.db_role; docs/fleet.md, feed import)"
        case .feedInput(let message):
            return message
        case .feedFileChanged(let path):
            return "\(path) changed while it was being imported; nothing was written (import it again once it is complete)"
        case .server(let sqlState, let message):
            return "the database refused a statement: \(message) (SQLSTATE \(sqlState))"
        case .unknownNetwork(let kind, let name, let known):
            let list = known.isEmpty ? "there is none" : "known: " + known.prefix(20).joined(separator: ", ") + (known.count > 20 ? ", …" : "")
            return "no \(kind) named \"\(name)\" in the fleet database (\(list))"
        case .bucketsStraddle(let sensor, let stored, let first, let report, let count):
            return "sensor \"\(sensor)\" stores \(stored)-second buckets that do not fit in \(report)-second report buckets (\(count) of them, the first starting \(first) s after the epoch): choose --bucket a multiple of \(stored)s whose boundaries (UTC, from the epoch) are its buckets' boundaries"
        }
    }

    /// Maps an error thrown by PostgresNIO (directly or inside a transaction) to a `FleetError`.
    static func from(_ error: any Error, settings: ConnectionSettings) -> FleetError {
        if let fleet = error as? FleetError { return fleet }
        if let transaction = error as? PostgresTransactionError {
            if let inner = transaction.closureError ?? transaction.beginError ?? transaction.commitError {
                return from(inner, settings: settings)
            }
        }
        let endpoint = settings.endpoint
        if error is ConnectionClosed {
            return .unreachable(endpoint: endpoint, detail: "the connection was closed (the server stopped, or the network dropped it)")
        }
        if let noAnswer = error as? NoAnswer {
            return .unreachable(endpoint: endpoint, detail: "no answer to a statement in \(noAnswer.timeout); the connection was given up")
        }
        if let psql = error as? PSQLError {
            switch psql.code {
            case .server:
                let state = psql.serverInfo?[.sqlState] ?? "?????"
                let message = psql.serverInfo?[.message] ?? "no message"
                switch state {
                case "28P01", "28000":
                    return .authenticationFailed(user: settings.user, endpoint: endpoint, detail: message)
                case "3D000":
                    return .databaseMissing(database: settings.database, endpoint: endpoint)
                default:
                    return .server(sqlState: state, message: message)
                }
            case .authMechanismRequiresPassword:
                return .passwordRequired(user: settings.user, endpoint: endpoint)
            case .sslUnsupported:
                return .tls(endpoint: endpoint, detail: "the server does not offer TLS (sslmode=\(settings.tlsMode.rawValue) requires it)")
            case .failedToAddSSLHandler:
                return .tls(endpoint: endpoint, detail: psql.underlying.map { "\($0)" } ?? "could not set up TLS")
            case .connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection:
                if let underlying = psql.underlying, isTLS(underlying) {
                    return .tls(endpoint: endpoint, detail: "\(underlying)")
                }
                return .unreachable(endpoint: endpoint, detail: psql.underlying.map(describe) ?? "\(psql.code)")
            default:
                return .server(sqlState: "", message: "\(psql.code)")
            }
        }
        if isTLS(error) { return .tls(endpoint: endpoint, detail: "\(error)") }
        if error is IOError || error is ChannelError || error is NIOConnectionError {
            return .unreachable(endpoint: endpoint, detail: describe(error))
        }
        return .server(sqlState: "", message: "\(error)")
    }

    static func isTLS(_ error: any Error) -> Bool {
        error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError
    }

    static func describe(_ error: any Error) -> String {
        if let io = error as? IOError { return io.description }
        if let connect = error as? NIOConnectionError {
            let failures = connect.connectionErrors.map { "\($0.target): \(describe($0.error))" }
            if !failures.isEmpty { return failures.joined(separator: "; ") }
            if let dns = connect.dnsAAAAError ?? connect.dnsAError { return "host name lookup failed: \(dns)" }
            return "connection failed"
        }
        return "\(error)"
    }
}
