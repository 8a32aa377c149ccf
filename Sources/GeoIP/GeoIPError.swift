import CMaxMindDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A libmaxminddb status other than `MMDB_SUCCESS`, with the library's own
/// text (`MMDB_strerror`), what was being done and which database file.
///
/// Every status returned by libmaxminddb goes through `GeoIPError.check`,
/// so this is the only place that knows the `MMDB_*_ERROR` numbers.
public struct GeoIPError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// The file could not be opened (missing, no permission, a directory...).
        case fileOpen
        case corruptSearchTree
        /// No metadata section: not a MaxMind DB file, or a truncated one.
        case invalidMetadata
        case io
        case outOfMemory
        /// A MaxMind DB whose binary format major version is not 2.
        case unknownDatabaseFormat
        /// The data section is inconsistent (corrupt pointers, sizes, types).
        case invalidData
        case invalidLookupPath
        case lookupPathDoesNotMatchData
        case invalidNodeNumber
        case ipv6LookupInIPv4Database
        /// A status this version does not know.
        case other(Int32)

        init(status: Int32) {
            switch status {
            case MMDB_FILE_OPEN_ERROR: self = .fileOpen
            case MMDB_CORRUPT_SEARCH_TREE_ERROR: self = .corruptSearchTree
            case MMDB_INVALID_METADATA_ERROR: self = .invalidMetadata
            case MMDB_IO_ERROR: self = .io
            case MMDB_OUT_OF_MEMORY_ERROR: self = .outOfMemory
            case MMDB_UNKNOWN_DATABASE_FORMAT_ERROR: self = .unknownDatabaseFormat
            case MMDB_INVALID_DATA_ERROR: self = .invalidData
            case MMDB_INVALID_LOOKUP_PATH_ERROR: self = .invalidLookupPath
            case MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR: self = .lookupPathDoesNotMatchData
            case MMDB_INVALID_NODE_NUMBER_ERROR: self = .invalidNodeNumber
            case MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR: self = .ipv6LookupInIPv4Database
            default: self = .other(status)
            }
        }
    }

    public enum Operation: String, Sendable, Equatable {
        case open = "open"
        case lookup = "lookup"
        case getValue = "get value"
    }

    public let code: Code
    /// The raw `MMDB_*` status.
    public let status: Int32
    public let operation: Operation
    /// The database file.
    public let path: String
    /// `MMDB_strerror(status)`.
    public let message: String
    /// `errno` right after a failed open or I/O, when it says more than the status.
    public let systemError: Int32?

    public var description: String {
        var text = "GeoIP database \(path): \(operation.rawValue) failed: \(message)"
        if let systemError, systemError != 0 {
            text += " (\(String(cString: strerror(systemError))))"
        }
        return text
    }

    /// The one checked path for libmaxminddb statuses: success returns
    /// true, anything else becomes a typed error. Cheap on success (one
    /// compare), so the per-lookup calls go through it too.
    ///
    /// With `absentIsNotAnError`, `MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR`
    /// returns false instead: libmaxminddb reports a key missing from a map
    /// that way, and a record without `country` is normal (anonymous
    /// proxies, satellite providers and the like only have
    /// `registered_country`).
    @inline(__always) @discardableResult
    static func check(
        _ status: Int32, _ operation: Operation, path: String,
        systemError: Int32? = nil, absentIsNotAnError: Bool = false
    ) throws(GeoIPError) -> Bool {
        if status == MMDB_SUCCESS { return true }
        if absentIsNotAnError && status == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR { return false }
        throw GeoIPError(status: status, operation: operation, path: path, systemError: systemError)
    }

    init(status: Int32, operation: Operation, path: String, systemError: Int32?) {
        self.code = Code(status: status)
        self.status = status
        self.operation = operation
        self.path = path
        self.message = MMDB_strerror(status).map { String(cString: $0) } ?? "MaxMind DB status \(status)"
        switch code {
        case .fileOpen, .io: self.systemError = systemError
        default: self.systemError = nil
        }
    }
}
