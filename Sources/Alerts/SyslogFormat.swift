import Interchange

/// RFC 3164/5424 facilities (code × 8 + severity = PRI).
public enum SyslogFacility: Int, Sendable, Codable, CaseIterable {
    case kern = 0, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp
    case local0 = 16, local1, local2, local3, local4, local5, local6, local7

    public init?(name: String) {
        guard let f = SyslogFacility.allCases.first(where: { "\($0)" == name }) else { return nil }
        self = f
    }

    public var name: String { "\(self)" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let text = try? c.decode(String.self), let f = SyslogFacility(name: text) {
            self = f
        } else if let code = try? c.decode(Int.self), let f = SyslogFacility(rawValue: code) {
            self = f
        } else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "unknown syslog facility")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(name)
    }
}

/// RFC 5424 message text of an alert, built byte by byte (no `%` formats):
///
///     <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [darknet@32473 k="v" …] MSG
///
/// - TIMESTAMP: the alert's time (bucket or event start), RFC 3339 UTC, so a replay is
///   byte-identical; HOSTNAME, APP-NAME, PROCID, MSGID: printable US-ASCII only (others
///   become `_`), cut to 255/48/128/32 bytes, `-` when empty.
/// - SD-ID `darknet@32473`: 32473 is the IANA example Private Enterprise Number (RFC 5612);
///   a site with its own PEN should use it instead.
/// - PARAM-VALUEs: valid UTF-8 is kept; `"`, `\` and `]` get a backslash (RFC 5424
///   §6.3.3); C0 controls, DEL, C1 controls and bytes that are not UTF-8 become `\xHH` per
///   byte; each value is cut to `maxParamValueBytes` at a character boundary.
/// - MSG: printable ASCII is kept, `\` becomes `\\`, everything else `\xHH` per byte, so MSG
///   is plain ASCII (no BOM needed).
/// - The whole message is at most `maxBytes` (never below 512): parameters that do not fit
///   are cut (the last one at a character boundary) or left out, then MSG is cut; the SD
///   element is always closed.
public enum SyslogFormat {
    public static let sdID = "darknet@32473"

    public static func message(_ alert: Alert, facility: SyslogFacility = .daemon, hostname: String,
                               appName: String = "darknetd", procID: String, maxBytes: Int = 2048,
                               maxParamValueBytes: Int = 256) -> [UInt8] {
        let limit = max(512, maxBytes)
        var out: [UInt8] = []
        out.reserveCapacity(min(limit, 1024))
        out += Array("<\(facility.rawValue * 8 + alert.severity.rawValue)>1 ".utf8)
        out += Array(RFC3339.format(alert.timeNs, fractionDigits: 6).utf8)
        out.append(0x20)
        appendHeaderField(hostname, max: 255, into: &out)
        out.append(0x20)
        appendHeaderField(appName, max: 48, into: &out)
        out.append(0x20)
        appendHeaderField(procID, max: 128, into: &out)
        out.append(0x20)
        appendHeaderField(alert.rule.rawValue, max: 32, into: &out)
        out.append(0x20)

        out += Array("[\(sdID)".utf8)
        let closing = 1
        for (name, value) in parameters(alert) {
            let room = limit - closing - out.count
            let head = Array(" \(name)=\"".utf8)
            guard room >= head.count + 1 else { break }
            out += head
            let budget = room - head.count - 1
            let complete = appendEscaped(Array(value.utf8), mode: .parameter,
                                         limit: min(max(0, maxParamValueBytes), budget), into: &out)
            out.append(0x22)
            // Cut by the per-value bound: go on; cut by the message bound: nothing else fits.
            if !complete && budget <= maxParamValueBytes { break }
        }
        out.append(0x5D)

        let room = limit - out.count
        if room >= 2 {
            out.append(0x20)
            _ = appendEscaped(Array(alert.message.utf8), mode: .message, limit: room - 1, into: &out)
        }
        return out
    }

