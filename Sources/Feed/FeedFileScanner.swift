#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What a whole-file scan found (`FeedFileScanner`): what `feed_imports` records.
public struct FeedFileSummary: Sendable, Equatable {
    /// The file's length and the FNV-1a 64-bit hash of its bytes (`FeedFileScanner.fnv1a`).
    public var bytes: UInt64 = 0
    public var hash: UInt64 = FeedFileScanner.fnvOffsetBasis
    /// Complete lines read (a last line without a newline counts).
    public var lines: UInt64 = 0
    /// Rows produced (a line may yield none or several).
    public var records: UInt64 = 0
    /// Lines with nothing to import: blank, comments, headers, filtered out.
    public var ignoredLines: UInt64 = 0
    /// Lines rejected, by `FeedLineError.Reason` name.
    public var rejected: [String: UInt64] = [:]
    /// The first rejected lines (at most `FeedFileScanner.keptRejections`), in file order.
    public var firstRejections: [FeedLineFailure] = []
    /// Earliest and latest row time (ns), nil without rows.
    public var firstTimeNs: Int64?
    public var lastTimeNs: Int64?
    /// The UTC days (days since 1970-01-01) the rows' times fall on.
    public var days: Set<Int64> = []
    /// Sum of the rows' weights.
    public var weight: Double = 0

    public var rejectedLines: UInt64 { rejected.values.reduce(0, +) }

    public init() {}

    /// The UTC day of a time in ns (floor division: times before 1970 too).
    public static func day(ofNs ns: Int64) -> Int64 {
        let perDay: Int64 = 86_400 * 1_000_000_000
        return ns >= 0 ? ns / perDay : -((-(ns + 1)) / perDay) - 1
    }
}

/// Reads a feed file once, from start to end, through a `FeedRecordParser`,
/// handing out its rows in batches, and sums it up (`summary`): the length and
/// hash of every byte, line counts, rejected lines with their numbers and
/// reasons, the time range and days of the rows.
///
/// Lines are read as `FeedReader` reads them (docs/feeds.md, "Reading and
/// error counting"): bounded length, a BOM at the start and a CR before the
/// LF removed, invalid UTF-8 rejected, a last line without a newline taken.
/// A bad line is counted and passed over, never fatal; a file that cannot be
/// opened or read throws `FeedError.cannotOpen`, and a parser that declares
/// the file `unusable` (a header without the mapping's columns) throws
/// `FeedError.mappingMismatch`.
public final class FeedFileScanner {
    public static let fnvOffsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    public static let fnvPrime: UInt64 = 0x0000_0100_0000_01b3
    /// Rejected lines whose numbers and reasons the summary keeps.
    public static let keptRejections = 5

    public let path: String
    public let batchSize: Int
    public let defaultTimeNs: Int64
    /// The parser's name in messages (`csv`, `mapping:hk.yaml`).
    public let label: String
    public private(set) var summary = FeedFileSummary()

    var parser: any FeedRecordParser
    let options: FeedReadOptions
    var fd: Int32
    var splitter: LineSplitter
    var chunk: [UInt8]
    var pending: [FeedRecord] = []
    var atFileStart = true
    var atEnd = false
    var failure: FeedError?

    /// FNV-1a, 64 bits, over `bytes`, continuing from `hash`.
    @inline(__always)
    public static func fnv1a(_ bytes: UnsafeRawBufferPointer, from hash: UInt64 = fnvOffsetBasis) -> UInt64 {
        var h = hash
        for byte in bytes {
            h ^= UInt64(byte)
            h &*= fnvPrime
        }
        return h
    }

