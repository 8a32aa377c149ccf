#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Follows a growing feed file like `tail -F`. The daemon calls the
/// non-blocking `poll()` from its own loop every `pollInterval`; each call
/// imports what has arrived since the last one:
///
/// - a partial last line waits in the buffer until its newline arrives;
/// - truncation (file size below the read offset, as `copytruncate` does) →
///   the file is read again from its start;
/// - rotation (the path now names another file: device/inode changed) → the
///   old file is read to its end, its unterminated last line imported, then
///   the new file is opened and read from its start. While the path is
///   missing (between rename and create) the old file keeps being read;
/// - `requestReread()` (the daemon calls it on SIGHUP) → on the next poll the
///   path is reopened and read from the start;
/// - bad lines are counted in `status` and never stop the import.
///
/// Not thread-safe: one owner calls `poll()`, `requestReread()` and `status`.
/// From a signal handler, set a flag and call `requestReread()` from the loop.
public final class FeedFollower {
    public let pollInterval: Duration
    let reader: FeedReader
    private var rereadRequested = false

    /// Opens `path` (which must exist) and checks its first lines like
    /// `FeedReader` does; throws `FeedError` for a missing file or a non-feed.
    public init(path: String, format: FeedFormat? = nil, options: FeedReadOptions = FeedReadOptions(),
                pollInterval: Duration = .milliseconds(200),
                clock: @escaping @Sendable () -> Int64 = FeedReader.wallClockNs) throws(FeedError) {
        self.pollInterval = pollInterval
        self.reader = try FeedReader(path: path, format: format, options: options, clock: clock)
    }

    public var status: FeedStatus { reader.status }
    public var format: FeedFormat? { reader.format }
    public var path: String { reader.path }

    /// Asks the next `poll()` to read the file again from its start.
    public func requestReread() {
        rereadRequested = true
    }

    /// Imports what is new since the last call. Never blocks on the file
    /// growing; returns `[]` when nothing arrived.
    public func poll() -> [FeedEvent] {
        var events: [FeedEvent] = []
        if rereadRequested {
            rereadRequested = false
            reader.noteReread()
            if pathIdentity() != nil, (try? reader.openFile()) != nil {
                // Reopened: a rotated path is followed to its new file.
            } else {
                reader.startGeneration()
            }
        }
        if let size = reader.currentSize(), size < reader.offset {
            reader.noteTruncation()
            reader.startGeneration()
        }
        let (batch, atEnd) = reader.readAvailable()
        events += batch
        guard atEnd else { return events }
        if let current = pathIdentity(), current != reader.identity {
            // Rotated: the old file is read to its end (done above), its last line is final.
            events += reader.finishFile()
            if (try? reader.openFile()) != nil {
                reader.noteRotation()
                let (fresh, _) = reader.readAvailable()
                events += fresh
            }
        }
        return events
    }

    /// Polls every `pollInterval` until `shouldContinue` returns false,
    /// handing each non-empty batch to `deliver`. For daemons without their own loop.
    public func run(shouldContinue: () -> Bool, deliver: ([FeedEvent]) -> Void) {
        let (seconds, attoseconds) = pollInterval.components
        let micros = max(1, seconds * 1_000_000 + attoseconds / 1_000_000_000_000)
        while shouldContinue() {
            let batch = poll()
            if !batch.isEmpty { deliver(batch) }
            usleep(useconds_t(min(micros, 10_000_000)))
        }
    }

    private func pathIdentity() -> FileIdentity? {
        var info = stat()
        guard stat(reader.path, &info) == 0 else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }
}
