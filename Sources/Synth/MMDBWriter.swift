#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Decoding

/// A value in a MaxMind DB data section.
public indirect enum MMDBValue: Hashable, Sendable {
    case string(String)
    case uint16(UInt16)
    case uint32(UInt32)
    case uint64(UInt64)
    case int32(Int32)
    case boolean(Bool)
    case double(Double)
    case array([MMDBValue])
    /// Keys are written in sorted order, so output is deterministic.
    case map([String: MMDBValue])

    /// `{"country": {"iso_code": code}}`: the part of a GeoLite2-Country
    /// record a country lookup reads.
    public static func countryRecord(iso code: String) -> MMDBValue {
        .map(["country": .map(["iso_code": .string(code)])])
    }
}

/// Why `MMDBWriter` refused a network or could not produce a file.
public struct MMDBWriterError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "MMDB writer: \(reason)" }
}

/// Writes small MaxMind DB files (format 2.0,
/// https://maxmind.github.io/MaxMind-DB/) in pure Swift, so the GeoIP
/// tests and demos need no downloaded database.
///
/// Layout: a binary search tree of `nodeCount` nodes with 24-bit records
/// (left = bit 0, right = bit 1; a record equal to `nodeCount` means "no
/// data", larger values point at `record - nodeCount - 16` in the data
/// section), 16 zero bytes, the data section, then
/// `"\u{AB}\u{CD}\u{EF}MaxMind.com"` and the metadata map.
///
/// In an IPv6 tree (the default, like GeoLite2) IPv4 networks are inserted
/// under `::/96`, which is where libmaxminddb walks for an IPv4 lookup, and
/// `::ffff:0:0/96` is aliased to the same subtree, as MaxMind's own files
/// do, so IPv4-mapped IPv6 lookups agree. Identical records are stored once;
/// a repeated string (map keys, codes) is written once and then referenced
/// by a pointer, as real databases do.
///
/// When networks overlap, the more specific one wins whatever the insertion
/// order; for the same network, the last insertion wins.
public struct MMDBWriter: Sendable {
    public var databaseType: String
    /// 4 or 6.
    public let ipVersion: Int
    public var languages: [String]
    public var descriptions: [String: String]
    public var buildEpoch: UInt64
    /// Alias `::ffff:0:0/96` to the IPv4 subtree (IPv6 trees only).
    public var aliasIPv4Mapped: Bool = true

    private struct Network: Sendable {
        /// Prefix bits in tree coordinates (IPv4 in an IPv6 tree is `::a.b.c.d`).
        var high: UInt64
        var low: UInt64
        var length: Int
        var record: Int
        var order: Int
    }

    private var networks: [Network] = []
    private var records: [MMDBValue] = []
    private var recordIndex: [MMDBValue: Int] = [:]

    public init(
        databaseType: String,
        ipVersion: Int = 6,
        languages: [String] = ["en"],
        descriptions: [String: String] = ["en": "darknet-sensor synthetic test database"],
        buildEpoch: UInt64 = 1_700_000_000
    ) {
        precondition(ipVersion == 4 || ipVersion == 6, "ipVersion must be 4 or 6")
        self.databaseType = databaseType
        self.ipVersion = ipVersion
        self.languages = languages
        self.descriptions = descriptions
        self.buildEpoch = buildEpoch
    }

    /// Number of networks inserted so far.
    public var networkCount: Int { networks.count }

    /// Maps `network` ("192.0.2.0/24", "2001:db8::/32") to
    /// `{"country": {"iso_code": countryISO}}`.
    public mutating func insert(network: String, countryISO: String) throws(MMDBWriterError) {
        try insert(network: network, record: .countryRecord(iso: countryISO))
    }

