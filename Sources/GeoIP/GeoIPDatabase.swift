import CMaxMindDB
import Decoding

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What the database says about itself (its metadata section).
public struct GeoIPMetadata: Sendable, Equatable {
    /// e.g. `"GeoLite2-Country"`, `"DBIP-Country-Lite"`.
    public var databaseType: String
    /// Seconds since 1970 when the database was built.
    public var buildEpoch: UInt64
    /// 4 or 6: the width of the search tree.
    public var ipVersion: Int
    public var nodeCount: UInt32
    /// Bits per search-tree record (24, 28 or 32).
    public var recordSize: Int
    public var binaryFormatMajorVersion: Int
    public var binaryFormatMinorVersion: Int
    public var languages: [String]
    /// Language code -> description.
    public var descriptions: [String: String]
}

/// A MaxMind DB file (GeoLite2/GeoIP2 Country, DB-IP country lite, ...)
/// opened with libmaxminddb, answering "which country is this address in".
///
/// `@unchecked Sendable` because libmaxminddb's `MMDB_s` is read-only once
/// `MMDB_open` has returned: the file is mmapped read-only, and
/// `MMDB_lookup_sockaddr` / `MMDB_aget_value` only read it and the
/// immutable metadata, keeping their state on the caller's stack. The
/// library documents lookups on one `MMDB_s` from many threads as safe.
/// This class never mutates the struct after `init`; `deinit` closes it
/// when no thread can be using it any more.
///
/// This is the only type that touches libmaxminddb. The unsafe parts are
/// the `MMDB_s` allocation, the lookup-path C strings and the sockaddr
/// built on the stack for each lookup.
public final class GeoIPDatabase: @unchecked Sendable {
    public let path: String
    public let metadata: GeoIPMetadata

    private let mmdb: UnsafeMutablePointer<MMDB_s>
    /// NULL-terminated `{"country", "iso_code", NULL}` and
    /// `{"registered_country", "iso_code", NULL}` for `MMDB_aget_value`
    /// (the variadic `MMDB_get_value` is not callable from Swift).
    private let countryPath: UnsafeMutablePointer<UnsafePointer<CChar>?>
    private let registeredCountryPath: UnsafeMutablePointer<UnsafePointer<CChar>?>
    private let isIPv4Only: Bool

    /// Opens (mmaps) the database. A missing or unreadable file, a file
    /// that is not a MaxMind DB, a truncated one or an unsupported format
    /// version throws a `GeoIPError` saying which and naming the file.
    public init(path: String) throws(GeoIPError) {
        self.path = path
        let mmdb = UnsafeMutablePointer<MMDB_s>.allocate(capacity: 1)
        mmdb.initialize(to: MMDB_s())
        errno = 0
        let status = MMDB_open(path, UInt32(MMDB_MODE_MMAP), mmdb)
        let openErrno = errno
        do {
            // On failure MMDB_open releases whatever it had set up itself.
            try GeoIPError.check(status, .open, path: path, systemError: openErrno)
        } catch {
            mmdb.deallocate()
            throw error
        }
        self.mmdb = mmdb
        self.metadata = GeoIPDatabase.readMetadata(mmdb.pointee.metadata)
        self.isIPv4Only = mmdb.pointee.metadata.ip_version == 4
        self.countryPath = GeoIPDatabase.makePath(["country", "iso_code"])
        self.registeredCountryPath = GeoIPDatabase.makePath(["registered_country", "iso_code"])
    }

    deinit {
        MMDB_close(mmdb)
        mmdb.deallocate()
        GeoIPDatabase.freePath(countryPath, count: 2)
        GeoIPDatabase.freePath(registeredCountryPath, count: 2)
    }

    /// The country of `address`: `country.iso_code` of its record, else
    /// `registered_country.iso_code`, else `.unknown`. Never throws and
    /// never traps: an address not in the database, a record without a
    /// two-letter uppercase code, or a corrupt database all give `.unknown`.
    /// Costs a tree walk plus a data-section decode (hundreds of ns); the
    /// per-packet path goes through `CountryCache`.
    public func country(of address: IPAddress) -> CountryCode {
        do {
            return try lookupCountry(of: address)
        } catch {
            return .unknown
        }
    }

