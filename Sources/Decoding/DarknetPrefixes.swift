/// The darknet's address space, as the capture thread checks each record
/// against it: a packet belongs to the darknet when its destination lies in
/// one of the prefixes and its source in none. Anything else is counted
/// under `DecodeStatus.destinationOutsideDarknet` or `.sourceInsideDarknet`
/// and never aggregated. No prefixes: every packet belongs (the default).
///
/// A value: the prefixes are kept as pre-masked 128-bit pairs, so checking a
/// record is a loop of two ANDs and two compares per prefix, with no
/// allocation, no lock and no dynamic dispatch.
public struct DarknetPrefixes: Sendable, Equatable {
    /// One prefix, masked in the 128-bit space `IPAddress` uses (IPv4 prefixes
    /// in the IPv4-mapped range, so they hold IPv4 addresses only).
    public struct Prefix: Sendable, Equatable, BitwiseCopyable, CustomStringConvertible {
        public let network: IPAddress
        /// The length as written: 0...32 for IPv4, 0...128 for IPv6.
        public let length: Int
        public let isIPv4: Bool
        let maskHigh: UInt64
        let maskLow: UInt64

        /// `network` is masked to `length` (host bits are dropped).
        public init(network: IPAddress, length: Int, isIPv4: Bool) {
            let clamped = max(0, min(length, isIPv4 ? 32 : 128))
            let bits = isIPv4 ? clamped + 96 : clamped  // IPv4-mapped: the top 96 bits are fixed
            maskHigh = bits >= 64 ? ~0 : (bits == 0 ? 0 : ~0 << UInt64(64 - bits))
            maskLow = bits <= 64 ? 0 : (bits >= 128 ? ~0 : ~0 << UInt64(128 - bits))
            self.network = IPAddress(high: network.high & maskHigh, low: network.low & maskLow)
            self.length = clamped
            self.isIPv4 = isIPv4
        }

        @inline(__always)
        public func contains(_ a: IPAddress) -> Bool {
            a.high & maskHigh == network.high && a.low & maskLow == network.low
        }

        /// `192.0.2.0/24`, `2001:db8::/32`: the CIDR text libpcap's `net` accepts.
        public var description: String {
            if isIPv4 {
                let v = network.ipv4
                return "\(v >> 24).\(v >> 16 & 0xFF).\(v >> 8 & 0xFF).\(v & 0xFF)/\(length)"
            }
            return "\(network)/\(length)"
        }
    }

    public let prefixes: [Prefix]

    public init(_ prefixes: [Prefix]) {
        self.prefixes = prefixes
    }

    /// No prefixes: every packet is darknet traffic.
    public static let everything = DarknetPrefixes([])

    public var isEmpty: Bool { prefixes.isEmpty }

    @inline(__always)
    public func contains(_ a: IPAddress) -> Bool {
        for i in prefixes.indices where prefixes[i].contains(a) { return true }
        return false
    }

    /// Marks a decoded record that is not darknet traffic; leaves every other
    /// record as it is.
    @inline(__always)
    public func classify(_ record: inout PacketRecord) {
        guard !prefixes.isEmpty else { return }
        prefixes.withUnsafeBufferPointer { DarknetPrefixes.classify(&record, in: $0) }
    }

    /// `classify` over prefixes the caller keeps in memory of its own: the
    /// capture thread's form, with no reference counting per packet.
    @inline(__always)
    public static func classify(_ record: inout PacketRecord, in prefixes: UnsafeBufferPointer<Prefix>) {
        guard record.status == .ok, !prefixes.isEmpty else { return }
        func contains(_ a: IPAddress) -> Bool {
            for i in prefixes.indices where prefixes[i].contains(a) { return true }
            return false
        }
        if !contains(record.destination) {
            record.status = .destinationOutsideDarknet
        } else if contains(record.source) {
            record.status = .sourceInsideDarknet
        }
    }

    /// The kernel filter (tcpdump syntax) that passes what `classify` keeps:
    /// `(dst net A or dst net B) and not (src net A or src net B)`; nil
    /// without prefixes. It matches IP carried directly on the link layer
    /// (Ethernet, SLL, raw IP; VLAN tags the NIC strips): for packets inside
    /// in-band VLAN tags, MPLS or PPPoE, set `capture.filter` yourself.
    public var bpfFilter: String? {
        guard !prefixes.isEmpty else { return nil }
        let destinations = prefixes.map { "dst net \($0)" }.joined(separator: " or ")
        let sources = prefixes.map { "src net \($0)" }.joined(separator: " or ")
        return "(\(destinations)) and not (\(sources))"
    }
}
