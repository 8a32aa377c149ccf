import Foundation
import Synchronization

/// A throwaway PostgreSQL server for one test: `initdb` in a temporary
/// directory with password (scram-sha-256) authentication for every
/// connection, listening on 127.0.0.1 on a free port, stopped and deleted by
/// `stop()`. PostgreSQL refuses to run as root, so when the tests run as root
/// (CI) the server runs as the `postgres` system user that Debian's package
/// creates (through util-linux's `setpriv`, which execs the program itself, so
/// the server is this process's own child and gets its signals directly);
/// otherwise as the current user. The server is run in the foreground rather
/// than through `pg_ctl start`: a `pg_ctl` behind `runuser` was seen to leave
/// its parent waiting for good. With `namespace`, the server and psql run in
/// that network namespace (`ip netns exec`), where a daemon under test that
/// runs there reaches it on 127.0.0.1.
public final class PostgresServer: Sendable {
    public let bin: String
    public let directory: String
    public let port: Int
    public let admin = "fleetadmin"
    public let password: String
    /// A file holding `password` (what `--db-password-file` is given).
    public let passwordFile: String
    /// Runs the server's own programs as this user (nil: as ourselves).
    public let serverUser: String?
    /// TLS on, with a self-signed certificate for localhost and 127.0.0.1 (`certificateFile`).
    public let tls: Bool
    /// The network namespace the server runs in (nil: this process's).
    public let namespace: String?
    /// Addresses the server listens on besides 127.0.0.1, and the client
    /// networks (CIDR) allowed to connect from them with scram-sha-256.
    public let extraListen: [String]
    public let extraClients: [String]
    /// The running `postgres` process.
    let process = Mutex<Subprocess?>(nil)

