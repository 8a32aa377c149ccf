import Decoding
import Sketches

/// Which aggregation shard a record goes to: a keyed hash of its source (or
/// of the source's prefix when sources are aggregated by prefix), so every
/// per-source structure lives in exactly one shard and an attacker who does
/// not know the key cannot steer a flood into one shard.
///
/// The routing key is derived from the aggregation's hash seed but is not
/// that seed: a shard then sees sources spread over all the slots of its own
/// tables, which the aggregation's hash indexes.
/// Records that did not decode carry no usable source and go to shard 0.
public struct ShardRouter: Sendable, BitwiseCopyable {
    public let shards: Int
    let hasher: SeededHash
    let bySourcePrefix: Bool

    public init(shards: Int, seed: SeededHash, bySourcePrefix: Bool) {
        precondition(shards >= 1, "at least one shard")
        self.shards = shards
        self.hasher = SeededHash(seed0: seed.seed0 ^ 0x7368_6172_642D_6B65, seed1: seed.seed1 ^ 0x726F_7574_696E_6721)
        self.bySourcePrefix = bySourcePrefix
    }

    /// The shard of `r`: 0 ..< shards (multiply-shift of the hash's high half:
    /// uniform, no division).
    @inline(__always)
    public func shard(of r: PacketRecord) -> Int {
        guard shards > 1, r.status == .ok else { return 0 }
        let source = bySourcePrefix ? r.source.sourcePrefix : r.source
        return Int(truncatingIfNeeded: ((hasher.hash(source) >> 32) &* UInt64(shards)) >> 32)
    }
}
