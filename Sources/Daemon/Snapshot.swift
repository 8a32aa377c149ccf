import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Crash-safe, versioned, checksummed state files (the daemon's snapshots).
///
/// File layout (all integers big-endian):
///
///     offset  size  field
///          0     8  magic "DKNSNAP\n"
///          8     4  format version (SnapshotStore.formatVersion, this layout: 1)
///         12     4  payload version (the caller's schema version)
///         16     8  payload length N
///         24     N  payload: the value as a binary property list (PropertyListEncoder)
///       24+N     4  CRC-32C (Castagnoli) of bytes 0 ..< 24+N
///
/// Binary property lists are compact, encode every Codable value (including
/// non-finite doubles, which JSON cannot) and decode without a schema of their
/// own; the payload version says which Swift type wrote them.
///
/// Writing: the bytes go to a fresh temporary file in the same directory
/// (`.NAME.tmp.PID.RANDOM`, mode 0600, O_EXCL|O_NOFOLLOW), which is fsynced,
/// renamed over `NAME`, then the directory is fsynced. A crash at any point
/// leaves either the old file or the new one, never a mix. Leftover temporary
/// files of a crashed writer are ignored by `load()` and removed by the next
/// successful `save(_:)`.
///
/// Reading never traps and never throws: a file that is short, corrupt, of
/// another version or undecodable is `.rejected` with the reason, so the
/// daemon starts empty and says why.
public struct SnapshotStore<Payload: Codable>: Sendable {
    /// The layout above.
    public static var formatVersion: UInt32 { 1 }
    static var magic: [UInt8] { Array("DKNSNAP\n".utf8) }
    static var headerSize: Int { 24 }

    public let directory: String
    public let name: String
    public let payloadVersion: UInt32
    /// Files larger than this are rejected unread.
    public let maxBytes: Int

    public init(directory: String, name: String, payloadVersion: UInt32, maxBytes: Int = 1 << 30) {
        precondition(!name.isEmpty && !name.contains("/") && !name.hasPrefix("."), "snapshot name must be a plain file name")
        self.directory = directory
        self.name = name
        self.payloadVersion = payloadVersion
        self.maxBytes = maxBytes
    }

    /// The snapshot's path.
    public var path: String { directory.hasSuffix("/") ? directory + name : directory + "/" + name }

    var temporaryPrefix: String { ".\(name).tmp." }

    // MARK: saving

    /// Encodes and atomically replaces the snapshot (see the type's comment).
    /// Returns the file's size in bytes.
    @discardableResult
    public func save(_ payload: Payload) throws(SnapshotError) -> Int {
        let body: Data
        do {
            let encoder = PropertyListEncoder()
            encoder.outputFormat = .binary
            body = try encoder.encode(payload)
        } catch {
            throw SnapshotError(operation: "encode", path: path, message: "\(error)")
        }
        let bytes = SnapshotStore.frame(payload: body, payloadVersion: payloadVersion)

        try AtomicFile.replace(bytes, to: path, directory: directory, temporaryPrefix: temporaryPrefix)
        removeLeftovers()
        return bytes.count
    }


    /// Removes temporary files left by writers that died mid-save.
    func removeLeftovers() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for leftover in names where leftover.hasPrefix(temporaryPrefix) {
            unlink(directory + "/" + leftover)
        }
    }

    static func frame(payload: Data, payloadVersion: UInt32) -> [UInt8] {
        var bytes = magic
        bytes.reserveCapacity(headerSize + payload.count + 4)
        appendBigEndian(&bytes, formatVersion)
        appendBigEndian(&bytes, payloadVersion)
        appendBigEndian(&bytes, UInt64(payload.count))
        bytes.append(contentsOf: payload)
        appendBigEndian(&bytes, CRC32C.checksum(bytes))
        return bytes
    }

    static func appendBigEndian<T: FixedWidthInteger>(_ bytes: inout [UInt8], _ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    // MARK: loading

    /// The snapshot, or why there is none. Never throws, never traps.
    public func load() -> SnapshotLoadResult<Payload> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            if code == ENOENT { return .missing }
            return .rejected(.unreadable(String(cString: strerror(code))))
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { return .rejected(.unreadable(String(cString: strerror(errno)))) }
        guard status.st_mode & S_IFMT == S_IFREG else { return .rejected(.unreadable("not a regular file")) }
        let size = Int(status.st_size)
        guard size <= maxBytes else { return .rejected(.tooLarge(bytes: size, limit: maxBytes)) }
        var bytes = [UInt8](repeating: 0, count: size)
        var filled = 0
        while filled < size {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, size - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                return .rejected(.unreadable(String(cString: strerror(errno))))
            }
            if n == 0 { break }  // shrank while reading
            filled += n
        }
        return decode(Array(bytes[0..<filled]))
    }

    /// Checks and decodes a whole file's bytes.
    public func decode(_ bytes: [UInt8]) -> SnapshotLoadResult<Payload> {
        let header = SnapshotStore.headerSize
        guard bytes.count >= SnapshotStore.magic.count else { return .rejected(.truncated(bytes: bytes.count)) }
        guard bytes[0..<SnapshotStore.magic.count].elementsEqual(SnapshotStore.magic) else { return .rejected(.notASnapshot) }
        guard bytes.count >= header + 4 else { return .rejected(.truncated(bytes: bytes.count)) }
        let format = SnapshotStore.readBigEndian(bytes, at: 8, as: UInt32.self)
        guard format == SnapshotStore.formatVersion else {
            return .rejected(.unsupportedFormat(found: format, supported: SnapshotStore.formatVersion))
        }
        let length = SnapshotStore.readBigEndian(bytes, at: 16, as: UInt64.self)
        guard length <= UInt64(bytes.count) else { return .rejected(.truncated(bytes: bytes.count)) }
        let total = header + Int(length) + 4
        guard bytes.count >= total else { return .rejected(.truncated(bytes: bytes.count)) }
        guard bytes.count == total else { return .rejected(.trailingBytes(bytes: bytes.count)) }
        let end = header + Int(length)
        let stored = SnapshotStore.readBigEndian(bytes, at: end, as: UInt32.self)
        let computed = CRC32C.checksum(bytes[0..<end])
        guard stored == computed else { return .rejected(.checksumMismatch(stored: stored, computed: computed)) }
        let version = SnapshotStore.readBigEndian(bytes, at: 12, as: UInt32.self)
        guard version == payloadVersion else { return .rejected(.wrongPayloadVersion(found: version, expected: payloadVersion)) }
        do {
            let payload = try PropertyListDecoder().decode(Payload.self, from: Data(bytes[header..<end]))
            return .restored(payload)
        } catch {
            return .rejected(.undecodable("\(error)"))
        }
    }

    static func readBigEndian<T: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int, as: T.Type) -> T {
        var value: T = 0
        for byte in bytes[offset..<offset + MemoryLayout<T>.size] { value = value << 8 | T(byte) }
        return value
    }
}

