import CSensorShims
import Glibc

/// A failed system call: which one and its errno.
public struct SystemCallError: Error, Sendable, Equatable, CustomStringConvertible {
    public var call: String
    public var errno: Int32

    public init(_ call: String, _ errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// The sinks' system calls: the module's only code that touches C pointers (sockaddr
/// structures, send buffers). Every call's return code goes through `checked`, which turns
/// -1 into the errno of that call (EINTR retried there, nowhere else).
enum SinkSocket {
    /// Runs `call` until it does not fail with EINTR; -1 becomes `SystemCallError`.
    static func checked<T: BinaryInteger>(_ name: String, _ call: () -> T) -> Result<T, SystemCallError> {
        while true {
            let result = call()
            if result >= 0 { return .success(result) }
            let code = Glibc.errno
            if code == EINTR { continue }
            return .failure(SystemCallError(name, code))
        }
    }

    static func close(_ fd: Int32) {
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    // MARK: Unix datagram sockets (/dev/log, journald)

    static func unixDatagram() -> Result<Int32, SystemCallError> {
        checked("socket") { socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
    }

    /// One datagram to the socket at `path`, never blocking (MSG_DONTWAIT). A datagram the
    /// kernel takes only in part is EMSGSIZE.
    static func send(_ fd: Int32, to path: String, _ datagram: [UInt8]) -> Result<Void, SystemCallError> {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: address.sun_path), !bytes.contains(0) else {
            return .failure(SystemCallError("sendto", ENAMETOOLONG))
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + 1)
        let result = checked("sendto") {
            datagram.withUnsafeBytes { buffer in
                withUnsafePointer(to: &address) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                        sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL), sa, length)
                    }
                }
            }
        }
        switch result {
        case .success(let n): return n == datagram.count ? .success(()) : .failure(SystemCallError("sendto", EMSGSIZE))
        case .failure(let e): return .failure(e)
        }
    }

    /// journald's fallback for an entry too large for one datagram: the bytes in a sealed
    /// memfd, whose descriptor alone is sent (SCM_RIGHTS).
    static func sendSealedMemory(_ fd: Int32, to path: String, _ bytes: [UInt8]) -> Result<Void, SystemCallError> {
        let memory = checked("memfd_create") { bytes.withUnsafeBytes { csensor_memfd_sealed("darknetd-journal", $0.baseAddress, $0.count) } }
        guard case .success(let memfd) = memory else {
            if case .failure(let e) = memory { return .failure(e) }
            return .failure(SystemCallError("memfd_create", EIO))
        }
        defer { close(memfd) }
        return checked("sendmsg") { csensor_send_fd(fd, path, memfd) }.map { _ in () }
    }

    // MARK: Internet sockets (remote collector)

    /// A socket connected to `host`:`port` (the first address that accepts; TCP connects
    /// with a send/receive timeout of `timeoutSeconds`, so a dead collector cannot stall the
    /// alert stage for longer).
    static func connect(host: String, port: UInt16, stream: Bool, timeoutSeconds: Int = 2) -> Result<Int32, SystemCallError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = stream ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            // getaddrinfo has its own codes; a name that does not resolve is "host unreachable".
            return .failure(SystemCallError("getaddrinfo \(host)", status == EAI_SYSTEM ? Glibc.errno : EHOSTUNREACH))
        }
        defer { freeaddrinfo(first) }
        var lastError = SystemCallError("connect", EHOSTUNREACH)
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let e = entry {
            entry = e.pointee.ai_next
            let made = checked("socket") { socket(e.pointee.ai_family, e.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), e.pointee.ai_protocol) }
            guard case .success(let fd) = made else {
                if case .failure(let error) = made { lastError = error }
                continue
            }
            if stream {
                var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
                let size = socklen_t(MemoryLayout<timeval>.size)
                _ = checked("setsockopt") { setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, size) }
                _ = checked("setsockopt") { setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, size) }
            }
            switch checked("connect", { Glibc.connect(fd, e.pointee.ai_addr, e.pointee.ai_addrlen) }) {
            case .success: return .success(fd)
            case .failure(let error):
                lastError = error
                close(fd)
            }
        }
        return .failure(lastError)
    }

    /// All of `bytes` on a connected socket (a stream may take them in parts).
    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Result<Void, SystemCallError> {
        var offset = 0
        while offset < bytes.count {
            let result = checked("send") {
                bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            }
            switch result {
            case .success(let n): offset += n
            case .failure(let e): return .failure(e)
            }
        }
        return .success(())
    }

    // MARK: Files (JSON lines)

    static func openAppend(_ path: String) -> Result<Int32, SystemCallError> {
        checked("open") { Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644) }
    }

    /// Appends `bytes` with write(2); when the disk fills part-way the file is cut back to its
    /// size before (no torn line), so a retry writes the whole line again.
    static func append(_ fd: Int32, _ bytes: [UInt8]) -> Result<Void, SystemCallError> {
        var status = stat()
        let before: off_t? = (try? checked("fstat") { fstat(fd, &status) }.get()) != nil ? status.st_size : nil
        var offset = 0
        while offset < bytes.count {
            let result = checked("write") { bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) } }
            switch result {
            case .success(let n) where n > 0: offset += n
            case .success: return .failure(SystemCallError("write", ENOSPC))
            case .failure(let e):
                if offset > 0, let before { _ = checked("ftruncate") { ftruncate(fd, before) } }
                return .failure(e)
            }
        }
        return .success(())
    }
}
