import CPcap
import Decoding
import Foundation

/// Options of a live capture handle (`pcap_create` + `pcap_set_*`).
public struct LiveCaptureOptions: Sendable, Equatable {
    public var interface: String
    /// Bytes kept of each packet. Headers and the probe payloads fit in 512.
    public var snaplen: Int32 = 512
    public var promiscuous: Bool = true
    /// Deliver packets as they arrive instead of when the buffer fills or the timeout fires.
    public var immediate: Bool = false
    /// Kernel buffer in bytes; nil keeps libpcap's default (2 MiB).
    public var bufferSize: Int32? = 16 << 20
    /// Read timeout in milliseconds (how long `pcap_dispatch` may wait for a batch).
    public var timeoutMilliseconds: Int32 = 100
    /// BPF filter expression; nil captures everything.
    public var filter: String?

    public init(interface: String) {
        self.interface = interface
    }
}

/// One open libpcap handle, live or offline. Owns the `pcap_t`; every call
/// into libpcap goes through `check`, the one place a return code becomes a
/// `PcapError`.
///
/// @unchecked Sendable: the handle is used by the capture thread only, except
/// `breakLoop()`, which libpcap documents as callable from another thread.
public final class PcapHandle: @unchecked Sendable {
    let raw: OpaquePointer
    /// Interface name or file path.
    public let subject: String
    public let isLive: Bool
    /// The link-layer type as libpcap reports it (DLT_*).
    public let dlt: Int32
    public let linkType: LinkType
    /// Multiplier from the header's sub-second field to nanoseconds.
    let subsecondToNanoseconds: Int64
    /// Warnings from activation (e.g. promiscuous mode not supported).
    public private(set) var warnings: [PcapWarning] = []

    private init(raw: OpaquePointer, subject: String, isLive: Bool, nanoseconds: Bool) throws(PcapError) {
        self.raw = raw
        self.subject = subject
        self.isLive = isLive
        self.subsecondToNanoseconds = nanoseconds ? 1 : 1000
        self.dlt = pcap_datalink(raw)
        guard let linkType = LinkType(dlt: dlt) else {
            let name = pcap_datalink_val_to_name(dlt).map { String(cString: $0) } ?? "unknown"
            pcap_close(raw)
            throw PcapError(kind: .unsupportedLinkType(dlt: dlt, name: name), operation: "pcap_datalink",
                            subject: subject, message: name)
        }
        self.linkType = linkType
    }

    deinit {
        pcap_close(raw)
    }

    /// Libpcap's name of this handle's link type (`EN10MB`, `LINUX_SLL2`, ...).
    public var linkTypeName: String {
        pcap_datalink_val_to_name(dlt).map { String(cString: $0) } ?? "DLT_\(dlt)"
    }

    // MARK: opening

    /// Opens a live capture: `pcap_create`, options, `pcap_activate`, filter.
    public static func openLive(_ options: LiveCaptureOptions) throws(PcapError) -> PcapHandle {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let raw = pcap_create(options.interface, &errbuf) else {
            throw PcapError(kind: .other(code: PCAP_ERROR), operation: "pcap_create", subject: options.interface,
                            message: errbufText(errbuf))
        }
        let subject = options.interface
        var warnings: [PcapWarning] = []
        var nanoseconds = true
        do {
            try check(pcap_set_snaplen(raw, options.snaplen), "pcap_set_snaplen", raw, subject)
            try check(pcap_set_promisc(raw, options.promiscuous ? 1 : 0), "pcap_set_promisc", raw, subject)
            try check(pcap_set_immediate_mode(raw, options.immediate ? 1 : 0), "pcap_set_immediate_mode", raw, subject)
            try check(pcap_set_timeout(raw, options.timeoutMilliseconds), "pcap_set_timeout", raw, subject)
            if let size = options.bufferSize {
                try check(pcap_set_buffer_size(raw, size), "pcap_set_buffer_size", raw, subject)
            }
            do {
                try check(pcap_set_tstamp_precision(raw, Int32(PCAP_TSTAMP_PRECISION_NANO)), "pcap_set_tstamp_precision", raw, subject)
            } catch {
                nanoseconds = false  // microseconds then; not worth failing for
            }
            let status = try check(pcap_activate(raw), "pcap_activate", raw, subject)
            if status > 0 {
                warnings.append(PcapWarning(code: status, subject: subject, message: statusText(status, raw)))
            }
            if !nanoseconds || pcap_get_tstamp_precision(raw) != Int32(PCAP_TSTAMP_PRECISION_NANO) {
                nanoseconds = false
            }
        } catch {
            pcap_close(raw)
            throw error
        }
        let handle = try PcapHandle(raw: raw, subject: subject, isLive: true, nanoseconds: nanoseconds)
        handle.warnings = warnings
        if let filter = options.filter {
            try handle.setFilter(filter)
        }
        return handle
    }

