/// Byte images of the pcapng blocks this package writes (little-endian
/// section). Each block is: type (4), total length (4), body padded to a
/// multiple of 4, total length again (4).
public enum Pcapng {
    public static let sectionHeaderType: UInt32 = 0x0A0D_0D0A
    public static let interfaceDescriptionType: UInt32 = 0x0000_0001
    public static let enhancedPacketType: UInt32 = 0x0000_0006
    public static let byteOrderMagic: UInt32 = 0x1A2B_3C4D

    /// Option codes used here.
    public static let optionEndOfOptions: UInt16 = 0
    public static let shbUserApplication: UInt16 = 4
    public static let ifName: UInt16 = 2
    public static let ifTimestampResolution: UInt16 = 9

    /// One interface of a section, i.e. one Interface Description Block.
    public struct Interface: Sendable, Equatable {
        public var linkType: UInt32
        public var snaplen: UInt32
        /// `.nanoseconds` writes if_tsresol = 9; `.microseconds` writes no
        /// option (10^-6 is the pcapng default).
        public var resolution: TimestampPrecision
        /// Optional if_name option.
        public var name: String?

        public init(linkType: UInt32 = LinkTypeNumber.ethernet, snaplen: UInt32 = 262_144,
                    resolution: TimestampPrecision = .nanoseconds, name: String? = nil) {
            self.linkType = linkType
            self.snaplen = snaplen
            self.resolution = resolution
            self.name = name
        }
    }

    /// Section Header Block: BOM 0x1A2B3C4D, version 1.0, section length -1
    /// (unknown), optional shb_userappl.
    public static func sectionHeader(userApplication: String? = nil) -> [UInt8] {
        var body: [UInt8] = []
        body.appendLE32(byteOrderMagic)
        body.appendLE16(1)
        body.appendLE16(0)
        body += [UInt8](repeating: 0xFF, count: 8)  // section length: -1
        var options: [(UInt16, [UInt8])] = []
        if let userApplication { options.append((shbUserApplication, Array(userApplication.utf8))) }
        body += encodeOptions(options)
        return block(type: sectionHeaderType, body: body)
    }

    /// Interface Description Block: link type, reserved, snaplen, options.
    public static func interfaceDescription(_ interface: Interface) -> [UInt8] {
        var body: [UInt8] = []
        body.appendLE16(UInt16(truncatingIfNeeded: interface.linkType))
        body.appendLE16(0)
        body.appendLE32(interface.snaplen)
        var options: [(UInt16, [UInt8])] = []
        if let name = interface.name { options.append((ifName, Array(name.utf8))) }
        if interface.resolution == .nanoseconds { options.append((ifTimestampResolution, [9])) }
        body += encodeOptions(options)
        return block(type: interfaceDescriptionType, body: body)
    }

    /// Total length of an EPB carrying `capturedLength` bytes and no options.
    public static func enhancedPacketLength(capturedLength: Int) -> Int {
        32 + paddedLength(capturedLength)
    }

    /// Enhanced Packet Block: interface id, 64-bit timestamp (high word
    /// first) in the interface's units, caplen, len, data padded to 4.
    public static func enhancedPacket(interfaceID: UInt32, timestamp: UInt64, packet: [UInt8], originalLength: Int? = nil) -> [UInt8] {
        var body: [UInt8] = []
        body.appendLE32(interfaceID)
        body.appendLE32(UInt32(truncatingIfNeeded: timestamp >> 32))
        body.appendLE32(UInt32(truncatingIfNeeded: timestamp))
        body.appendLE32(UInt32(packet.count))
        body.appendLE32(UInt32(truncatingIfNeeded: originalLength ?? packet.count))
        body += packet
        body += [UInt8](repeating: 0, count: paddedLength(packet.count) - packet.count)
        return block(type: enhancedPacketType, body: body)
    }

    /// Timestamp in an interface's units from nanoseconds since the epoch.
    public static func timestamp(_ nanoseconds: Int64, resolution: TimestampPrecision) -> UInt64 {
        let ns = UInt64(max(nanoseconds, 0))
        return resolution == .nanoseconds ? ns : ns / 1000
    }

