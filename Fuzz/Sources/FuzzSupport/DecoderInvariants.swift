import Decoding

/// What must hold for the record of ANY captured bytes. Each line states a
/// promise of `PacketRecord`'s documentation (or docs/decoding.md) that the
/// aggregation side relies on without re-checking.
public enum DecoderInvariants {
    public static func check(_ record: PacketRecord, capturedCount: Int, wireLength: UInt32,
                             timestampNs: Int64, linkType: LinkType) {
        let flags = record.flags
        let status = record.status
        let proto = record.ipProtocol

        // Bookkeeping the decoder copies from its caller.
        invariant(record.capturedLength == UInt32(truncatingIfNeeded: capturedCount),
                  "capturedLength \(record.capturedLength) != \(capturedCount) bytes")
        invariant(record.wireLength == wireLength, "wireLength \(record.wireLength) != \(wireLength)")
        invariant(record.timestampNs == timestampNs, "timestamp changed")

        // The status is one of the declared cases (its raw byte is stored and counted).
        invariant(DecodeStatus(rawValue: status.rawValue) != nil, "status raw value \(status.rawValue)")
        invariant(status != .unsupportedLinkType, "unsupported-link-type for a LinkType case")
        invariant(ProbeKind(rawValue: record.probe.rawValue) != nil, "probe raw value \(record.probe.rawValue)")

        // IP version.
        invariant(record.ipVersion == 0 || record.ipVersion == 4 || record.ipVersion == 6,
                  "ipVersion \(record.ipVersion)")
        if status == .ok {
            invariant(record.ipVersion == 4 || record.ipVersion == 6, "status ok with ipVersion \(record.ipVersion)")
        }
        if record.ipVersion == 4 {
            invariant(record.source.isIPv4 && record.destination.isIPv4, "IPv4 record with a non-IPv4 address")
        }

        // Ports, TCP, ICMP: only from a decoded header of that protocol.
        if flags.contains(.hasPorts) {
            invariant(status == .ok, "hasPorts with status \(status.name)")
            invariant(proto == IPProtocolNumber.tcp || proto == IPProtocolNumber.udp, "hasPorts with protocol \(proto)")
        }
        if flags.contains(.hasTCP) {
            invariant(proto == IPProtocolNumber.tcp && flags.contains(.hasPorts), "hasTCP with protocol \(proto)")
        }
        if flags.contains(.hasICMP) {
            invariant(status == .ok, "hasICMP with status \(status.name)")
            invariant(proto == IPProtocolNumber.icmp || proto == IPProtocolNumber.icmpv6, "hasICMP with protocol \(proto)")
            invariant(!flags.contains(.hasPorts), "hasICMP and hasPorts")
        }
        if !flags.contains(.hasPorts) {
            invariant(record.sourcePort == 0 && record.destinationPort == 0, "ports without hasPorts")
        }

        // Fragments: a non-first fragment has no L4 header.
        if flags.contains(.nonFirstFragment) {
            invariant(flags.contains(.fragment), "nonFirstFragment without fragment")
            invariant(!flags.contains(.hasPorts), "nonFirstFragment with ports")
            invariant(!flags.contains(.hasTCP) && !flags.contains(.hasICMP), "nonFirstFragment with an L4 header")
            invariant(record.probe == .none, "nonFirstFragment with a probe")
        }

        // ICMP error quotes.
        if flags.contains(.hasInner) {
            invariant(flags.contains(.hasICMP), "hasInner without hasICMP")
        }
        if flags.contains(.innerHasPorts) {
            invariant(flags.contains(.hasInner), "innerHasPorts without hasInner")
            invariant(record.innerProtocol == IPProtocolNumber.tcp || record.innerProtocol == IPProtocolNumber.udp,
                      "innerHasPorts with inner protocol \(record.innerProtocol)")
        }

        // Probes are UDP payloads.
        if record.probe != .none {
            invariant(flags.contains(.hasPorts) && proto == IPProtocolNumber.udp, "probe \(record.probe.name) without UDP ports")
        }
        if flags.contains(.dnsAny) || flags.contains(.dnsLargeEDNS) {
            invariant(record.probe == .dnsQuery, "DNS flags on probe \(record.probe.name)")
        }

        // VLAN tags exist only on Ethernet.
        if flags.contains(.vlanTagged) {
            invariant(linkType == .ethernet, "vlanTagged on \(linkType.name)")
            invariant(record.vlanID <= 0x0FFF, "vlanID \(record.vlanID)")
        } else {
            invariant(record.vlanID == 0, "vlanID without vlanTagged")
        }

        // Flags are only the declared bits.
        invariant(flags.rawValue >> 10 == 0, "undeclared flag bits \(flags.rawValue)")
    }
}