    /// Maps `network` to an arbitrary record (e.g. one with only
    /// `registered_country`, or a malformed one for robustness tests).
    /// Host bits must be zero; IPv4 text is an IPv4 network, and so is
    /// `::ffff:a.b.c.d/n` with `n >= 96`.
    public mutating func insert(network: String, record: MMDBValue) throws(MMDBWriterError) {
        let parts = network.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPAddress(parts[0]),
              parts[1].utf8.count <= 3, let length = Int(parts[1])
        else { throw MMDBWriterError("\"\(network)\" is not address/prefix") }

        var high: UInt64
        var low: UInt64
        var treeLength: Int
        let dotted = !parts[0].contains(":")
        if address.isIPv4 && (dotted || length >= 96) {
            let v4Length = dotted ? length : length - 96
            guard (0...32).contains(v4Length) else { throw MMDBWriterError("\"\(network)\": bad IPv4 prefix length") }
            let mask: UInt32 = v4Length == 0 ? 0 : ~0 << UInt32(32 - v4Length)
            guard address.ipv4 & ~mask == 0 else { throw MMDBWriterError("\"\(network)\": host bits set") }
            if ipVersion == 4 {
                high = UInt64(address.ipv4) << 32
                low = 0
                treeLength = v4Length
            } else {
                high = 0
                low = UInt64(address.ipv4)
                treeLength = 96 + v4Length
            }
        } else {
            guard ipVersion == 6 else { throw MMDBWriterError("\"\(network)\": IPv6 network in an IPv4 tree") }
            guard (0...128).contains(length) else { throw MMDBWriterError("\"\(network)\": bad IPv6 prefix length") }
            high = address.high
            low = address.low
            treeLength = length
            let (maskHigh, maskLow) = MMDBWriter.mask(length)
            guard high & ~maskHigh == 0, low & ~maskLow == 0 else { throw MMDBWriterError("\"\(network)\": host bits set") }
        }
        let id: Int
        if let existing = recordIndex[record] {
            id = existing
        } else {
            id = records.count
            records.append(record)
            recordIndex[record] = id
        }
        networks.append(Network(high: high, low: low, length: treeLength, record: id, order: networks.count))
    }

