#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why writing a capture file failed. `description` always names the path.
public struct CaptureFileError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String
    /// What was being done: "open", "write", "close", or a validation step.
    public let operation: String
    /// Human-readable cause (strerror text or the violated rule).
    public let reason: String

    public init(path: String, operation: String, reason: String) {
        self.path = path
        self.operation = operation
        self.reason = reason
    }

    public var description: String { "\(operation) \(path): \(reason)" }

    static func system(_ operation: String, path: String, errorNumber: Int32) -> CaptureFileError {
        CaptureFileError(path: path, operation: operation, reason: String(cString: strerror(errorNumber)))
    }
}

/// Append-only file with one large user-space buffer: a packet costs a
/// memcpy, and the kernel sees one write(2) per `capacity` bytes. Values are
/// stored little-endian whatever the host, so files are byte-identical
/// everywhere. Both capture writers sit on top of this.
final class BufferedFileOutput {
    let path: String
    private var descriptor: Int32
    private let buffer: UnsafeMutableRawPointer
    private let capacity: Int
    private var used = 0

    init(path: String, capacity: Int = 4 << 20) throws(CaptureFileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .system("open", path: path, errorNumber: errno) }
        self.path = path
        self.descriptor = fd
        self.capacity = max(capacity, 4096)
        self.buffer = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit {
        if descriptor >= 0 {
            try? flush()
            _ = closeDescriptor(descriptor)
        }
        buffer.deallocate()
    }

    var isOpen: Bool { descriptor >= 0 }

    /// Makes room for `count` contiguous bytes, flushing if needed; returns
    /// false when `count` exceeds the buffer (caller must write directly).
    @inline(__always)
    private func reserve(_ count: Int) throws(CaptureFileError) -> Bool {
        guard descriptor >= 0 else { throw CaptureFileError(path: path, operation: "write", reason: "file already closed") }
        if used + count > capacity { try flush() }
        return count <= capacity
    }

    func appendLE16(_ value: UInt16) throws(CaptureFileError) {
        _ = try reserve(2)
        buffer.storeBytes(of: value.littleEndian, toByteOffset: used, as: UInt16.self)
        used += 2
    }

    func appendLE32(_ value: UInt32) throws(CaptureFileError) {
        _ = try reserve(4)
        buffer.storeBytes(of: value.littleEndian, toByteOffset: used, as: UInt32.self)
        used += 4
    }

    func appendLE64(_ value: UInt64) throws(CaptureFileError) {
        _ = try reserve(8)
        buffer.storeBytes(of: value.littleEndian, toByteOffset: used, as: UInt64.self)
        used += 8
    }

    func appendZeros(_ count: Int) throws(CaptureFileError) {
        guard count > 0 else { return }
        _ = try reserve(count)
        (buffer + used).initializeMemory(as: UInt8.self, repeating: 0, count: count)
        used += count
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws(CaptureFileError) {
        guard bytes.count > 0, let base = bytes.baseAddress else { return }
        if try reserve(bytes.count) {
            (buffer + used).copyMemory(from: base, byteCount: bytes.count)
            used += bytes.count
        } else {
            try writeFully(base, count: bytes.count)
        }
    }

    func append(_ bytes: [UInt8]) throws(CaptureFileError) {
        // withUnsafeBytes is rethrows-untyped; keep the typed error outside it.
        var failure: CaptureFileError?
        bytes.withUnsafeBytes { raw in
            do throws(CaptureFileError) { try append(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    func flush() throws(CaptureFileError) {
        guard used > 0 else { return }
        let count = used
        used = 0
        try writeFully(UnsafeRawPointer(buffer), count: count)
    }

    private func writeFully(_ pointer: UnsafeRawPointer, count: Int) throws(CaptureFileError) {
        var offset = 0
        while offset < count {
            let written = write(descriptor, pointer + offset, count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw .system("write", path: path, errorNumber: errno)
            }
            offset += written
        }
    }

    /// Flushes and closes; idempotent. A failed flush still closes the descriptor.
    func close() throws(CaptureFileError) {
        guard descriptor >= 0 else { return }
        var failure: CaptureFileError?
        do { try flush() } catch { failure = error }
        let fd = descriptor
        descriptor = -1
        if closeDescriptor(fd) != 0, failure == nil { failure = .system("close", path: path, errorNumber: errno) }
        if let failure { throw failure }
    }
}

/// At file scope `close` is the C function, not the method above.
private func closeDescriptor(_ fd: Int32) -> Int32 { close(fd) }
