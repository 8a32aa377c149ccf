/// The kernel's capture counters (`pcap_stats`), widened to 64 bits.
public struct KernelStatistics: Sendable, Equatable, Codable {
    /// Packets the kernel saw on the socket (`ps_recv`).
    public var received: UInt64 = 0
    /// Dropped for lack of buffer space (`ps_drop`).
    public var dropped: UInt64 = 0
    /// Dropped by the interface or driver (`ps_ifdrop`).
    public var interfaceDropped: UInt64 = 0

    public init(received: UInt64 = 0, dropped: UInt64 = 0, interfaceDropped: UInt64 = 0) {
        self.received = received
        self.dropped = dropped
        self.interfaceDropped = interfaceDropped
    }

    enum CodingKeys: String, CodingKey {
        case received, dropped
        case interfaceDropped = "if_dropped"
    }
}

/// Widens libpcap's 32-bit counters: each reading adds its difference from
/// the previous one modulo 2^32, so a counter that wraps keeps counting up.
/// Correct as long as fewer than 2^32 packets pass between two readings
/// (the capture thread reads about once a second).
public struct KernelCounterWidener: Sendable {
    private var last: (UInt32, UInt32, UInt32) = (0, 0, 0)
    public private(set) var totals = KernelStatistics()

    public init() {}

    public mutating func update(received: UInt32, dropped: UInt32, interfaceDropped: UInt32) {
        totals.received &+= UInt64(received &- last.0)
        totals.dropped &+= UInt64(dropped &- last.1)
        totals.interfaceDropped &+= UInt64(interfaceDropped &- last.2)
        last = (received, dropped, interfaceDropped)
    }
}
