import Decoding

/// The input format of the `decoder` target, shared by the harness and the
/// seed writer so that they agree by construction.
///
/// Byte 0 is a selector, the rest are the captured bytes:
/// - bits 0...6, modulo `LinkType.allCases.count`, pick the link type;
/// - bit 7 set means the capture was cut by the snap length: the wire length
///   is `snapExcess` bytes more than what was captured (NFLOG, for one,
///   reports a cut TLV chain differently then).
public enum DecoderInput {
    public static let linkTypes: [LinkType] = LinkType.allCases
    public static let snappedBit: UInt8 = 0x80
    public static let snapExcess: UInt32 = 64

    /// Link type and wire length that `selector` announces for `capturedCount` bytes.
    @inline(__always)
    public static func parse(selector: UInt8, capturedCount: Int) -> (linkType: LinkType, wireLength: UInt32) {
        let linkType = linkTypes[Int(selector & ~snappedBit) % linkTypes.count]
        let captured = UInt32(truncatingIfNeeded: capturedCount)
        let wireLength = selector & snappedBit != 0 ? captured &+ snapExcess : captured
        return (linkType, wireLength)
    }

    /// A corpus entry for `packet` captured on `linkType`.
    public static func encode(_ linkType: LinkType, snapped: Bool = false, packet: [UInt8]) -> [UInt8] {
        let index = linkTypes.firstIndex(of: linkType)!
        return [UInt8(index) | (snapped ? snappedBit : 0)] + packet
    }
}
