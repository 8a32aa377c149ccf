/// Turns one line of Python `repr()` output of dicts (what a collector gets
/// by printing the NORSE stream in Python: `{'md5': u'1.2.3.4', 'x': None}`)
/// into JSON texts that Foundation can decode, one per top-level object.
///
/// It is a tokenizer, not a parser: it rewrites string literals (single or
/// double quoted, `u`/`b`/`r` prefixes, escapes including `\'`, `\xNN`,
/// `\uNNNN`, `\UNNNNNNNN`), the names `True`/`False`/`None`, and Python 2
/// long suffixes (`12L`), and copies everything else. Structure is checked
/// afterwards by `JSONDecoder`, so a broken line still fails there.
/// Concatenated objects (`{...}{...}`, as happens when a collector drops a
/// newline) come back as separate texts. Plain JSON passes through unchanged
/// in meaning.
enum PythonLiteral {
    enum Failure: Error, Equatable {
        case unterminatedString
        case badEscape
        case unknownName(String)
        case unbalanced
    }

    static func jsonTexts(_ line: some StringProtocol) -> Result<[String], Failure> {
        let input = Array(line.utf8)
        var texts: [String] = []
        var out: [UInt8] = []
        out.reserveCapacity(input.count + 16)
        var depth = 0
        var i = 0
        while i < input.count {
            let c = input[i]
            switch c {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                switch copyString(input, from: i, raw: false, into: &out) {
                case let .success(next): i = next
                case let .failure(failure): return .failure(failure)
                }
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                out.append(c)
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                guard depth >= 0 else { return .failure(.unbalanced) }
                out.append(c)
                if depth == 0 {
                    texts.append(String(decoding: out, as: UTF8.self))
                    out.removeAll(keepingCapacity: true)
                }
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"):
                var j = i
                while j < input.count, isNameByte(input[j]) { j += 1 }
                let name = String(decoding: input[i..<j], as: UTF8.self)
                // String prefixes: u'..', b'..', r'..', ur'..', rb'..'.
                if j < input.count, input[j] == UInt8(ascii: "'") || input[j] == UInt8(ascii: "\""),
                   name.count <= 2, name.lowercased().allSatisfy({ "ubr".contains($0) }) {
                    switch copyString(input, from: j, raw: name.lowercased().contains("r"), into: &out) {
                    case let .success(next): i = next
                    case let .failure(failure): return .failure(failure)
                    }
                    continue
                }
                switch name {
                case "True", "true": out += Array("true".utf8)
                case "False", "false": out += Array("false".utf8)
                case "None", "null": out += Array("null".utf8)
                default: return .failure(.unknownName(String(name.prefix(20))))
                }
                i = j
                continue
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                // Copy a number; drop a Python 2 long suffix.
                var j = i
                while j < input.count, isNumberByte(input[j]) { j += 1 }
                out += input[i..<j]
                if j < input.count, input[j] == UInt8(ascii: "L") || input[j] == UInt8(ascii: "l") { j += 1 }
                i = j
                continue
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"):
                if depth > 0 { out.append(c) }
            default:
                out.append(c)
            }
            i += 1
        }
        guard depth == 0 else { return .failure(.unbalanced) }
        let rest = out.filter { $0 != UInt8(ascii: " ") }
        if !rest.isEmpty || texts.isEmpty {
            // Something outside any object (a bare value, a stray token): let JSON judge it.
            texts.append(String(decoding: out, as: UTF8.self))
        }
        return .success(texts)
    }

    static func isNameByte(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_")
    }

    static func isNumberByte(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: ".") || c == UInt8(ascii: "e")
            || c == UInt8(ascii: "E") || c == UInt8(ascii: "+") || c == UInt8(ascii: "-")
    }

    /// Copies the string literal starting at `start` (its opening quote) as a
    /// JSON string; returns the index after the closing quote.
    static func copyString(_ input: [UInt8], from start: Int, raw: Bool, into out: inout [UInt8]) -> Result<Int, Failure> {
        let quote = input[start]
        out.append(UInt8(ascii: "\""))
        var i = start + 1
        while i < input.count {
            let c = input[i]
            if c == quote {
                out.append(UInt8(ascii: "\""))
                return .success(i + 1)
            }
            if c == UInt8(ascii: "\\") {
                guard i + 1 < input.count else { return .failure(.unterminatedString) }
                let e = input[i + 1]
                if raw {
                    // Raw strings keep the backslash; an escaped quote stays in the string.
                    out += Array("\\\\".utf8)
                    if e == quote || e == UInt8(ascii: "\\") { appendEscaped(e, to: &out) } else { i += 1; continue }
                    i += 2
                    continue
                }
                switch e {
                case UInt8(ascii: "'"): out.append(e)
                case UInt8(ascii: "\""): out += Array("\\\"".utf8)
                case UInt8(ascii: "\\"): out += Array("\\\\".utf8)
                case UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "n"): out += Array("\\n".utf8)
                case UInt8(ascii: "r"): out += Array("\\r".utf8)
                case UInt8(ascii: "t"): out += Array("\\t".utf8)
                case UInt8(ascii: "b"): out += Array("\\b".utf8)
                case UInt8(ascii: "f"): out += Array("\\f".utf8)
                case UInt8(ascii: "a"): out += Array("\\u0007".utf8)
                case UInt8(ascii: "v"): out += Array("\\u000b".utf8)
                case UInt8(ascii: "0"): out += Array("\\u0000".utf8)
                case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
                    let width = e == UInt8(ascii: "x") ? 2 : e == UInt8(ascii: "u") ? 4 : 8
                    if width == 4, i + 6 <= input.count,
                       let unit = UInt32(String(decoding: input[(i + 2)..<(i + 6)], as: UTF8.self), radix: 16),
                       (0xD800...0xDFFF).contains(unit) {
                        // A UTF-16 surrogate (JSON's way of writing astral characters): JSON pairs them up.
                        out += input[i..<(i + 6)]
                        i += 6
                        continue
                    }
                    guard i + 2 + width <= input.count,
                          let scalarValue = UInt32(String(decoding: input[(i + 2)..<(i + 2 + width)], as: UTF8.self), radix: 16),
                          let scalar = Unicode.Scalar(scalarValue) else { return .failure(.badEscape) }
                    if scalarValue < 0x20 || scalarValue == 0x22 || scalarValue == 0x5C {
                        appendEscaped(UInt8(scalarValue), to: &out)
                    } else {
                        out += Array(String(Character(scalar)).utf8)
                    }
                    i += 2 + width
                    continue
                default:
                    // Python keeps unknown escapes literally: backslash and character.
                    out += Array("\\\\".utf8)
                    i += 1
                    continue
                }
                i += 2
                continue
            }
            if c == UInt8(ascii: "\"") {
                out += Array("\\\"".utf8)
            } else if c < 0x20 {
                appendEscaped(c, to: &out)
            } else {
                out.append(c)
            }
            i += 1
        }
        return .failure(.unterminatedString)
    }

    static func appendEscaped(_ c: UInt8, to out: inout [UInt8]) {
        if c == UInt8(ascii: "\"") { out += Array("\\\"".utf8); return }
        if c == UInt8(ascii: "\\") { out += Array("\\\\".utf8); return }
        if c >= 0x20 { out.append(c); return }
        let hex = Array("0123456789abcdef".utf8)
        out += Array("\\u00".utf8)
        out.append(hex[Int(c >> 4)])
        out.append(hex[Int(c & 0xF)])
    }
}