    /// The newest `/usr/lib/postgresql/N/bin` with initdb, pg_ctl and psql, or nil.
    public static func binDirectory() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted(by: >)
        for version in versions {
            let bin = "\(root)/\(version)/bin"
            if ["initdb", "pg_ctl", "postgres", "psql"].allSatisfy({ FileManager.default.isExecutableFile(atPath: "\(bin)/\($0)") }) {
                return bin
            }
        }
        return nil
    }

    /// Why the server tests cannot run here, or nil when they can.
    public static var unavailableReason: String? {
        guard binDirectory() != nil else {
            return "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (scripts/install-deps.sh installs Debian's postgresql)"
        }
        if getuid() == 0 && (getpwnam("postgres") == nil || Executables.system("setpriv") == nil) {
            return "running as root, but there is no postgres user or no setpriv to run the server unprivileged"
        }
        return nil
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// A free TCP port on 127.0.0.1 (bound, read back, released).
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddr in
                bind(fd, sockaddr, length) == 0 && getsockname(fd, sockaddr, &length) == 0
            }
        }
        guard bound else { throw Failure(description: "bind: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// One of the server's programs with its arguments, as the server's user.
    func command(_ name: String, _ arguments: [String]) -> (String, [String]) {
        var (executable, all) = ("\(bin)/\(name)", arguments)
        if let serverUser {
            (executable, all) = (Executables.system("setpriv")!, ["--reuid", serverUser, "--regid", serverUser, "--init-groups", "--reset-env", "--",
                                                                   "\(bin)/\(name)"] + arguments)
        }
        return inNamespace(executable, all)
    }

    /// `ip netns exec NAMESPACE` before a command when the server runs in a namespace.
    func inNamespace(_ executable: String, _ arguments: [String]) -> (String, [String]) {
        guard let namespace else { return (executable, arguments) }
        return (Executables.system("ip")!, ["netns", "exec", namespace, executable] + arguments)
    }

    /// Runs one of the server's programs to completion as the server's user.
    public func runServerProgram(_ name: String, _ arguments: [String], timeout: Duration = .seconds(60)) throws -> Subprocess.Result {
        let (executable, all) = command(name, arguments)
        return try Subprocess.run(executable, all, timeout: timeout)
    }

    private init(bin: String, directory: String, port: Int, password: String, serverUser: String?, tls: Bool, namespace: String?,
                 extraListen: [String], extraClients: [String]) {
        self.tls = tls
        self.namespace = namespace
        self.extraListen = extraListen
        self.extraClients = extraClients
        self.bin = bin
        self.directory = directory
        self.port = port
        self.password = password
        self.passwordFile = directory + "/password"
        self.serverUser = serverUser
    }

    /// initdb + start; throws with the server's log if it does not come up.
    public static func start(tls: Bool = false, namespace: String? = nil, extraListen: [String] = [],
                             extraClients: [String] = []) throws -> PostgresServer {
        guard let bin = binDirectory() else { throw Failure(description: unavailableReason ?? "no PostgreSQL") }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("darknetd-pg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let serverUser: String? = getuid() == 0 ? "postgres" : nil
        if serverUser != nil, let entry = getpwnam("postgres") {
            guard chown(directory, entry.pointee.pw_uid, entry.pointee.pw_gid) == 0 else {
                throw Failure(description: "chown \(directory): errno \(errno)")
            }
        }
        chmod(directory, 0o700)
        let password = "pw-\(UUID().uuidString)"
        var lastError = ""
        for _ in 0..<3 {
            let server = PostgresServer(bin: bin, directory: directory, port: try freePort(), password: password, serverUser: serverUser, tls: tls,
                                        namespace: namespace, extraListen: extraListen, extraClients: extraClients)
            do {
                try server.initializeAndStart()
                return server
            } catch {
                lastError = "\(error)"
                server.stopProcess()
                try? FileManager.default.removeItem(atPath: server.dataDirectory)
            }
        }
        try? FileManager.default.removeItem(atPath: directory)
        throw Failure(description: "PostgreSQL did not start: \(lastError)")
    }

    public var dataDirectory: String { directory + "/data" }

    private func initializeAndStart() throws {
        _ = FileManager.default.createFile(atPath: passwordFile, contents: Data(password.utf8), attributes: [.posixPermissions: 0o600])
        if serverUser != nil, let entry = getpwnam("postgres") { chown(passwordFile, entry.pointee.pw_uid, entry.pointee.pw_gid) }
        if !FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION") {
            let initdb = try runServerProgram("initdb", ["-D", dataDirectory, "-U", admin, "--pwfile=\(passwordFile)",
                                                           "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"])
            guard initdb.status == 0 else { throw Failure(description: "initdb: \(initdb.output)") }
            if !extraClients.isEmpty, let hba = FileHandle(forWritingAtPath: dataDirectory + "/pg_hba.conf") {
                hba.seekToEndOfFile()
                hba.write(Data(extraClients.map { "host all all \($0) scram-sha-256\n" }.joined().utf8))
                try hba.close()
            }
        }
        var settings = ["-c", "fsync=off", "-c", "max_connections=50"]
        if tls {
            try makeCertificate()
            settings += ["-c", "ssl=on", "-c", "ssl_cert_file=\(certificateFile)", "-c", "ssl_key_file=\(directory)/server.key"]
        }
        let (executable, arguments) = command("postgres", ["-D", dataDirectory, "-h", (["127.0.0.1"] + extraListen).joined(separator: ","), "-p", "\(port)", "-k", directory] + settings)
        let child = try Subprocess(executable, arguments)
        process.withLock { $0 = child }
        let ready = child.wait(until: {
            !child.process.isRunning || child.standardError.contains("database system is ready to accept connections")
        }, timeout: .seconds(60))
        guard ready, child.process.isRunning else {
            throw Failure(description: "postgres did not become ready: \(child.standardError.suffix(2000))")
        }
    }

    /// The server's self-signed certificate (PEM): the root a `verify-full` client trusts.
    public var certificateFile: String { directory + "/server.crt" }

    /// A self-signed certificate for localhost and 127.0.0.1, and its key readable by the server only.
    private func makeCertificate() throws {
        guard let openssl = Executables.system("openssl") else { throw Failure(description: "no openssl to make a certificate") }
        let key = directory + "/server.key"
        let made = try Subprocess.run(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificateFile,
                                                "-days", "2", "-subj", "/CN=localhost",
                                                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        guard made.status == 0 else { throw Failure(description: "openssl: \(made.stderr)") }
        chmod(key, 0o600)
        if serverUser != nil, let entry = getpwnam("postgres") { chown(key, entry.pointee.pw_uid, entry.pointee.pw_gid) }
    }

    /// The server's own log (its standard error) so far.
    public var log: String { process.withLock { $0?.standardError ?? "" } }

    /// SIGINT is PostgreSQL's fast shutdown: sessions are ended, the server exits.
    public func stopProcess() {
        guard let child = process.withLock({ $0 }) else { return }
        if child.process.isRunning { kill(child.process.processIdentifier, SIGINT) }
        if child.waitForExit(timeout: .seconds(30)) == nil { kill(child.process.processIdentifier, SIGKILL) }
        process.withLock { $0 = nil }
    }

    /// Starts the server again on the same data directory and port (after `stopProcess`).
    public func restart() throws {
        stopProcess()
        try initializeAndStart()
    }

    /// Stops the server (fast shutdown) and deletes its directory.
    public func stop() {
        stopProcess()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `postgres://fleetadmin@127.0.0.1:PORT/DATABASE` (no password: that is in `passwordFile`).
    public func url(_ database: String, user: String? = nil, host: String = "127.0.0.1") -> String {
        "postgres://\(user ?? admin)@\(host):\(port)/\(database)"
    }

    /// Runs SQL through psql (a client independent of the code under test) as the
    /// administrator; returns the rows, columns separated by `|`.
    @discardableResult
    public func psql(_ database: String, _ sql: String, user: String? = nil, password: String? = nil) throws -> [String] {
        let (executable, arguments) = inNamespace("\(bin)/psql", ["-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1",
                                                         "-h", "127.0.0.1", "-p", "\(port)", "-U", user ?? admin, "-d", database, "-c", sql])
        let result = try Subprocess.run(executable, arguments, environment: ["PGPASSWORD": password ?? self.password, "PGCONNECT_TIMEOUT": "10", "PGSSLMODE": "disable"])
        guard result.status == 0 else { throw Failure(description: "psql \(sql): \(result.stderr)") }
        return result.stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    /// A new empty database.
    public func createDatabase(_ name: String) throws {
        try psql("postgres", "CREATE DATABASE \(name)")
    }
}