/// What `SnapshotStore.load()` found.
public enum SnapshotLoadResult<Payload> {
    case restored(Payload)
    /// No snapshot yet (first start, or deleted).
    case missing
    /// A file that must not be trusted; the reason says why.
    case rejected(SnapshotRejection)
}

extension SnapshotLoadResult: Sendable where Payload: Sendable {}
extension SnapshotLoadResult: Equatable where Payload: Equatable {}

/// Why a snapshot file was not restored.
public enum SnapshotRejection: Sendable, Equatable, CustomStringConvertible {
    case unreadable(String)
    case tooLarge(bytes: Int, limit: Int)
    case notASnapshot
    case truncated(bytes: Int)
    case trailingBytes(bytes: Int)
    case unsupportedFormat(found: UInt32, supported: UInt32)
    case checksumMismatch(stored: UInt32, computed: UInt32)
    case wrongPayloadVersion(found: UInt32, expected: UInt32)
    case undecodable(String)

    public var description: String {
        switch self {
        case .unreadable(let why): "cannot read: \(why)"
        case .tooLarge(let bytes, let limit): "\(bytes) bytes, more than the \(limit) allowed"
        case .notASnapshot: "not a darknetd snapshot (bad magic)"
        case .truncated(let bytes): "truncated (\(bytes) bytes)"
        case .trailingBytes(let bytes): "unexpected bytes after the payload (\(bytes) bytes in all)"
        case .unsupportedFormat(let found, let supported): "snapshot format \(found), this build reads \(supported)"
        case .checksumMismatch(let stored, let computed):
            "checksum mismatch (stored \(String(stored, radix: 16)), computed \(String(computed, radix: 16)))"
        case .wrongPayloadVersion(let found, let expected): "payload version \(found), this build expects \(expected)"
        case .undecodable(let why): "payload does not decode: \(why)"
        }
    }
}

/// A failed save: which system call, on what, and the system's message.
public struct SnapshotError: Error, Sendable, Equatable, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var message: String

    public init(operation: String, path: String, message: String) {
        self.operation = operation
        self.path = path
        self.message = message
    }

    static func posix(_ operation: String, _ path: String) -> SnapshotError {
        SnapshotError(operation: operation, path: path, message: String(cString: strerror(errno)))
    }

    public var description: String { "snapshot \(operation) \(path): \(message)" }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven.
/// Check value: CRC32C("123456789") == 0xE3069283.
public enum CRC32C {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            for byte in bytes { crc = t[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        return crc ^ 0xFFFF_FFFF
    }
}

/// Files replaced whole or not at all (snapshots, the hash key).
enum AtomicFile {
    /// Writes `bytes` to `path` atomically: a new 0600 file in `directory`,
    /// written, fsynced and renamed over `path`, then the directory fsynced.
    static func replace(_ bytes: [UInt8], to path: String, directory: String,
                        temporaryPrefix: String) throws(SnapshotError) {
        let temporary = directory + "/" + temporaryPrefix + "\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SnapshotError.posix("open", temporary) }
        var written = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                written += n
            }
            return true
        }
        guard ok else {
            let error = SnapshotError.posix("write", temporary)
            close(fd)
            unlink(temporary)
            throw error
        }
        guard fsync(fd) == 0 else {
            let error = SnapshotError.posix("fsync", temporary)
            close(fd)
            unlink(temporary)
            throw error
        }
        guard close(fd) == 0 else {
            let error = SnapshotError.posix("close", temporary)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let error = SnapshotError.posix("rename", path)
            unlink(temporary)
            throw error
        }
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirfd >= 0 else { throw SnapshotError.posix("open", directory) }
        defer { close(dirfd) }
        guard fsync(dirfd) == 0 else { throw SnapshotError.posix("fsync", directory) }
    }
}
