import Foundation

// The Unix socket address builder of the stats client, the stats server's probe and
// sd_notify (Daemon). Alerts' datagram sinks build their own (Sources/Alerts/SinkSocket.swift):
// Alerts sits below this module and takes no abstract names.

/// Calls `body` with a `sockaddr_un` for `path`; nil if the path does not fit.
/// A leading "@" names an abstract socket (no file; the address is not NUL-terminated).
package func withUnixAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R? {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    var bytes = Array(path.utf8)
    let abstract = bytes.first == UInt8(ascii: "@")
    if abstract { bytes[0] = 0 }
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard bytes.count < capacity || (abstract && bytes.count <= capacity) else { return nil }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
    }
    let length = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + bytes.count + (abstract ? 0 : 1)
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(length)) }
    }
}
