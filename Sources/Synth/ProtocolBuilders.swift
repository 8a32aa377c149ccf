import Decoding

// More builders: link layers the decoder reads beyond Ethernet/SLL/NULL, the
// IPv6 authentication header, and the application payloads of the UDP probes
// `ProbeInspector` recognises.
extension PacketBuilder {
    // MARK: link layers

    /// MPLS label stack (RFC 3032) around `payload`; bottom-of-stack is set on the last label.
    public static func mpls(labels: [UInt32], trafficClass: UInt8 = 0, ttl: UInt8 = 64, payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (index, label) in labels.enumerated() {
            let bottom: UInt32 = index == labels.count - 1 ? 1 : 0
            bytes.appendBE32((label & 0xFFFFF) << 12 | UInt32(trafficClass & 7) << 9 | bottom << 8 | UInt32(ttl))
        }
        return bytes + payload
    }

    /// PPPoE session-stage header (RFC 2516) and the PPP protocol field around `payload`
    /// (0x0021 IPv4, 0x0057 IPv6). Goes after EtherType 0x8864.
    public static func pppoeSession(sessionID: UInt16 = 1, pppProtocol: UInt16, payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0x11, 0x00]
        bytes.appendBE16(sessionID)
        bytes.appendBE16(UInt16(truncatingIfNeeded: payload.count + 2))
        bytes.appendBE16(pppProtocol)
        return bytes + payload
    }

    /// One NFLOG TLV: little-endian length (header included) and type, value, padding to 4.
    public static func nflogTLV(type: UInt16, value: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendLE16(UInt16(truncatingIfNeeded: 4 + value.count))
        bytes.appendLE16(type)
        bytes += value
        while bytes.count % 4 != 0 { bytes.append(0) }
        return bytes
    }

    /// DLT_NFLOG record: header (family, version 0, resource id big-endian), an
    /// NFULA_PACKET_HDR TLV (1), an NFULA_PREFIX TLV (10) when `prefix` is set,
    /// then NFULA_PAYLOAD (9) holding `payload`.
    public static func nflog(family: UInt8, resourceID: UInt16 = 0, prefix: String? = "darknet", payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [family, 0]
        bytes.appendBE16(resourceID)
        var header: [UInt8] = []
        header.appendBE16(family == 10 ? 0x86DD : 0x0800)  // hw_protocol
        header += [1, 0]  // hook (NF_INET_LOCAL_IN), pad
        bytes += nflogTLV(type: 1, value: header)
        if let prefix { bytes += nflogTLV(type: 10, value: Array(prefix.utf8) + [0]) }
        bytes += nflogTLV(type: 9, value: payload)
        return bytes
    }

    // MARK: IPv6

    /// IPv6 authentication header (51, RFC 4302) with an `icvLength`-byte ICV.
    public static func ipv6AuthenticationHeader(nextHeader: UInt8, spi: UInt32 = 0x100, sequence: UInt32 = 1, icvLength: Int = 12, payload: [UInt8]) -> [UInt8] {
        let total = 12 + icvLength
        var bytes: [UInt8] = [nextHeader, UInt8(total / 4 - 2), 0, 0]
        bytes.appendBE32(spi)
        bytes.appendBE32(sequence)
        bytes += [UInt8](repeating: 0xA5, count: icvLength)
        return bytes + payload
    }

    // MARK: probe payloads

    /// DNS message with one question (RFC 1035). `ednsPayloadSize` adds an
    /// EDNS0 OPT record (RFC 6891) to the additional section.
    public static func dnsQuery(
        id: UInt16 = 0x1234, name: String, type: UInt16 = 1, isResponse: Bool = false,
        recursionDesired: Bool = true, ednsPayloadSize: UInt16? = nil
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendBE16(id)
        bytes.append((isResponse ? 0x80 : 0) | (recursionDesired ? 0x01 : 0))
        bytes.append(0)
        bytes.appendBE16(1)  // QDCOUNT
        bytes.appendBE16(0)  // ANCOUNT
        bytes.appendBE16(0)  // NSCOUNT
        bytes.appendBE16(ednsPayloadSize == nil ? 0 : 1)  // ARCOUNT
        bytes += dnsName(name)
        bytes.appendBE16(type)
        bytes.appendBE16(1)  // IN
        if let size = ednsPayloadSize {
            bytes.append(0)  // root
            bytes.appendBE16(41)  // OPT
            bytes.appendBE16(size)
            bytes.appendBE32(0)  // extended RCODE, version, flags
            bytes.appendBE16(0)  // RDLENGTH
        }
        return bytes
    }

    /// A domain name as length-prefixed labels ending with the root label.
    public static func dnsName(_ name: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for label in name.split(separator: ".") {
            bytes.append(UInt8(truncatingIfNeeded: label.utf8.count))
            bytes += Array(label.utf8)
        }
        bytes.append(0)
        return bytes
    }

    /// NTP mode 7 request (ntpdc): version 2, implementation 3 (XNTPD), `requestCode`
    /// (42 MON_GETLIST_1, 20 MON_GETLIST), padded as ntpdc sends it.
    public static func ntpMode7(requestCode: UInt8, implementation: UInt8 = 3) -> [UInt8] {
        [0x17, 0x00, implementation, requestCode] + [UInt8](repeating: 0, count: 44)
    }

    /// NTP client request (mode 3, version 4), 48 bytes.
    public static func ntpClient() -> [UInt8] {
        [0x23] + [UInt8](repeating: 0, count: 47)
    }

    /// SSDP discovery request (UPnP 1.1).
    public static func ssdpMSearch(searchTarget: String = "ssdp:all") -> [UInt8] {
        Array("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: \(searchTarget)\r\n\r\n".utf8)
    }

    /// memcached UDP request: frame header (request id, sequence 0, 1 datagram, reserved) and a text command.
    public static func memcachedRequest(_ command: String = "stats\r\n", requestID: UInt16 = 0) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendBE16(requestID)
        bytes.appendBE16(0)
        bytes.appendBE16(1)
        bytes.appendBE16(0)
        return bytes + Array(command.utf8)
    }

    /// One BER TLV with a definite length (short form, or the 0x84 four-byte long form).
    public static func ber(_ tag: UInt8, _ contents: [UInt8], longForm: Bool = false) -> [UInt8] {
        var bytes: [UInt8] = [tag]
        if longForm {
            bytes.append(0x84)
            bytes.appendBE32(UInt32(contents.count))
        } else if contents.count < 0x80 {
            bytes.append(UInt8(contents.count))
        } else if contents.count < 0x100 {
            bytes += [0x81, UInt8(contents.count)]
        } else {
            bytes.append(0x82)
            bytes.appendBE16(UInt16(truncatingIfNeeded: contents.count))
        }
        return bytes + contents
    }

    /// CLDAP searchRequest for the rootDSE (`(objectClass=*)`), as reflection
    /// scanners send it. `longForm` uses 0x84 lengths like Windows clients;
    /// `rfc1798User` adds RFC 1798's `user` DN field.
    public static func cldapSearchRequest(messageID: UInt8 = 1, longForm: Bool = false, rfc1798User: Bool = false) -> [UInt8] {
        let search = ber(0x04, [])  // baseObject ""
            + ber(0x0A, [0])  // scope baseObject
            + ber(0x0A, [0])  // derefAliases never
            + ber(0x02, [0])  // sizeLimit
            + ber(0x02, [0])  // timeLimit
            + ber(0x01, [0])  // typesOnly FALSE
            + ber(0x87, Array("objectClass".utf8))  // present filter
            + ber(0x30, [])  // attributes
        var message = ber(0x02, [messageID])
        if rfc1798User { message += ber(0x04, []) }
        message += ber(0x63, search, longForm: longForm)
        return ber(0x30, message, longForm: longForm)
    }

    /// SNMP v1/v2c request (RFC 3416): `pduTag` 0xA0 GetRequest, 0xA1 GetNext,
    /// 0xA5 GetBulk, 0xA3 SetRequest..., for one OID (default sysDescr.0).
    public static func snmpRequest(version: UInt8 = 1, community: String = "public", pduTag: UInt8 = 0xA0,
                                   oid: [UInt8] = [0x2B, 6, 1, 2, 1, 1, 1, 0]) -> [UInt8] {
        let varbind = ber(0x30, ber(0x06, oid) + [0x05, 0x00])
        let pdu = ber(pduTag, ber(0x02, [1]) + ber(0x02, [0]) + ber(0x02, [pduTag == 0xA5 ? 10 : 0]) + ber(0x30, varbind))
        return ber(0x30, ber(0x02, [version]) + ber(0x04, Array(community.utf8)) + pdu)
    }
}