    public static func paddedLength(_ count: Int) -> Int { (count + 3) & ~3 }

    static func encodeOptions(_ options: [(UInt16, [UInt8])]) -> [UInt8] {
        guard !options.isEmpty else { return [] }
        var bytes: [UInt8] = []
        for (code, value) in options {
            bytes.appendLE16(code)
            bytes.appendLE16(UInt16(value.count))
            bytes += value
            bytes += [UInt8](repeating: 0, count: paddedLength(value.count) - value.count)
        }
        bytes.appendLE16(optionEndOfOptions)
        bytes.appendLE16(0)
        return bytes
    }

    static func block(type: UInt32, body: [UInt8]) -> [UInt8] {
        let total = UInt32(12 + body.count)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(total))
        bytes.appendLE32(type)
        bytes.appendLE32(total)
        bytes += body
        bytes.appendLE32(total)
        return bytes
    }
}

/// Writes a minimal pcapng file: one section (SHB), one or more interfaces
/// (IDBs), then Enhanced Packet Blocks. Interfaces may be added between
/// packets; an EPB may only name an interface already described.
///
/// Not thread-safe: one writer, one thread.
public final class PcapngFileWriter {
    public let path: String
    public private(set) var interfaces: [Pcapng.Interface] = []
    /// Enhanced Packet Blocks written so far.
    public private(set) var packetCount = 0

    private let output: BufferedFileOutput

    /// Creates (or truncates) `path` and writes the SHB and one IDB per
    /// element of `interfaces` (interface ids 0, 1, ... in that order).
    public init(
        path: String,
        interfaces: [Pcapng.Interface] = [Pcapng.Interface()],
        userApplication: String? = nil,
        bufferSize: Int = 4 << 20
    ) throws(CaptureFileError) {
        self.path = path
        self.output = try BufferedFileOutput(path: path, capacity: bufferSize)
        try output.append(Pcapng.sectionHeader(userApplication: userApplication))
        for interface in interfaces { _ = try addInterface(interface) }
    }

    /// Writes an IDB; returns the new interface's id.
    @discardableResult
    public func addInterface(_ interface: Pcapng.Interface) throws(CaptureFileError) -> UInt32 {
        try output.append(Pcapng.interfaceDescription(interface))
        interfaces.append(interface)
        return UInt32(interfaces.count - 1)
    }

    /// Appends one EPB on `interfaceID`. caplen is `packet.count`, len is
    /// `originalLength ?? packet.count`; the timestamp (ns since the epoch)
    /// is converted to the interface's resolution.
    public func write(packet: [UInt8], timestampNs: Int64, originalLength: Int? = nil, interfaceID: UInt32 = 0) throws(CaptureFileError) {
        guard Int(interfaceID) < interfaces.count else {
            throw CaptureFileError(path: path, operation: "write", reason: "interface \(interfaceID) not described (have \(interfaces.count))")
        }
        let wireLength = originalLength ?? packet.count
        guard wireLength >= packet.count, wireLength <= Int(UInt32.max) else {
            throw CaptureFileError(path: path, operation: "write",
                                   reason: "original length \(wireLength) below captured length \(packet.count) or beyond 32 bits")
        }
        guard timestampNs >= 0 else {
            throw CaptureFileError(path: path, operation: "write", reason: "negative timestamp \(timestampNs) ns")
        }
        let units = Pcapng.timestamp(timestampNs, resolution: interfaces[Int(interfaceID)].resolution)
        let padded = Pcapng.paddedLength(packet.count)
        let total = UInt32(32 + padded)
        try output.appendLE32(Pcapng.enhancedPacketType)
        try output.appendLE32(total)
        try output.appendLE32(interfaceID)
        try output.appendLE32(UInt32(truncatingIfNeeded: units >> 32))
        try output.appendLE32(UInt32(truncatingIfNeeded: units))
        try output.appendLE32(UInt32(packet.count))
        try output.appendLE32(UInt32(wireLength))
        try output.append(packet)
        try output.appendZeros(padded - packet.count)
        try output.appendLE32(total)
        packetCount += 1
    }

    /// Flushes the buffer and closes the file. Safe to call twice.
    public func close() throws(CaptureFileError) {
        try output.close()
    }
}
