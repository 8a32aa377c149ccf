import Foundation
@testable import Feed

/// A temporary directory removed when the value is released.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("feed-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let path = path(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @discardableResult
    func write(_ name: String, bytes: [UInt8]) throws -> String {
        let path = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func append(_ name: String, _ text: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path(name)))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// The shared corpus of real feed samples, when present (never copied into the project).
enum Corpus {
    static let feeds: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("../shared/corpus/feeds").standardized

    static func file(_ name: String) -> String? {
        let path = feeds.appendingPathComponent(name).path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }
}

/// A fixed arrival time for lines without their own: 2014-10-07T00:00:00Z.
let arrivalNs: Int64 = 1_412_640_000 * 1_000_000_000
let fixedClock: @Sendable () -> Int64 = { arrivalNs }

func parseAll(_ parser: some FeedLineParser, _ lines: [String]) -> [Result<[FeedEvent], FeedLineError>] {
    var parser = parser
    return lines.map { parser.parse(line: $0[...], defaultTimeNs: arrivalNs) }
}

extension Result {
    var value: Success? { if case let .success(v) = self { v } else { nil } }
    var error: Failure? { if case let .failure(e) = self { e } else { nil } }
}
