import Glibc
import Interchange

/// An alert's attributes as the JSON-lines sink names them, `message` aside (it is the text
/// itself), in a reader's order; absent ones left out. The local syslog line and the journal
/// entry carry these, so the three sinks tell the same.
public enum AlertAttributes {
    public static func list(_ a: Alert) -> [(name: String, value: String)] {
        var p: [(String, String)] = [("rule", a.rule.rawValue), ("severity", a.severity.name)]
        if let proto = a.ipProtocol { p.append(("proto", ProtocolName.name(proto))) }
        if let port = a.port { p.append(("port", String(port))) }
        if let address = a.address { p.append(("address", address.description)) }
        p.append(("metric", a.metric))
        p.append(("observed", AlertNumber.format(a.observed)))
        p.append(("baseline", AlertNumber.format(a.baseline)))
        p.append(("deviation", AlertNumber.format(a.deviation)))
        if let s = a.observedSources { p.append(("sources_observed", String(s))) }
        if let s = a.baselineSources { p.append(("sources_baseline", AlertNumber.format(s))) }
        if let c = a.correlation {
            p.append(("feed_observed", AlertNumber.format(c.feedObserved)))
            p.append(("feed_baseline", AlertNumber.format(c.feedBaseline)))
            if let lag = c.lagBuckets { p.append(("lag_buckets", String(lag))) }
        }
        if let s = a.suppressed { p.append(("suppressed", String(s))) }
        p.append(("key", a.key))
        p.append(("time", RFC3339.format(a.timeNs, fractionDigits: 6)))
        p.append(("time_ns", String(a.timeNs)))
        p.append(("severity_code", String(a.severity.rawValue)))
        if !a.topSources.isEmpty {
            p.append(("top_sources", a.topSources.map { "\($0.address)/\($0.packets)" }.joined(separator: ",")))
        }
        return p
    }
}

/// A local wall-clock time as BSD syslog writes it (`Mmm dd hh:mm:ss`, no year, no zone).
public struct LocalTimestamp: Sendable, Equatable {
    public var month: Int   // 1...12
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int

    public init(month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    /// Now, in the local time zone (as logger(1) and syslog(3) stamp).
    public static func now() -> LocalTimestamp {
        var t = time_t()
        time(&t)
        var parts = tm()
        localtime_r(&t, &parts)
        return LocalTimestamp(month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday), hour: Int(parts.tm_hour),
                              minute: Int(parts.tm_min), second: Int(parts.tm_sec))
    }

    /// `Dec  4 21:48:51`: day padded with a space, as RFC 3164 §4.1.2 has it.
    public var text: String {
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let d = day < 10 ? " \(day)" : "\(day)"
        return "\(months[max(1, min(12, month)) - 1]) \(d) \(two(hour)):\(two(minute)):\(two(second))"
    }
}

/// The local syslog line, as logger(1) and syslog(3) send it to /dev/log, which rsyslogd's
/// and journald's /dev/log parsers read correctly:
///
///     <PRI>Mmm dd hh:mm:ss darknetd[PID]: MESSAGE rule=… severity=… port=53 …
///
/// - The attributes follow the message as `key=value` (`AlertAttributes`), a value quoted
///   (`"…"`, with `\"` and `\\`) when it is empty or holds a space, `"` or `=`.
/// - Valid UTF-8 is kept; `\` becomes `\\`; controls, DEL and bytes that are not UTF-8
///   become `\xHH`, so a line is one line.
/// - The whole line is at most `maxBytes` (never below 480): what does not fit is cut at a
///   character (and escape) boundary, so the attributes read last (`top_sources`) go first.
public enum LocalSyslogFormat {
    public static func message(_ alert: Alert, facility: SyslogFacility = .daemon, tag: String = "darknetd",
                               pid: Int32 = getpid(), time: LocalTimestamp = .now(), maxBytes: Int = 2048) -> [UInt8] {
        let limit = max(480, maxBytes)
        var out = Array("<\(facility.rawValue * 8 + alert.severity.rawValue)>\(time.text) ".utf8)
        var tagBytes = 0
        for b in tag.utf8 where tagBytes < 32 {
            // A tag ends at the first character that is not alphanumeric or one of -._/ (rsyslog's parser).
            out.append((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x2E || b == 0x5F ? b : 0x5F)
            tagBytes += 1
        }
        if tagBytes == 0 { out += Array("darknetd".utf8) }
        out += Array("[\(pid)]: ".utf8)

        var text: [UInt8] = []
        appendText(Array(alert.message.utf8), quoted: false, into: &text)
        for (name, value) in AlertAttributes.list(alert) {
            var unit = Array(" \(name)=".utf8)
            let bytes = Array(value.utf8)
            let quote = bytes.isEmpty || bytes.contains { $0 == 0x20 || $0 == 0x22 || $0 == 0x3D }
            if quote { unit.append(0x22) }
            appendText(bytes, quoted: quote, into: &unit)
            if quote { unit.append(0x22) }
            text += unit
        }
        let room = limit - out.count
        if text.count <= room {
            out += text
        } else {
            out += text.prefix(cutPoint(text, limit: room))
        }
        return out
    }

    /// Escapes `bytes` (see the type) into `out`.
    static func appendText(_ bytes: [UInt8], quoted: Bool, into out: inout [UInt8]) {
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let length = SyslogFormat.utf8SequenceLength(bytes, at: i)
            if length == 0 {
                out += SyslogFormat.hex(b)
                i += 1
            } else if length == 1 {
                switch b {
                case 0x5C: out += [0x5C, 0x5C]
                case 0x22 where quoted: out += [0x5C, 0x22]
                case 0x00..<0x20, 0x7F: out += SyslogFormat.hex(b)
                default: out.append(b)
                }
                i += 1
            } else {
                let isC1 = length == 2 && bytes[i] == 0xC2 && bytes[i + 1] < 0xA0
                if isC1 { out += bytes[i..<(i + 2)].flatMap(SyslogFormat.hex) } else { out += bytes[i..<(i + length)] }
                i += length
            }
        }
    }

