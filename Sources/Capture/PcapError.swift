/// A libpcap failure, typed, with libpcap's own message. Every libpcap
/// return code reaches the rest of the program through `PcapHandle.check`,
/// so this is the only shape a capture error takes.
public struct PcapError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The process lacks a capability; the message names which one.
        case permissionDenied
        /// No interface of that name.
        case noSuchDevice
        /// The interface exists but is down.
        case interfaceDown
        /// The file does not exist or cannot be opened.
        case fileNotFound
        /// The file exists but is not a pcap/pcapng capture libpcap can read.
        case notACapture
        /// The capture's link type is one the decoder does not handle.
        case unsupportedLinkType(dlt: Int32, name: String)
        /// The BPF expression did not compile or could not be installed.
        case badFilter
        /// A read failed after the capture started (truncated file, device gone...).
        case readFailed
        /// Any other libpcap error code (`PCAP_ERROR_*`).
        case other(code: Int32)
    }

    public var kind: Kind
    /// What we were doing: the libpcap call, e.g. `pcap_activate`.
    public var operation: String
    /// The interface or file concerned.
    public var subject: String
    /// libpcap's text (`pcap_geterr` / errbuf / `pcap_statustostr`), plus our hint.
    public var message: String

    public init(kind: Kind, operation: String, subject: String, message: String) {
        self.kind = kind
        self.operation = operation
        self.subject = subject
        self.message = message
    }

    public var description: String {
        switch kind {
        case .permissionDenied:
            return "\(subject): permission denied (\(message)); capture needs CAP_NET_RAW (and CAP_NET_ADMIN to change promiscuous mode or buffer settings on some kernels): run as root, or grant it with `setcap cap_net_raw+ep darknetd` or AmbientCapabilities=CAP_NET_RAW in the unit"
        case .noSuchDevice:
            return "\(subject): no such capture interface (\(message))"
        case .interfaceDown:
            return "\(subject): interface is down (\(message))"
        case .fileNotFound:
            return "\(subject): cannot open (\(message))"
        case .notACapture:
            return "\(subject): not a pcap or pcapng capture (\(message))"
        case .unsupportedLinkType(let dlt, let name):
            return "\(subject): unsupported link type \(name) (DLT \(dlt)); supported: EN10MB, LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6, NULL, LOOP, NFLOG"
        case .badFilter:
            return "\(subject): bad capture filter: \(message)"
        case .readFailed:
            return "\(subject): read failed: \(message)"
        case .other(let code):
            return "\(subject): \(operation) failed (code \(code)): \(message)"
        }
    }
}

/// A libpcap warning (positive return of `pcap_activate`): capture goes on,
/// the operator is told.
public struct PcapWarning: Sendable, Equatable, CustomStringConvertible {
    public var code: Int32
    public var subject: String
    public var message: String

    public var description: String { "\(subject): warning: \(message)" }
}
