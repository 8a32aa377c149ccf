/// Link-layer header types (LINKTYPE_* values of the pcap and pcapng formats).
public enum LinkTypeNumber {
    public static let null: UInt32 = 0
    public static let ethernet: UInt32 = 1
    public static let raw: UInt32 = 101
    public static let linuxSLL: UInt32 = 113
    public static let linuxSLL2: UInt32 = 276
}

/// Resolution of the timestamps a capture file stores.
public enum TimestampPrecision: Sendable, Equatable {
    case microseconds
    case nanoseconds
}

/// Writes a classic libpcap file (version 2.4, little-endian):
/// a 24-byte global header, then per packet a 16-byte record header
/// (ts_sec, ts_usec-or-nsec, caplen, len) followed by the captured bytes.
///
/// Magic is 0xa1b2c3d4 for microsecond files and 0xa1b23c4d for nanosecond
/// files. Output goes through one large buffer, so millions of packets cost
/// millions of memcpys and a few hundred write(2) calls.
///
/// Not thread-safe: one writer, one thread.
public final class PcapFileWriter {
    public static let microsecondMagic: UInt32 = 0xA1B2_C3D4
    public static let nanosecondMagic: UInt32 = 0xA1B2_3C4D

    public let path: String
    public let linkType: UInt32
    public let snaplen: UInt32
    public let precision: TimestampPrecision
    /// Records written so far.
    public private(set) var packetCount = 0

    private let output: BufferedFileOutput

    /// Creates (or truncates) `path` and writes the global header.
    public init(
        path: String,
        linkType: UInt32 = LinkTypeNumber.ethernet,
        snaplen: UInt32 = 262_144,
        precision: TimestampPrecision = .nanoseconds,
        bufferSize: Int = 4 << 20
    ) throws(CaptureFileError) {
        self.path = path
        self.linkType = linkType
        self.snaplen = snaplen
        self.precision = precision
        self.output = try BufferedFileOutput(path: path, capacity: bufferSize)
        try output.appendLE32(precision == .nanoseconds ? Self.nanosecondMagic : Self.microsecondMagic)
        try output.appendLE16(2)  // version major
        try output.appendLE16(4)  // version minor
        try output.appendLE32(0)  // thiszone
        try output.appendLE32(0)  // sigfigs
        try output.appendLE32(snaplen)
        try output.appendLE32(linkType)
    }

    /// Appends one record. caplen is `packet.count`; len (the length on the
    /// wire) is `originalLength ?? packet.count` and must not be smaller.
    /// The timestamp is nanoseconds since the Unix epoch, truncated to
    /// microseconds in a microsecond file.
    public func write(packet: [UInt8], timestampNs: Int64, originalLength: Int? = nil) throws(CaptureFileError) {
        let wireLength = originalLength ?? packet.count
        guard wireLength >= packet.count, wireLength <= Int(UInt32.max) else {
            throw CaptureFileError(path: path, operation: "write",
                                   reason: "original length \(wireLength) below captured length \(packet.count) or beyond 32 bits")
        }
        guard timestampNs >= 0, timestampNs / 1_000_000_000 <= Int64(UInt32.max) else {
            throw CaptureFileError(path: path, operation: "write", reason: "timestamp \(timestampNs) ns outside the pcap range (1970...2106)")
        }
        let seconds = UInt32(timestampNs / 1_000_000_000)
        let fraction = timestampNs % 1_000_000_000
        try output.appendLE32(seconds)
        try output.appendLE32(UInt32(precision == .nanoseconds ? fraction : fraction / 1000))
        try output.appendLE32(UInt32(packet.count))
        try output.appendLE32(UInt32(wireLength))
        try output.append(packet)
        packetCount += 1
    }

    /// Flushes the buffer and closes the file. Safe to call twice; writing
    /// after close throws.
    public func close() throws(CaptureFileError) {
        try output.close()
    }
}
