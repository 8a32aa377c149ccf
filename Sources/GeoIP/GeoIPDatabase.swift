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
    /// IPv4 lookups without the tree walk; nil if the tree could not be read
    /// whole (then every lookup walks the tree, as libmaxminddb does).
    @usableFromInline let ipv4Ranges: IPv4CountryRanges?

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
        let countryPath = GeoIPDatabase.makePath(["country", "iso_code"])
        let registeredCountryPath = GeoIPDatabase.makePath(["registered_country", "iso_code"])
        self.countryPath = countryPath
        self.registeredCountryPath = registeredCountryPath
        self.ipv4Ranges = GeoIPDatabase.readIPv4Ranges(mmdb, path: path) { entry throws(GeoIPError) in
            try GeoIPDatabase.country(at: &entry, path: path, countryPath, registeredCountryPath)
        }
    }

    /// IPv4 ranges held in memory for lookups (0: lookups walk the tree).
    public var ipv4RangeCount: Int { ipv4Ranges?.count ?? 0 }

    /// Walks the IPv4 part of the search tree depth first, in address order,
    /// into `IPv4CountryRanges`. A record the library reports as invalid, or
    /// an error decoding a record, gives nil: lookups then walk the tree and
    /// report such errors themselves.
    private static func readIPv4Ranges(_ mmdb: UnsafeMutablePointer<MMDB_s>, path: String,
                                       _ decode: (inout MMDB_entry_s) throws(GeoIPError) -> CountryCode) -> IPv4CountryRanges? {
        // Where IPv4 starts: the root of an IPv4 tree; in an IPv6 tree the node
        // reached by ::/96, which libmaxminddb finds on the first IPv4 lookup.
        var root: UInt32 = 0
        if mmdb.pointee.metadata.ip_version == 6 {
            var status: Int32 = MMDB_SUCCESS
            _ = lookup(mmdb, IPAddress(ipv4: 0x0101_0101), &status)
            guard status == MMDB_SUCCESS else { return nil }
            root = mmdb.pointee.ipv4_start_node.node_value
            guard mmdb.pointee.ipv4_start_node.netmask == 96 else { return nil }
        }
        let nodeCount = mmdb.pointee.metadata.node_count
        guard root < nodeCount else { return nil }  // no IPv4 subtree
        var starts: [UInt32] = []
        var codes: [CountryCode] = []
        var decoded: [UInt32: CountryCode] = [:]  // by data offset: a record is shared by many leaves
        enum Item { case node(UInt32, prefix: UInt32, depth: UInt32), leaf(UInt32, CountryCode) }
        // Depth first, in address order: a node's right item is pushed before
        // its left one, so the whole left subtree comes out first.
        var stack: [Item] = [.node(root, prefix: 0, depth: 0)]
        do throws(GeoIPError) {
            while let item = stack.popLast() {
                switch item {
                case .leaf(let start, let code):
                    if codes.last != code {
                        starts.append(start)
                        codes.append(code)
                    }
                case .node(let node, let prefix, let depth):
                    guard depth < 32 else { return nil }
                    var record = MMDB_search_node_s()
                    guard MMDB_read_node(mmdb, node, &record) == MMDB_SUCCESS else { return nil }
                    let right = prefix | 1 << (31 - depth)
                    func item(_ value: UInt64, _ type: UInt8, _ entry: inout MMDB_entry_s, _ start: UInt32) throws(GeoIPError) -> Item? {
                        switch Int32(type) {
                        case MMDB_RECORD_TYPE_SEARCH_NODE: return .node(UInt32(truncatingIfNeeded: value), prefix: start, depth: depth + 1)
                        case MMDB_RECORD_TYPE_EMPTY: return .leaf(start, .unknown)
                        case MMDB_RECORD_TYPE_DATA:
                            if let known = decoded[entry.offset] { return .leaf(start, known) }
                            let code = try decode(&entry)
                            decoded[entry.offset] = code
                            return .leaf(start, code)
                        default: return nil
                        }
                    }
                    guard let r = try item(record.right_record, record.right_record_type, &record.right_record_entry, right),
                          let l = try item(record.left_record, record.left_record_type, &record.left_record_entry, prefix)
                    else { return nil }
                    stack.append(r)
                    stack.append(l)
                }
            }
        } catch {
            return nil
        }
        return starts.isEmpty ? nil : IPv4CountryRanges(starts: starts, codes: codes)
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
        if address.isIPv4, let ipv4Ranges { return ipv4Ranges.country(of: address.ipv4) }
        return try treeCountry(of: address)
    }

    /// `lookupCountry` by a walk of the search tree (what libmaxminddb does).
    func treeCountry(of address: IPAddress) throws(GeoIPError) -> CountryCode {
        // An IPv4-only tree cannot answer IPv6; libmaxminddb would report
        // that as an error, but for us it is simply "not known".
        if isIPv4Only && !address.isIPv4 { return .unknown }
        var status: Int32 = MMDB_SUCCESS
        var result = GeoIPDatabase.lookup(mmdb, address, &status)
        try GeoIPError.check(status, .lookup, path: path)
        guard result.found_entry else { return .unknown }
        return try GeoIPDatabase.country(at: &result.entry, path: path, countryPath, registeredCountryPath)
    }

    /// `country.iso_code` of a record, else `registered_country.iso_code`, else unknown.
    private static func country(at entry: inout MMDB_entry_s, path: String,
                                _ countryPath: UnsafeMutablePointer<UnsafePointer<CChar>?>,
                                _ registeredCountryPath: UnsafeMutablePointer<UnsafePointer<CChar>?>) throws(GeoIPError) -> CountryCode {
        let country = try code(at: &entry, path: path, countryPath)
        if country.isKnown { return country }
        return try code(at: &entry, path: path, registeredCountryPath)
    }

    /// Decodes the value at `path` under `entry`; a two-byte UTF-8 string of
    /// two uppercase letters is a code, any other value (or none) is unknown.
    private static func code(at entry: inout MMDB_entry_s, path: String, _ lookupPath: UnsafeMutablePointer<UnsafePointer<CChar>?>) throws(GeoIPError) -> CountryCode {
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