    /// Writes the database to `path` (created or truncated).
    public func write(to path: String) throws(MMDBWriterError) {
        let data = try bytes()
        guard let file = fopen(path, "wb") else {
            throw MMDBWriterError("open \(path): \(String(cString: strerror(errno)))")
        }
        let written = data.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        let writeErrno = errno
        let closed = fclose(file)
        guard written == data.count else {
            throw MMDBWriterError("write \(path): \(String(cString: strerror(writeErrno)))")
        }
        guard closed == 0 else {
            throw MMDBWriterError("close \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// The whole file.
    public func bytes() throws(MMDBWriterError) -> [UInt8] {
        // Tree.
        var tree = Tree(depth: ipVersion == 6 ? 128 : 32)
        // Shorter prefixes first so more specific networks split them;
        // equal lengths keep insertion order so the last one wins.
        for network in networks.sorted(by: { ($0.length, $0.order) < ($1.length, $1.order) }) {
            tree.insert(high: network.high, low: network.low, length: network.length, record: .data(network.record))
        }
        if ipVersion == 6 && aliasIPv4Mapped {
            tree.aliasIPv4Mapped()
        }

        // Data section: each distinct record once, in first-insertion order.
        var encoder = DataEncoder(usePointers: true)
        var offsets: [Int] = []
        offsets.reserveCapacity(records.count)
        for record in records {
            offsets.append(encoder.output.count)
            encoder.encode(record)
        }

        let nodeCount = tree.left.count
        var output: [UInt8] = []
        output.reserveCapacity(nodeCount * 6 + 16 + encoder.output.count + 256)
        func recordValue(_ record: Tree.Record) throws(MMDBWriterError) -> UInt32 {
            let value: Int
            switch record {
            case .empty: value = nodeCount
            case .node(let index): value = index
            case .data(let id): value = nodeCount + 16 + offsets[id]
            }
            guard value < 1 << 24 else { throw MMDBWriterError("database too large for 24-bit records") }
            return UInt32(value)
        }
        for index in 0..<nodeCount {
            for value in [try recordValue(tree.left[index]), try recordValue(tree.right[index])] {
                output.append(UInt8(truncatingIfNeeded: value >> 16))
                output.append(UInt8(truncatingIfNeeded: value >> 8))
                output.append(UInt8(truncatingIfNeeded: value))
            }
        }
        output += [UInt8](repeating: 0, count: 16)
        output += encoder.output

        // Metadata (no pointers: they would be relative to the metadata start).
        output += [0xAB, 0xCD, 0xEF] + Array("MaxMind.com".utf8)
        var metadata = DataEncoder(usePointers: false)
        metadata.encode(.map([
            "binary_format_major_version": .uint16(2),
            "binary_format_minor_version": .uint16(0),
            "build_epoch": .uint64(buildEpoch),
            "database_type": .string(databaseType),
            "description": .map(descriptions.mapValues { .string($0) }),
            "ip_version": .uint16(UInt16(ipVersion)),
            "languages": .array(languages.map { .string($0) }),
            "node_count": .uint32(UInt32(nodeCount)),
            "record_size": .uint16(24),
        ]))
        output += metadata.output
        return output
    }

    static func mask(_ length: Int) -> (UInt64, UInt64) {
        let high: UInt64 = length >= 64 ? ~0 : (length == 0 ? 0 : ~0 << UInt64(64 - length))
        let low: UInt64 = length <= 64 ? 0 : (length == 128 ? ~0 : ~0 << UInt64(128 - length))
        return (high, low)
    }
}

/// The search tree under construction: node 0 is the root.
private struct Tree {
    enum Record: Equatable {
        case empty
        case node(Int)
        case data(Int)
    }

    let depth: Int
    var left: [Record] = [.empty]
    var right: [Record] = [.empty]

    init(depth: Int) { self.depth = depth }

    /// Bit `index` (0 = most significant) of the `depth`-bit key held
    /// left-aligned in `high:low`.
    func bit(_ high: UInt64, _ low: UInt64, _ index: Int) -> Bool {
        index < 64 ? (high >> UInt64(63 - index)) & 1 == 1 : (low >> UInt64(127 - index)) & 1 == 1
    }

    func child(_ node: Int, _ isRight: Bool) -> Record { isRight ? right[node] : left[node] }

    mutating func setChild(_ node: Int, _ isRight: Bool, _ record: Record) {
        if isRight { right[node] = record } else { left[node] = record }
    }

    /// Descends `length - 1` bits, creating nodes and splitting covering
    /// data records on the way; returns the node whose child is bit `length - 1`.
    mutating func parent(high: UInt64, low: UInt64, length: Int) -> Int {
        var node = 0
        for index in 0..<(length - 1) {
            let isRight = bit(high, low, index)
            switch child(node, isRight) {
            case .node(let next):
                node = next
            case .empty, .data:
                let inherited = child(node, isRight)
                left.append(inherited)
                right.append(inherited)
                let next = left.count - 1
                setChild(node, isRight, .node(next))
                node = next
            }
        }
        return node
    }

    mutating func insert(high: UInt64, low: UInt64, length: Int, record: Record) {
        if length == 0 {
            // The whole space: both halves of the root (replacing anything below).
            left = [record]
            right = [record]
            return
        }
        let node = parent(high: high, low: low, length: length)
        setChild(node, bit(high, low, length - 1), record)
    }

    /// Points `::ffff:0:0/96` at whatever `::/96` leads to.
    mutating func aliasIPv4Mapped() {
        var target = Record.node(0)
        for _ in 0..<96 {
            guard case .node(let node) = target else { break }
            target = left[node]
        }
        if target == .empty { return }
        // ::ffff:0:0 is 80 zero bits then 16 one bits.
        let high: UInt64 = 0
        let low: UInt64 = 0x0000_FFFF_0000_0000
        insert(high: high, low: low, length: 96, record: target)
    }
}

/// Encodes data-section values (control byte, size, payload, big-endian).
private struct DataEncoder {
    let usePointers: Bool
    var output: [UInt8] = []
    /// Offset of each string already written, for pointers.
    var strings: [String: Int] = [:]

    init(usePointers: Bool) { self.usePointers = usePointers }

    mutating func encode(_ value: MMDBValue) {
        switch value {
        case .string(let text):
            let utf8 = Array(text.utf8)
            // A pointer costs 2+ bytes; only worth it for strings of 2+ bytes.
            if usePointers, utf8.count >= 2, let offset = strings[text] {
                pointer(to: offset)
                return
            }
            if usePointers { strings[text] = output.count }
            control(type: 2, size: utf8.count)
            output += utf8
        case .double(let number):
            control(type: 3, size: 8)
            appendBigEndian(number.bitPattern, byteCount: 8)
        case .uint16(let number):
            unsigned(type: 5, UInt64(number))
        case .uint32(let number):
            unsigned(type: 6, UInt64(number))
        case .map(let entries):
            control(type: 7, size: entries.count)
            for key in entries.keys.sorted() {
                encode(.string(key))
                encode(entries[key]!)
            }
        case .int32(let number):
            control(type: 8, size: 4)
            appendBigEndian(UInt64(UInt32(bitPattern: number)), byteCount: 4)
        case .uint64(let number):
            unsigned(type: 9, number)
        case .array(let elements):
            control(type: 11, size: elements.count)
            for element in elements { encode(element) }
        case .boolean(let flag):
            control(type: 14, size: flag ? 1 : 0)
        }
    }

    /// Unsigned integers use as few bytes as the value needs (0 for zero).
    mutating func unsigned(type: Int, _ value: UInt64) {
        let byteCount = (64 - value.leadingZeroBitCount + 7) / 8
        control(type: type, size: byteCount)
        appendBigEndian(value, byteCount: byteCount)
    }

    mutating func appendBigEndian(_ value: UInt64, byteCount: Int) {
        for index in stride(from: byteCount - 1, through: 0, by: -1) {
            output.append(UInt8(truncatingIfNeeded: value >> UInt64(index * 8)))
        }
    }

    /// Control byte: type in the top 3 bits (0 = extended, type - 7 in the
    /// next byte), size in the low 5 (29/30/31 = 1/2/3 more size bytes).
    mutating func control(type: Int, size: Int) {
        let sizeBits: Int
        var extra: [UInt8] = []
        switch size {
        case ..<29:
            sizeBits = size
        case ..<285:
            sizeBits = 29
            extra = [UInt8(size - 29)]
        case ..<65_821:
            sizeBits = 30
            let rest = size - 285
            extra = [UInt8(rest >> 8), UInt8(rest & 0xFF)]
        default:
            sizeBits = 31
            let rest = size - 65_821
            extra = [UInt8((rest >> 16) & 0xFF), UInt8((rest >> 8) & 0xFF), UInt8(rest & 0xFF)]
        }
        if type <= 7 {
            output.append(UInt8(type << 5 | sizeBits))
        } else {
            output.append(UInt8(sizeBits))
            output.append(UInt8(type - 7))
        }
        output += extra
    }

    /// Pointer (type 1) to a data-section offset: 11, 19, 27 or 32 bits
    /// of value, the longer forms biased by 2048 and 526,336.
    mutating func pointer(to offset: Int) {
        switch offset {
        case ..<2048:
            output.append(UInt8(0x20 | (offset >> 8)))
            output.append(UInt8(offset & 0xFF))
        case ..<526_336:
            let value = offset - 2048
            output.append(UInt8(0x20 | 1 << 3 | (value >> 16)))
            output.append(UInt8((value >> 8) & 0xFF))
            output.append(UInt8(value & 0xFF))
        case ..<134_744_064:
            let value = offset - 526_336
            output.append(UInt8(0x20 | 2 << 3 | (value >> 24)))
            output.append(UInt8((value >> 16) & 0xFF))
            output.append(UInt8((value >> 8) & 0xFF))
            output.append(UInt8(value & 0xFF))
        default:
            output.append(0x20 | 3 << 3)
            appendBigEndian(UInt64(offset), byteCount: 4)
        }
    }
}
