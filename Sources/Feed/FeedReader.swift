#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// One line that was not imported.
public struct FeedLineFailure: Codable, Sendable, Equatable {
    /// 1-based line number within the file generation it came from (it
    /// restarts at 1 after a rotation, truncation or re-read).
    public var line: UInt64
    /// A `FeedLineError.Reason` name, e.g. `bad-port`.
    public var reason: String
    public var message: String
}

/// What an import has done so far. Codable in the JSON report style
/// (snake_case keys). Counters are cumulative over rotations and re-reads.
public struct FeedStatus: Codable, Sendable, Equatable {
    public var path: String
    /// The format in use; `nil` while a follower waits for a first line to detect it.
    public var format: String?
    /// Complete lines read (a `line-too-long` line counts as one).
    public var lines: UInt64 = 0
    /// Lines that yielded at least one event.
    public var parsedLines: UInt64 = 0
    /// Lines with nothing to import: blank, comments, headers, ignored event types.
    public var ignoredLines: UInt64 = 0
    /// Events delivered (a line may yield several).
    public var events: UInt64 = 0
    /// Lines not imported, by `FeedLineError.Reason` name.
    public var skipped: [String: UInt64] = [:]
    /// The most recent failures, oldest first (bounded).
    public var lastErrors: [FeedLineFailure] = []
    /// Bytes consumed from the current file.
    public var bytesOffset: UInt64 = 0
    /// Times the path was found to be a new file (rotation).
    public var rotations: UInt64 = 0
    /// Times the file shrank below the offset (copytruncate).
    public var truncations: UInt64 = 0
    /// Re-reads from the start on request (SIGHUP).
    public var rereads: UInt64 = 0

    public init(path: String, format: FeedFormat?) {
        self.path = path
        self.format = format?.rawValue
    }

    public var skippedTotal: UInt64 { skipped.values.reduce(0, +) }

    enum CodingKeys: String, CodingKey {
        case path, format, lines, events, skipped, rotations, truncations, rereads
        case parsedLines = "parsed_lines"
        case ignoredLines = "ignored_lines"
        case lastErrors = "last_errors"
        case bytesOffset = "bytes_offset"
    }
}

/// Settings shared by `FeedReader` and `FeedFollower`.
public struct FeedReadOptions: Sendable, Equatable {
    /// Longer lines are skipped as `line-too-long`; they are never held whole in memory.
    public var maxLineLength: Int
    /// How many recent failures `FeedStatus.lastErrors` keeps.
    public var lastErrorCount: Int
    /// Upper bound of bytes consumed by one `poll()`/`readAvailable()`, so a
    /// large backlog is delivered in batches and the caller's loop stays responsive.
    public var maxBytesPerRead: Int

    public init(maxLineLength: Int = 64 * 1024, lastErrorCount: Int = 16, maxBytesPerRead: Int = 8 * 1024 * 1024) {
        self.maxLineLength = max(16, maxLineLength)
        self.lastErrorCount = max(0, lastErrorCount)
        self.maxBytesPerRead = max(4096, maxBytesPerRead)
    }
}

/// Splits bytes into lines without ever buffering more than the line bound.
struct LineSplitter {
    enum Item {
        case line([UInt8])
        case tooLong
    }

    let maxLineLength: Int
    private(set) var buffer: [UInt8] = []
    private(set) var discarding = false

    init(maxLineLength: Int) {
        self.maxLineLength = maxLineLength
    }

    mutating func reset() {
        buffer.removeAll(keepingCapacity: false)
        discarding = false
    }

    /// Feeds a chunk; calls `emit` for every complete line (without `\n`).
    mutating func append(_ chunk: UnsafeRawBufferPointer, emit: (Item) -> Void) {
        var start = 0
        let count = chunk.count
        while start < count {
            var end = start
            while end < count, chunk[end] != 0x0A { end += 1 }
            let sawNewline = end < count
            if discarding {
                if sawNewline {
                    discarding = false
                    emit(.tooLong)
                }
            } else if buffer.count + (end - start) > maxLineLength + 1 {
                // +1 leaves room for a CR before the LF.
                buffer.removeAll(keepingCapacity: false)
                if sawNewline { emit(.tooLong) } else { discarding = true }
            } else {
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[start..<end]))
                if sawNewline {
                    emit(.line(buffer))
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            start = sawNewline ? end + 1 : end
        }
    }