    /// The longest prefix of escaped text within `limit` that ends on a character and not
    /// inside a `\xHH`, `\\` or `\"` escape.
    static func cutPoint(_ text: [UInt8], limit: Int) -> Int {
        var i = 0
        var last = 0
        while i < text.count {
            var n = 1
            if text[i] == 0x5C, i + 1 < text.count {
                n = text[i + 1] == 0x78 ? 4 : 2
            } else if text[i] >= 0x80 {
                n = max(1, SyslogFormat.utf8SequenceLength(text, at: i))
            }
            if i + n > limit { break }
            i += n
            last = i
        }
        return last
    }
}

/// systemd-journald's native protocol (systemd.journal-fields(7), "Native Journal
/// Protocol"): one datagram of `NAME=value\n` fields; a value holding a newline is sent as
/// `NAME\n`, its length as a little-endian 64-bit integer, the bytes, `\n`.
///
/// Fields: `MESSAGE`, `PRIORITY` (the severity's code), `SYSLOG_FACILITY`,
/// `SYSLOG_IDENTIFIER`, then `DARKNET_<NAME>` for every attribute the JSON-lines sink
/// writes (`AlertAttributes`: `DARKNET_RULE`, `DARKNET_SEVERITY`, `DARKNET_PORT`, …).
public enum JournalFormat {
    public static func fields(_ alert: Alert, facility: SyslogFacility = .daemon,
                              identifier: String = "darknetd") -> [(name: String, value: String)] {
        var f: [(String, String)] = [
            ("MESSAGE", alert.message),
            ("PRIORITY", String(alert.severity.rawValue)),
            ("SYSLOG_FACILITY", String(facility.rawValue)),
            ("SYSLOG_IDENTIFIER", identifier),
        ]
        for (name, value) in AlertAttributes.list(alert) {
            f.append((fieldName("darknet_" + name), value))
        }
        return f
    }

    /// A journal field name: upper-case letters, digits and `_`, not starting with `_` or a digit, at most 64 bytes.
    public static func fieldName(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars.prefix(64) {
            switch scalar {
            case "a"..."z": out.unicodeScalars.append(Unicode.Scalar(scalar.value - 32)!)
            case "A"..."Z", "0"..."9", "_": out.unicodeScalars.append(scalar)
            default: out.append("_")
            }
        }
        while out.first == "_" || (out.first?.isNumber ?? false) { out.removeFirst() }
        return out.isEmpty ? "FIELD" : out
    }

    public static func entry(_ fields: [(name: String, value: String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (name, value) in fields {
            let bytes = Array(value.utf8)
            out += Array(name.utf8)
            if bytes.contains(0x0A) {
                out.append(0x0A)
                let length = UInt64(bytes.count)
                for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: length >> UInt64(shift))) }
                out += bytes
            } else {
                out.append(0x3D)
                out += bytes
            }
            out.append(0x0A)
        }
        return out
    }

    public static func entry(_ alert: Alert, facility: SyslogFacility = .daemon, identifier: String = "darknetd") -> [UInt8] {
        entry(fields(alert, facility: facility, identifier: identifier))
    }
}
