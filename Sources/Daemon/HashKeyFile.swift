import Aggregation
import Foundation
import Glibc
import Sketches

/// The daemon's hashing key (`AggregationConfig.hashSeed`) when the
/// configuration sets none: 128 bits from the system's random source
/// (`SystemRandomNumberGenerator`, getrandom(2) on Linux), made at the first
/// start, kept in the state directory as `hash.key` (32 hexadecimal digits,
/// mode 0600, written atomically) and reused on every restart, so restored
/// snapshots stay valid and an attacker cannot precompute colliding
/// addresses against a public key.
public enum HashKeyFile {
    public static let name = "hash.key"

    public enum Outcome: Sendable, Equatable {
        case loaded(SeededHash)
        case created(SeededHash)

        public var key: SeededHash {
            switch self {
            case .loaded(let k), .created(let k): k
            }
        }
    }

    /// Reads the key in `directory`, or makes and saves a new one if there is
    /// no such file. A file that exists but does not hold a key is an error:
    /// replacing it would silently invalidate the saved state.
    public static func loadOrCreate(directory: String) throws(SnapshotError) -> Outcome {
        let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
        if let data = FileManager.default.contents(atPath: path) {
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let key = SeededHash(hexSeed: text) else {
                throw SnapshotError(operation: "read", path: path,
                                    message: "not a hash key (expected 32 hexadecimal digits); remove the file to make a new key")
            }
            return .loaded(key)
        }
        guard access(path, F_OK) != 0 else {
            throw SnapshotError(operation: "read", path: path, message: "exists but cannot be read")
        }
        let key = SeededHash.random()
        try AtomicFile.replace(Array((key.description + "\n").utf8), to: path, directory: directory,
                                          temporaryPrefix: ".\(name).tmp.")
        return .created(key)
    }
}