    /// Like `country(of:)` but reports database errors (corrupt search
    /// tree, invalid data) instead of hiding them. Not-found, a missing key
    /// and a malformed code are still `.unknown`.
    public func lookupCountry(of address: IPAddress) throws(GeoIPError) -> CountryCode {
        // An IPv4-only tree cannot answer IPv6; libmaxminddb would report
        // that as an error, but for us it is simply "not known".
        if isIPv4Only && !address.isIPv4 { return .unknown }
        var status: Int32 = MMDB_SUCCESS
        var result = GeoIPDatabase.lookup(mmdb, address, &status)
        try GeoIPError.check(status, .lookup, path: path)
        guard result.found_entry else { return .unknown }
        let country = try code(at: &result.entry, countryPath)
        if country.isKnown { return country }
        return try code(at: &result.entry, registeredCountryPath)
    }

    /// Decodes the value at `path` under `entry`; a two-byte UTF-8 string of
    /// two uppercase letters is a code, any other value (or none) is unknown.
    private func code(at entry: inout MMDB_entry_s, _ lookupPath: UnsafeMutablePointer<UnsafePointer<CChar>?>) throws(GeoIPError) -> CountryCode {
        var data = MMDB_entry_data_s()
        let status = MMDB_aget_value(&entry, &data, lookupPath)
        guard try GeoIPError.check(status, .getValue, path: path, absentIsNotAnError: true),
              data.has_data,
              data.type == UInt32(MMDB_DATA_TYPE_UTF8_STRING),
              data.data_size == 2,
              let bytes = data.utf8_string
        else { return .unknown }
        // libmaxminddb has bounds-checked the string against the data section.
        let first = UInt8(bitPattern: bytes[0])
        let second = UInt8(bitPattern: bytes[1])
        return CountryCode(first: first, second: second) ?? .unknown
    }

    /// `MMDB_lookup_sockaddr` with a sockaddr built on the stack: IPv4 for
    /// v4-mapped addresses (libmaxminddb then walks `::a.b.c.d` in an IPv6
    /// tree), IPv6 otherwise.
    private static func lookup(_ mmdb: UnsafePointer<MMDB_s>, _ address: IPAddress, _ status: inout Int32) -> MMDB_lookup_result_s {
        if address.isIPv4 {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_addr.s_addr = address.ipv4.bigEndian
            return withUnsafePointer(to: &sin) { pointer in
                MMDB_lookup_sockaddr(mmdb, UnsafeRawPointer(pointer).assumingMemoryBound(to: sockaddr.self), &status)
            }
        }
        var sin6 = sockaddr_in6()
        sin6.sin6_family = sa_family_t(AF_INET6)
        withUnsafeMutableBytes(of: &sin6.sin6_addr) { bytes in
            bytes.storeBytes(of: address.high.bigEndian, toByteOffset: 0, as: UInt64.self)
            bytes.storeBytes(of: address.low.bigEndian, toByteOffset: 8, as: UInt64.self)
        }
        return withUnsafePointer(to: &sin6) { pointer in
            MMDB_lookup_sockaddr(mmdb, UnsafeRawPointer(pointer).assumingMemoryBound(to: sockaddr.self), &status)
        }
    }

    private static func readMetadata(_ raw: MMDB_metadata_s) -> GeoIPMetadata {
        var languages: [String] = []
        if let names = raw.languages.names {
            for index in 0..<raw.languages.count {
                if let name = names[index] { languages.append(String(cString: name)) }
            }
        }
        var descriptions: [String: String] = [:]
        if let entries = raw.description.descriptions {
            for index in 0..<raw.description.count {
                guard let entry = entries[index] else { continue }
                let language = entry.pointee.language.map { String(cString: $0) } ?? ""
                let text = entry.pointee.description.map { String(cString: $0) } ?? ""
                descriptions[language] = text
            }
        }
        return GeoIPMetadata(
            databaseType: raw.database_type.map { String(cString: $0) } ?? "",
            buildEpoch: raw.build_epoch,
            ipVersion: Int(raw.ip_version),
            nodeCount: raw.node_count,
            recordSize: Int(raw.record_size),
            binaryFormatMajorVersion: Int(raw.binary_format_major_version),
            binaryFormatMinorVersion: Int(raw.binary_format_minor_version),
            languages: languages,
            descriptions: descriptions
        )
    }

    private static func makePath(_ keys: [String]) -> UnsafeMutablePointer<UnsafePointer<CChar>?> {
        let path = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: keys.count + 1)
        for (index, key) in keys.enumerated() {
            path[index] = UnsafePointer(strdup(key))
        }
        path[keys.count] = nil
        return path
    }

    private static func freePath(_ path: UnsafeMutablePointer<UnsafePointer<CChar>?>, count: Int) {
        for index in 0..<count {
            free(UnsafeMutablePointer(mutating: path[index]))
        }
        path.deallocate()
    }
}
