#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where a country database is looked for when none is named (`analyze` and
/// `capture` without `--geoip`). docs/geoip.md.
public enum DefaultGeoIPDatabase {
    /// What `scripts/install-deps.sh` installs: DB-IP "IP to City Lite"
    /// (CC BY 4.0, IP geolocation by DB-IP), whose records carry
    /// `country.iso_code` like MaxMind's.
    public static let installedPath = "/usr/local/share/GeoIP/dbip-city-lite.mmdb"

    /// Searched in order; the first readable regular file wins. The places
    /// where `geoipupdate` keeps GeoLite2-Country come first, so a database
    /// an operator keeps fresh is preferred to the installed one.
    public static let searchPaths: [String] = [
        "/var/lib/GeoIP/GeoLite2-Country.mmdb",          // Debian's geoipupdate
        "/usr/share/GeoIP/GeoLite2-Country.mmdb",        // MaxMind's geoipupdate packages
        "/usr/local/share/GeoIP/GeoLite2-Country.mmdb",  // geoipupdate built from source
        installedPath,
    ]

    /// The first of `paths` that is a regular file this process can read,
    /// or nil when there is none. Only checks the file; opening it (and
    /// finding out whether it is a MaxMind DB) is `GeoIPDatabase(path:)`'s.
    public static func find(in paths: [String] = searchPaths) -> String? {
        paths.first(where: isReadableFile)
    }

    static func isReadableFile(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return false }
        return access(path, R_OK) == 0
    }
}

extension DefaultGeoIPDatabase {
    /// Opens the first database `find(in:)` gives and tells `note` which
    /// file it is and when it was built; nil, with a note, when there is none
    /// or it does not open. For commands where a database is optional.
    public static func open(in paths: [String] = searchPaths, note: (String) -> Void) -> GeoIPDatabase? {
        guard let path = find(in: paths) else {
            note("GeoIP: no country database (scripts/install-deps.sh installs one; --geoip FILE.mmdb): countries are ??")
            return nil
        }
        do {
            let database = try GeoIPDatabase(path: path)
            note("GeoIP: \(path) (\(database.metadata.databaseType), built \(buildDate(database.metadata.buildEpoch)))")
            return database
        } catch {
            note("GeoIP: \(error); countries are ??")
            return nil
        }
    }

    /// `YYYY-MM-DD` (UTC) of a build epoch.
    static func buildDate(_ epoch: UInt64) -> String {
        var seconds = time_t(clamping: epoch)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))"
    }
}
