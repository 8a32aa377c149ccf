import Foundation

/// Country names to ISO 3166-1 alpha-2 codes: the built-in table
/// (`CountryNameTable`: every ISO 3166-1 country's English names and alpha-3
/// code, and common short forms), looked up case-, accent- and
/// punctuation-insensitively: "Hong Kong", "HONG-KONG", "Côte d'Ivoire",
/// "Korea, Republic of", "JPN" all resolve.
public enum CountryNames {
    static let table: [String: CountryCode] = {
        var table: [String: CountryCode] = [:]
        for (name, code) in CountryNameTable.entries {
            if let code = CountryCode(code) { table[name] = code }
        }
        return table
    }()

    /// How many names the built-in table knows.
    public static var count: Int { table.count }

    /// The lookup key of a name: accents removed, lowercased, every run of
    /// characters other than ASCII letters and digits made one space, trimmed.
    public static func key(_ name: some StringProtocol) -> String {
        let folded = String(name).folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil)
        var out = ""
        var pendingSpace = false
        for scalar in folded.unicodeScalars {
            let isWord = (scalar >= "a" && scalar <= "z") || (scalar >= "0" && scalar <= "9")
            if isWord {
                if pendingSpace && !out.isEmpty { out.append(" ") }
                pendingSpace = false
                out.unicodeScalars.append(scalar)
            } else {
                pendingSpace = true
            }
        }
        return out
    }

    /// The code of an English country name or alpha-3 code, or nil when the table does not know it.
    public static func code(forName name: some StringProtocol) -> CountryCode? {
        table[key(name)]
    }
}