    /// Opens a pcap or pcapng file with nanosecond timestamps.
    public static func openOffline(path: String) throws(PcapError) -> PcapHandle {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw PcapError(kind: .fileNotFound, operation: "pcap_open_offline", subject: path, message: "is a directory")
        }
        guard let raw = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) else {
            let readable = FileManager.default.isReadableFile(atPath: path)
            throw PcapError(kind: readable ? .notACapture : .fileNotFound, operation: "pcap_open_offline",
                            subject: path, message: errbufText(errbuf))
        }
        return try PcapHandle(raw: raw, subject: path, isLive: false, nanoseconds: true)
    }

    /// Compiles and installs a BPF filter.
    public func setFilter(_ expression: String) throws(PcapError) {
        var program = bpf_program()
        do {
            try check(pcap_compile(raw, &program, expression, 1, PCAP_NETMASK_UNKNOWN), "pcap_compile")
            defer { pcap_freecode(&program) }
            try check(pcap_setfilter(raw, &program), "pcap_setfilter")
        } catch {
            throw PcapError(kind: .badFilter, operation: error.operation, subject: subject,
                            message: "\"\(expression)\": \(error.message)")
        }
    }

    // MARK: the one error path

    /// Turns a libpcap return code into a value or a typed error carrying
    /// libpcap's message. Non-negative codes pass through (activation warnings
    /// are positive).
    @discardableResult
    func check(_ code: Int32, _ operation: String) throws(PcapError) -> Int32 {
        try PcapHandle.check(code, operation, raw, subject)
    }

    @discardableResult
    static func check(_ code: Int32, _ operation: String, _ raw: OpaquePointer, _ subject: String) throws(PcapError) -> Int32 {
        if code >= 0 { return code }
        let message = statusText(code, raw)
        let kind: PcapError.Kind
        switch code {
        case PCAP_ERROR_PERM_DENIED, PCAP_ERROR_PROMISC_PERM_DENIED: kind = .permissionDenied
        case PCAP_ERROR_NO_SUCH_DEVICE: kind = .noSuchDevice
        case PCAP_ERROR_IFACE_NOT_UP: kind = .interfaceDown
        default:
            // libpcap reports some permission failures as plain PCAP_ERROR.
            if message.contains("Operation not permitted") || message.contains("ermission denied") {
                kind = .permissionDenied
            } else {
                kind = .other(code: code)
            }
        }
        throw PcapError(kind: kind, operation: operation, subject: subject, message: message)
    }

    /// `pcap_geterr` when libpcap filled it for this code, else `pcap_statustostr`.
    static func statusText(_ code: Int32, _ raw: OpaquePointer) -> String {
        let detail = pcap_geterr(raw).map { String(cString: $0) } ?? ""
        let generic = pcap_statustostr(code).map { String(cString: $0) } ?? "code \(code)"
        switch code {
        case PCAP_ERROR, PCAP_WARNING, PCAP_ERROR_PERM_DENIED, PCAP_ERROR_NO_SUCH_DEVICE,
             PCAP_ERROR_PROMISC_PERM_DENIED, PCAP_ERROR_IFACE_NOT_UP, PCAP_ERROR_RFMON_NOTSUP:
            return detail.isEmpty ? generic : detail
        default:
            return generic
        }
    }

    static func errbufText(_ errbuf: [CChar]) -> String {
        let bytes = errbuf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: reading

    /// `pcap_dispatch`: delivers up to `count` packets to `callback`. Returns
    /// the number delivered, or nil when `pcap_breakloop` ended it.
    func dispatch(count: Int32, callback: pcap_handler, user: UnsafeMutablePointer<UInt8>) throws(PcapError) -> Int32? {
        let delivered = pcap_dispatch(raw, count, callback, user)
        if delivered == PCAP_ERROR_BREAK { return nil }
        do {
            return try check(delivered, "pcap_dispatch")
        } catch {
            throw PcapError(kind: .readFailed, operation: error.operation, subject: subject, message: error.message)
        }
    }

    /// `pcap_next_ex` on a file: the next packet, or nil at the end of the
    /// file. The bytes are borrowed: valid until the next call on this handle.
    func next() throws(PcapError) -> (header: UnsafePointer<pcap_pkthdr>, bytes: UnsafePointer<UInt8>)? {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var bytes: UnsafePointer<UInt8>?
        let status = pcap_next_ex(raw, &header, &bytes)
        if status == PCAP_ERROR_BREAK { return nil }  // end of file
        do {
            try check(status, "pcap_next_ex")
        } catch {
            throw PcapError(kind: .readFailed, operation: error.operation, subject: subject, message: error.message)
        }
        guard status == 1, let header, let bytes else { return nil }
        return (UnsafePointer(header), bytes)
    }

    /// Asks a running `pcap_dispatch` to return; safe from another thread.
    public func breakLoop() {
        pcap_breakloop(raw)
    }

    /// The kernel's counters for a live handle, as libpcap's 32-bit values.
    func rawStatistics() throws(PcapError) -> (received: UInt32, dropped: UInt32, interfaceDropped: UInt32) {
        var stats = pcap_stat()
        try check(pcap_stats(raw, &stats), "pcap_stats")
        return (stats.ps_recv, stats.ps_drop, stats.ps_ifdrop)
    }

    /// Nanoseconds since the epoch from a libpcap header.
    @inline(__always)
    func timestampNanoseconds(_ header: UnsafePointer<pcap_pkthdr>) -> Int64 {
        Int64(header.pointee.ts.tv_sec) &* 1_000_000_000 &+ Int64(header.pointee.ts.tv_usec) &* subsecondToNanoseconds
    }
}