    /// SD parameters in order: rule, proto, port, observed, baseline, severity, then the rest.
    public static func parameters(_ a: Alert) -> [(String, String)] {
        var p: [(String, String)] = [("rule", a.rule.rawValue)]
        if let proto = a.ipProtocol { p.append(("proto", ProtocolName.name(proto))) }
        if let port = a.port { p.append(("port", String(port))) }
        p.append(("observed", AlertNumber.format(a.observed)))
        p.append(("baseline", AlertNumber.format(a.baseline)))
        p.append(("severity", a.severity.name))
        p.append(("deviation", AlertNumber.format(a.deviation)))
        p.append(("metric", a.metric))
        p.append(("key", a.key))
        if let address = a.address { p.append(("address", address.description)) }
        if let s = a.observedSources { p.append(("sources", String(s))) }
        if let s = a.baselineSources { p.append(("sources_baseline", AlertNumber.format(s))) }
        if let c = a.correlation {
            p.append(("feed_observed", AlertNumber.format(c.feedObserved)))
            p.append(("feed_baseline", AlertNumber.format(c.feedBaseline)))
            if let lag = c.lagBuckets { p.append(("lag_buckets", String(lag))) }
        }
        if let s = a.suppressed { p.append(("suppressed", String(s))) }
        if !a.topSources.isEmpty {
            p.append(("top_sources", a.topSources.map { "\($0.address)/\($0.packets)" }.joined(separator: ",")))
        }
        return p
    }

    public enum EscapeMode: Sendable {
        /// RFC 5424 PARAM-VALUE: UTF-8 kept, `"` `\` `]` backslashed, controls/invalid `\xHH`.
        case parameter
        /// MSG: printable ASCII kept, `\` backslashed, everything else `\xHH`.
        case message
    }

    /// Escapes `bytes` into `out`, never writing more than `limit` bytes and never splitting a
    /// character or an escape. Returns false when it had to stop early.
    @discardableResult
    public static func appendEscaped(_ bytes: [UInt8], mode: EscapeMode, limit: Int, into out: inout [UInt8]) -> Bool {
        var used = 0
        var i = 0
        func emit(_ unit: [UInt8]) -> Bool {
            guard used + unit.count <= limit else { return false }
            out += unit
            used += unit.count
            return true
        }
        while i < bytes.count {
            let b = bytes[i]
            let length = utf8SequenceLength(bytes, at: i)
            var unit: [UInt8]
            if length == 0 {
                unit = hex(b)
                i += 1
            } else if length == 1 {
                switch b {
                case 0x22, 0x5D:
                    unit = mode == .parameter ? [0x5C, b] : [b]
                case 0x5C:
                    unit = [0x5C, 0x5C]
                case 0x00..<0x20, 0x7F:
                    unit = hex(b)
                default:
                    unit = [b]
                }
                i += 1
            } else {
                let sequence = Array(bytes[i..<(i + length)])
                let isC1 = length == 2 && sequence[0] == 0xC2 && sequence[1] < 0xA0
                if mode == .message || isC1 {
                    unit = sequence.flatMap(hex)
                } else {
                    unit = sequence
                }
                i += length
            }
            if !emit(unit) { return false }
        }
        return true
    }

    /// Length of the valid UTF-8 sequence starting at `i`, or 0 if the byte there does not
    /// start one (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
    static func utf8SequenceLength(_ b: [UInt8], at i: Int) -> Int {
        let lead = b[i]
        func cont(_ j: Int, _ range: ClosedRange<UInt8> = 0x80...0xBF) -> Bool {
            j < b.count && range.contains(b[j])
        }
        switch lead {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: return cont(i + 1) ? 2 : 0
        case 0xE0: return cont(i + 1, 0xA0...0xBF) && cont(i + 2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF: return cont(i + 1) && cont(i + 2) ? 3 : 0
        case 0xED: return cont(i + 1, 0x80...0x9F) && cont(i + 2) ? 3 : 0
        case 0xF0: return cont(i + 1, 0x90...0xBF) && cont(i + 2) && cont(i + 3) ? 4 : 0
        case 0xF1...0xF3: return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0
        case 0xF4: return cont(i + 1, 0x80...0x8F) && cont(i + 2) && cont(i + 3) ? 4 : 0
        default: return 0
        }
    }

    static func hex(_ b: UInt8) -> [UInt8] {
        let digits = Array("0123456789ABCDEF".utf8)
        return [0x5C, 0x78, digits[Int(b >> 4)], digits[Int(b & 0x0F)]]
    }

    /// Header fields: PRINTUSASCII (33...126) only, others `_`; `-` when empty.
    static func appendHeaderField(_ text: String, max: Int, into out: inout [UInt8]) {
        var n = 0
        for b in text.utf8 {
            guard n < max else { break }
            out.append((33...126).contains(b) ? b : 0x5F)
            n += 1
        }
        if n == 0 { out.append(0x2D) }
    }
}
