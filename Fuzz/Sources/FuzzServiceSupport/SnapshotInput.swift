import Configuration
import Daemon

/// Input format of the `snapshot` target. A snapshot file ends in a CRC-32C
/// of everything before it, which random mutation almost never gets right,
/// so most inputs would stop at the checksum; the selector byte lets the
/// fuzzer reach the payload decoder too:
///
/// - byte 0, bit 0 clear: the rest of the input is the whole file, as read
///   from disk (magic, versions, length and checksum all as given);
/// - bit 0 set: the rest is the payload (a binary property list), framed
///   here with a correct header for `DaemonSnapshot.payloadVersion` and a
///   correct checksum, exactly as `SnapshotStore.save` writes it.
public enum SnapshotInput {
    public static let magic = Array("DKNSNAP\n".utf8)

    /// The file bytes `SnapshotStore.decode` gets for this input.
    public static func file(selector: UInt8, rest: some Collection<UInt8>) -> [UInt8] {
        selector & 1 == 0 ? Array(rest) : frame(payload: Array(rest))
    }

    /// `SnapshotStore`'s layout (Sources/Daemon/Snapshot.swift): magic,
    /// format version 1, payload version, payload length, payload, CRC-32C;
    /// integers big-endian.
    public static func frame(payload: [UInt8], payloadVersion: UInt32 = DaemonSnapshot.payloadVersion) -> [UInt8] {
        var bytes = magic
        append(&bytes, UInt32(1))
        append(&bytes, payloadVersion)
        append(&bytes, UInt64(payload.count))
        bytes += payload
        append(&bytes, CRC32C.checksum(bytes))
        return bytes
    }

    /// A seed: selector and rest.
    public static func encode(framed: Bool, _ bytes: [UInt8]) -> [UInt8] {
        [framed ? 1 : 0] + bytes
    }

    static func append<T: FixedWidthInteger>(_ bytes: inout [UInt8], _ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
}

import Aggregation

extension SnapshotInput {
    /// The aggregator the harness restores into, and the seeds are written
    /// from: 60 s buckets, windows of 3 and 10 buckets (small, so that the
    /// fuzzer can fill and overfill them), small tables (they are not part of
    /// a snapshot; only the windows are).
    public static var aggregationConfig: AggregationConfig {
        var config = AggregationConfig()
        config.windowBuckets = [3, 10]
        config.pairSlots = 1 << 10
        config.sourceDetailCapacity = 1 << 8
        config.topSourceCapacity = 64
        config.scan.minDestinations = 3
        config.scan.minInternetRate = 0
        return config
    }
}