    public init(path: String, parser: any FeedRecordParser, label: String, defaultTimeNs: Int64,
                batchSize: Int = 10_000, options: FeedReadOptions = FeedReadOptions()) throws(FeedError) {
        self.path = path
        self.parser = parser
        self.label = label
        self.defaultTimeNs = defaultTimeNs
        self.batchSize = max(1, batchSize)
        self.options = options
        self.splitter = LineSplitter(maxLineLength: options.maxLineLength)
        self.chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let opened = open(path, O_RDONLY | O_CLOEXEC)
        guard opened >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        var info = stat()
        if fstat(opened, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            close(opened)
            throw .cannotOpen(path: path, reason: "is a directory")
        }
        fd = opened
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// The next rows, at most `batchSize`; nil once the file is done (then `summary` is complete).
    public func nextBatch() throws(FeedError) -> [FeedRecord]? {
        while pending.count < batchSize && !atEnd {
            try readChunk()
        }
        if pending.isEmpty { return nil }
        let count = min(batchSize, pending.count)
        let batch = Array(pending.prefix(count))
        pending.removeFirst(count)
        return batch
    }

    /// Reads the file to its end without keeping the rows; returns the summary.
    public func scanAll() throws(FeedError) -> FeedFileSummary {
        while try nextBatch() != nil {}
        return summary
    }

    private func readChunk() throws(FeedError) {
        let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if got < 0 {
            if errno == EINTR { return }
            throw .cannotOpen(path: path, reason: "read failed: \(String(cString: strerror(errno)))")
        }
        if got == 0 {
            atEnd = true
            splitter.finish { item in handle(item) }
        } else {
            summary.bytes += UInt64(got)
            chunk.withUnsafeBytes { buffer in
                let slice = UnsafeRawBufferPointer(rebasing: buffer[0..<got])
                summary.hash = Self.fnv1a(slice, from: summary.hash)
                splitter.append(slice) { item in handle(item) }
            }
        }
        if let failure { throw failure }
    }

    private func handle(_ item: LineSplitter.Item) {
        guard failure == nil else { return }
        summary.lines += 1
        let startOfFile = atFileStart
        atFileStart = false
        switch item {
        case .tooLong:
            reject(FeedLineError(.lineTooLong, "longer than \(options.maxLineLength) bytes"))
        case var .line(bytes):
            if startOfFile, bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
            if bytes.last == 0x0D { bytes.removeLast() }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                reject(FeedLineError(.invalidUTF8, "not valid UTF-8"))
                return
            }
            let result = parser.parse(line: text[...], defaultTimeNs: defaultTimeNs)
            if let reason = parser.unusable {
                failure = .mappingMismatch(path: path, mapping: label, reason: reason)
                return
            }
            switch result {
            case let .success(rows):
                if rows.isEmpty {
                    summary.ignoredLines += 1
                } else if rows.count > FeedRecord.maxRecordsPerLine {
                    reject(FeedLineError(.tooManyRecords, "\(rows.count) records on one line (at most \(FeedRecord.maxRecordsPerLine))"))
                } else {
                    add(rows)
                }
            case let .failure(error):
                reject(error)
            }
        }
    }

    private func add(_ rows: [FeedRecord]) {
        let base = Int64(summary.lines) * Int64(FeedRecord.maxRecordsPerLine)
        for (k, var row) in rows.enumerated() {
            row.line = base + Int64(k)
            summary.records += 1
            summary.weight += row.weight
            summary.firstTimeNs = min(summary.firstTimeNs ?? row.timeNs, row.timeNs)
            summary.lastTimeNs = max(summary.lastTimeNs ?? row.timeNs, row.timeNs)
            summary.days.insert(FeedFileSummary.day(ofNs: row.timeNs))
            pending.append(row)
        }
    }

    private func reject(_ error: FeedLineError) {
        summary.rejected[error.reason.rawValue, default: 0] += 1
        if summary.firstRejections.count < Self.keptRejections {
            summary.firstRejections.append(FeedLineFailure(line: summary.lines, reason: error.reason.rawValue, message: error.message))
        }
    }
}

/// How `darknetd feed import` reads a file: a built-in format (nil: detected
/// from the file's first lines, as `FeedReader` does) or a YAML mapping.
public enum FeedImportFormat: Sendable, Equatable {
    case builtIn(FeedFormat?)
    case mapping(FeedMapping)

    /// A scanner for `path`: the format detected or validated first (`FeedError`
    /// for a file that is not a feed, or not of the chosen format).
    public func scanner(path: String, defaultTimeNs: Int64, batchSize: Int = 10_000) throws(FeedError) -> FeedFileScanner {
        switch self {
        case let .builtIn(chosen):
            let format: FeedFormat
            if let chosen {
                _ = try FeedReader(path: path, format: chosen)  // validates the first lines against the format
                format = chosen
            } else {
                guard let detected = try FeedReader(path: path).format else {
                    throw .notAFeed(path: path, reason: "no content to detect the format from")
                }
                format = detected
            }
            return try FeedFileScanner(path: path, parser: FeedEventRecords(format), label: format.rawValue,
                                       defaultTimeNs: defaultTimeNs, batchSize: batchSize)
        case let .mapping(mapping):
            return try FeedFileScanner(path: path, parser: mapping.makeParser(), label: mapping.label,
                                       defaultTimeNs: defaultTimeNs, batchSize: batchSize)
        }
    }
}
