/// Decodes captured bytes into a `PacketRecord`: link layer, IPv4/IPv6
/// (with extension headers and fragments), TCP/UDP/ICMP, ICMP error quotes,
/// and UDP reflection probes (`ProbeInspector`).
///
/// The hot path: no allocation, no existentials, no throwing. Each layer
/// checks that the bytes it reads were captured before reading them, and a
/// layer hands the next one a `Span` that ends where that layer's data ends
/// (the IP layer cuts at its total length, so trailing Ethernet padding is
/// never read as payload). Errors are reported in `record.status`; see
/// docs/decoding.md for every reason.
///
/// `decode` is a regular (not `@inlinable`) entry point on purpose: it is
/// large, non-generic and called once per packet, so a call is cheaper than
/// inlining the whole decoder into every caller; within the module the small
/// byte readers are `@inline(__always)` and whole-module optimisation inlines
/// the layers.
public struct PacketDecoder: Sendable {
    public let linkType: LinkType

    public init(linkType: LinkType) {
        self.linkType = linkType
    }

    /// Resets `record` and fills it from `bytes` (the captured data, caplen bytes).
    public func decode(_ bytes: Span<UInt8>, wireLength: UInt32, timestampNs: Int64, into record: inout PacketRecord) {
        record = PacketRecord()
        record.timestampNs = timestampNs
        record.wireLength = wireLength
        record.capturedLength = UInt32(truncatingIfNeeded: bytes.count)
        record.status = LinkLayer.decode(bytes, linkType: linkType, into: &record)
    }
}
