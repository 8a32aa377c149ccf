import Foundation
import NIOSSL
import PostgresNIO

/// Where the fleet database is and how to reach it: parsed from
/// `postgres://USER@HOST[:PORT]/DATABASE[?sslmode=…&sslrootcert=FILE]`.
/// The password never comes from the URL (see `PasswordSource`).
public struct ConnectionSettings: Sendable, Equatable {
    /// libpq's `sslmode` values that darknetd supports.
    public enum TLSMode: String, Sendable, CaseIterable {
        /// Plain TCP (a loopback or otherwise protected network).
        case disable
        /// TLS without checking the server's certificate (protects against a passive listener only).
        case require
        /// TLS; the certificate must chain to a trusted root (the system's, or `sslrootcert`)
        /// and name the host in the URL.
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var database: String
    public var tlsMode: TLSMode
    /// PEM file of the roots to trust for `verify-full` (default: the system's).
    public var rootCertificateFile: String?
    /// Read from a file or credential, never from the URL; never logged.
    public var password: String?
    /// How long to wait for the TCP connection.
    public var connectTimeoutSeconds: Int64 = 10

    public init(host: String, port: Int = 5432, user: String, database: String, tlsMode: TLSMode = .disable,
                rootCertificateFile: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.user = user
        self.database = database
        self.tlsMode = tlsMode
        self.rootCertificateFile = rootCertificateFile
        self.password = password
    }

    /// `host:port` for messages (IPv6 in brackets).
    public var endpoint: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The URL as an operator may see it in logs: it never holds a password.
    public var redactedURL: String {
        var text = "postgres://\(user)@\(endpoint)/\(database)?sslmode=\(tlsMode.rawValue)"
        if let rootCertificateFile { text += "&sslrootcert=\(rootCertificateFile)" }
        return text
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.host == b.host && a.port == b.port && a.user == b.user && a.database == b.database && a.tlsMode == b.tlsMode
            && a.rootCertificateFile == b.rootCertificateFile && a.password == b.password
            && a.connectTimeoutSeconds == b.connectTimeoutSeconds
    }

    /// Parses the `--db` URL. Throws `FleetError.passwordInURL` for `user:password@`.
    public init(url text: String) throws(FleetError) {
        var rest = Substring(text)
        if rest.hasPrefix("postgres://") {
            rest = rest.dropFirst("postgres://".count)
        } else if rest.hasPrefix("postgresql://") {
            rest = rest.dropFirst("postgresql://".count)
        } else {
            throw .invalidURL("the URL must start with postgres://")
        }
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        guard let slash = rest.firstIndex(of: "/") else { throw .invalidURL("no database name after the host") }
        let authority = rest[..<slash]
        let databaseText = rest[rest.index(after: slash)...]
        guard let at = authority.lastIndex(of: "@") else { throw .invalidURL("no user name (USER@HOST)") }
        let userInfo = authority[..<at]
        if userInfo.contains(":") { throw .passwordInURL }
        var hostPort = authority[authority.index(after: at)...]
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw .invalidURL("unclosed [ in the IPv6 host") }
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { throw .invalidURL("unexpected text after ]") }
            hostPort = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
        } else if let colon = hostPort.lastIndex(of: ":") {
            portText = hostPort[hostPort.index(after: colon)...]
            hostPort = hostPort[..<colon]
        }
        guard let user = String(userInfo).removingPercentEncoding, !user.isEmpty else { throw .invalidURL("empty or badly escaped user name") }
        guard let database = String(databaseText).removingPercentEncoding, !database.isEmpty, !database.contains("/") else {
            throw .invalidURL("empty or badly escaped database name")
        }
        guard !hostPort.isEmpty else { throw .invalidURL("no host") }
        var port = 5432
        if let portText {
            guard let value = Int(portText), (1...65_535).contains(value) else { throw .invalidURL("port \"\(portText)\" is not within 1...65535") }
            port = value
        }
        self.init(host: String(hostPort), port: port, user: user, database: database)
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let key = String(parts[0])
            let value = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
            switch key {
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    throw .invalidURL("sslmode=\(value): expected one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                tlsMode = mode
            case "sslrootcert":
                guard !value.isEmpty else { throw .invalidURL("sslrootcert needs a file") }
                rootCertificateFile = value
            case "password":
                throw .passwordInURL
            default:
                throw .invalidURL("unknown parameter \(key) (known: sslmode, sslrootcert)")
            }
        }
        if rootCertificateFile != nil && tlsMode != .verifyFull { throw .invalidURL("sslrootcert needs sslmode=verify-full") }
    }

    /// PostgresNIO's configuration; builds the TLS context when TLS is on.
    func postgresConfiguration() throws(FleetError) -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch tlsMode {
        case .disable:
            tls = .disable
        case .require, .verifyFull:
            var config = TLSConfiguration.makeClientConfiguration()
            if tlsMode == .require {
                config.certificateVerification = .none
            } else {
                config.certificateVerification = .fullVerification
                if let rootCertificateFile { config.trustRoots = .file(rootCertificateFile) }
            }
            do {
                tls = .require(try NIOSSLContext(configuration: config))
            } catch {
                throw .tls(endpoint: endpoint, detail: "cannot set up TLS: \(error)")
            }
        }
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password,
                                                             database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(connectTimeoutSeconds)
        if tlsMode == .verifyFull { configuration.options.tlsServerName = host }
        return configuration
    }
}

/// Where the database password comes from: a file named on the command line
/// (`--db-password-file`), else the systemd credential `db-password`
/// (`LoadCredential=db-password:/etc/darknetd/db-password` puts it in
/// `$CREDENTIALS_DIRECTORY`), else none (trust or peer authentication).
public enum PasswordSource {
    /// The credential's name under `$CREDENTIALS_DIRECTORY`.
    public static let credentialName = "db-password"

    /// The password, or nil when neither a file nor a credential is there.
    /// The file's content up to its first line break is the password.
    public static func read(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws(FleetError) -> String? {
        let path: String
        if let file {
            path = file
        } else if let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty {
            let candidate = directory + "/" + credentialName
            guard FileManager.default.fileExists(atPath: candidate) else { return nil }
            path = candidate
        } else {
            return nil
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .passwordFile(path: path, reason: (error as NSError).localizedDescription)
        }
        guard let text = String(data: data, encoding: .utf8) else { throw .passwordFile(path: path, reason: "not UTF-8 text") }
        let password = String(text.prefix { $0 != "\n" && $0 != "\r" })
        guard !password.isEmpty else { throw .passwordFile(path: path, reason: "the file is empty") }
        return password
    }
}