    /// The end of the file is final: a last line without a newline is a line.
    mutating func finish(emit: (Item) -> Void) {
        if discarding {
            emit(.tooLong)
        } else if !buffer.isEmpty {
            emit(.line(buffer))
        }
        reset()
    }
}

/// File identity, to notice that a path now names another file.
struct FileIdentity: Equatable {
    var device: UInt64
    var inode: UInt64
}

/// Reads a feed file line by line: bounded lines, BOM and CRLF handled, every
/// bad line counted (by reason, with its line number) and passed over.
/// `readAll()` imports a whole file; `FeedFollower` builds `tail -F` on it.
public final class FeedReader {
    public let path: String
    public let options: FeedReadOptions
    public private(set) var status: FeedStatus
    /// The format in use (`nil` while detection waits for content).
    public private(set) var format: FeedFormat?
    /// The arrival time given to lines without a time of their own.
    let clock: @Sendable () -> Int64

    var fd: Int32 = -1
    var identity: FileIdentity?
    var offset: UInt64 = 0
    var lineNumber: UInt64 = 0
    var atFileStart = true
    var splitter: LineSplitter
    var parser: (any FeedLineParser)?
    private var chunk: [UInt8]

    /// Opens `path` and checks its first lines: with `format == nil` the
    /// format is detected, otherwise the chosen format is validated. Throws
    /// for a missing/unreadable file and for a file that is not a feed. An
    /// empty file is accepted (a follower detects the format once lines arrive).
    public init(path: String, format: FeedFormat? = nil, options: FeedReadOptions = FeedReadOptions(),
                clock: @escaping @Sendable () -> Int64 = FeedReader.wallClockNs) throws(FeedError) {
        self.path = path
        self.options = options
        self.clock = clock
        self.status = FeedStatus(path: path, format: format)
        self.format = format
        self.splitter = LineSplitter(maxLineLength: options.maxLineLength)
        self.chunk = [UInt8](repeating: 0, count: 64 * 1024)
        try openFile()
        let head = try readHead()
        if let format {
            try format.validate(firstLines: head, path: path)
        } else if !FeedFormat.contentLines(head).isEmpty {
            let detected = try FeedFormat.detect(firstLines: head, path: path)
            self.format = detected
            status.format = detected.rawValue
        }
        parser = self.format?.makeParser()
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    public static let wallClockNs: @Sendable () -> Int64 = {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    /// Reads and imports a whole file, including a last line without a newline.
    public static func readAll(path: String, format: FeedFormat? = nil, options: FeedReadOptions = FeedReadOptions(),
                               clock: @escaping @Sendable () -> Int64 = FeedReader.wallClockNs) throws(FeedError) -> (events: [FeedEvent], status: FeedStatus) {
        let reader = try FeedReader(path: path, format: format, options: options, clock: clock)
        let events = reader.readAll()
        return (events, reader.status)
    }

    /// Imports everything up to the end of the file, then the last line even
    /// without its newline: the file is taken as complete.
    public func readAll() -> [FeedEvent] {
        var events: [FeedEvent] = []
        while true {
            let (batch, atEnd) = readAvailable()
            events += batch
            if atEnd { break }
        }
        events += finishFile()
        return events
    }

    /// Imports what is available now, up to `maxBytesPerRead`. A partial last
    /// line stays buffered until its newline arrives. `atEnd` is true when the
    /// end of the file was reached.
    public func readAvailable() -> (events: [FeedEvent], atEnd: Bool) {
        guard fd >= 0 else { return ([], true) }
        var events: [FeedEvent] = []
        var consumed = 0
        let arrival = clock()
        while consumed < options.maxBytesPerRead {
            let got = chunk.withUnsafeMutableBytes { buffer in
                read(fd, buffer.baseAddress, min(buffer.count, options.maxBytesPerRead - consumed))
            }
            if got < 0 {
                if errno == EINTR { continue }
                return (events, true)
            }
            if got == 0 { return (events, true) }
            consumed += got
            offset += UInt64(got)
            status.bytesOffset = offset
            chunk.withUnsafeBytes { buffer in
                splitter.append(UnsafeRawBufferPointer(rebasing: buffer[0..<got])) { item in
                    handle(item, arrival: arrival, into: &events)
                }
            }
        }
        return (events, false)
    }

    /// Treats the current file as finished: a buffered last line without a
    /// newline is imported (or counted) now.
    public func finishFile() -> [FeedEvent] {
        var events: [FeedEvent] = []
        let arrival = clock()
        splitter.finish { item in handle(item, arrival: arrival, into: &events) }
        return events
    }

    // MARK: - File handling (shared with FeedFollower)

    func openFile() throws(FeedError) {
        let opened = open(path, O_RDONLY | O_CLOEXEC)
        guard opened >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        var info = stat()
        guard fstat(opened, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            close(opened)
            throw .cannotOpen(path: path, reason: reason)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            close(opened)
            throw .cannotOpen(path: path, reason: "is a directory")
        }
        if fd >= 0 { close(fd) }
        fd = opened
        identity = FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        startGeneration()
    }

    /// Starts reading the current file from its beginning with fresh state.
    func startGeneration() {
        if fd >= 0 { lseek(fd, 0, SEEK_SET) }
        offset = 0
        status.bytesOffset = 0
        lineNumber = 0
        atFileStart = true
        splitter.reset()
        parser = format?.makeParser()
    }

    /// The first lines of the file (up to 64 KiB), for detection/validation;
    /// the file position is left at the start.
    func readHead() throws(FeedError) -> [Substring] {
        var head = [UInt8](repeating: 0, count: 64 * 1024)
        let got = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard got >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        head.removeSubrange(got...)
        if got == head.count, let lastNewline = head.lastIndex(of: 0x0A) {
            // Drop a line cut off by the 64 KiB window.
            head.removeSubrange(lastNewline...)
        }
        // Split on bytes: as Characters, "\r\n" is one grapheme and would not split on "\n".
        return head.split(separator: 0x0A, omittingEmptySubsequences: false).map { bytes in
            let line = bytes.last == 0x0D ? bytes.dropLast() : bytes
            return String(decoding: line, as: UTF8.self)[...]
        }
    }

    func currentSize() -> UInt64? {
        guard fd >= 0 else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return UInt64(info.st_size)
    }

    // MARK: - Lines

    private func handle(_ item: LineSplitter.Item, arrival: Int64, into events: inout [FeedEvent]) {
        lineNumber += 1
        status.lines += 1
        let startOfFile = atFileStart
        atFileStart = false
        switch item {
        case .tooLong:
            fail(FeedLineError(.lineTooLong, "longer than \(options.maxLineLength) bytes"))
        case var .line(bytes):
            if startOfFile, bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
            if bytes.last == 0x0D { bytes.removeLast() }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                fail(FeedLineError(.invalidUTF8, "not valid UTF-8"))
                return
            }
            parseLine(text[...], arrival: arrival, into: &events)
        }
    }

    private func parseLine(_ line: Substring, arrival: Int64, into events: inout [FeedEvent]) {
        if parser == nil {
            let blank = line.allSatisfy { $0 == " " || $0 == "\t" } || line.hasPrefix("#")
            if blank {
                status.ignoredLines += 1
                return
            }
            guard let detected = try? FeedFormat.detect(firstLines: [line], path: path) else {
                fail(FeedLineError(.undetectedFormat, "not recognisable as any feed format"))
                return
            }
            format = detected
            status.format = detected.rawValue
            parser = detected.makeParser()
        }
        guard var current = parser else { return }
        let result = current.parse(line: line, defaultTimeNs: arrival)
        parser = current
        switch result {
        case let .success(found):
            if found.isEmpty {
                status.ignoredLines += 1
            } else {
                status.parsedLines += 1
                status.events += UInt64(found.count)
                events += found
            }
        case let .failure(error):
            fail(error)
        }
    }

    private func fail(_ error: FeedLineError) {
        status.skipped[error.reason.rawValue, default: 0] += 1
        guard options.lastErrorCount > 0 else { return }
        if status.lastErrors.count >= options.lastErrorCount { status.lastErrors.removeFirst() }
        status.lastErrors.append(FeedLineFailure(line: lineNumber, reason: error.reason.rawValue, message: error.message))
    }

    // MARK: - Follower hooks

    func noteRotation() { status.rotations += 1 }
    func noteTruncation() { status.truncations += 1 }
    func noteReread() { status.rereads += 1 }
}
