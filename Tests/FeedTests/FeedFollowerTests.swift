import Decoding
import Foundation
import Testing
@testable import Feed

@Suite struct FeedFollowerTests {
    func line(_ n: Int) -> String { "2014-10-07T12:00:\(n < 10 ? "0" : "")\(n)Z,192.0.2.\(n),\(1000 + n)\n" }

    func ports(_ events: [FeedEvent]) -> [Int] { events.compactMap { $0.destinationPort.map { Int($0) - 1000 } } }

    @Test func appendedChunksIncludingASplitLine() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("feed.csv", "time,src,port\n" + line(1))
        let follower = try FeedFollower(path: path, pollInterval: .milliseconds(10))
        #expect(follower.format == .csv)
        #expect(ports(follower.poll()) == [1])
        #expect(follower.poll().isEmpty)
        let two = line(2)
        let split = two.index(two.startIndex, offsetBy: 15)
        try dir.append("feed.csv", String(two[..<split]))
        #expect(follower.poll().isEmpty)  // waits for the newline
        try dir.append("feed.csv", String(two[split...]) + line(3) + "2014-10-07T12:00:00Z,garbage,1\n" + line(4))
        #expect(ports(follower.poll()) == [2, 3, 4])
        #expect(follower.status.skipped == ["bad-address": 1])
        #expect(follower.status.lastErrors.first?.line == 5)
        #expect(follower.status.lines == 6)
    }

    @Test func rotationFinishesTheOldFileAndReadsTheNewOneFromItsStart() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("feed.csv", "time,src,port\n" + line(1))
        let follower = try FeedFollower(path: path)
        #expect(ports(follower.poll()) == [1])
        // Written after our last poll, then rotated away; the last line lacks its newline.
        try dir.append("feed.csv", line(2) + String(line(3).dropLast()))
        try FileManager.default.moveItem(atPath: path, toPath: dir.path("feed.csv.1"))
        #expect(ports(follower.poll()) == [2])  // path missing: keep reading the old file
        try dir.write("feed.csv", "time,src,port\n" + line(4))
        #expect(ports(follower.poll()) == [3, 4])
        #expect(follower.status.rotations == 1)
        try dir.append("feed.csv", line(5))
        #expect(ports(follower.poll()) == [5])
        #expect(follower.status.skippedTotal == 0)
    }

    @Test func copyTruncateRereadsFromTheStart() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("feed.csv", "time,src,port\n" + line(1) + line(2))
        let follower = try FeedFollower(path: path)
        #expect(ports(follower.poll()) == [1, 2])
        // copytruncate: same inode, size drops to 0, then the writer continues.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 0)
        try handle.close()
        #expect(follower.poll().isEmpty)
        #expect(follower.status.truncations == 1)
        try dir.append("feed.csv", "time,src,port\n" + line(3))
        #expect(ports(follower.poll()) == [3])
        #expect(follower.status.truncations == 1 && follower.status.rotations == 0)
    }

    @Test func rereadOnRequest() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("feed.csv", "time,src,port\n" + line(1) + line(2))
        let follower = try FeedFollower(path: path)
        #expect(ports(follower.poll()) == [1, 2])
        follower.requestReread()
        #expect(ports(follower.poll()) == [1, 2])
        #expect(follower.status.rereads == 1)
        #expect(follower.status.lines == 6)
    }

    @Test func emptyFileDetectsTheFormatWhenLinesArrive() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("feed", "")
        let follower = try FeedFollower(path: path)
        #expect(follower.format == nil)
        #expect(follower.poll().isEmpty)
        try dir.append("feed", "hello\n" + #"{"md5":"192.0.2.1","dport":"23"}"# + "\n")
        let events = follower.poll()
        #expect(events.map(\.destinationPort) == [23])
        #expect(follower.format == .norse)
        #expect(follower.status.skipped == ["undetected-format": 1])
    }

    @Test func runLoopDeliversBatches() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("feed.csv", "time,src,port\n" + line(1))
        let follower = try FeedFollower(path: path, pollInterval: .milliseconds(5))
        var delivered: [FeedEvent] = []
        var rounds = 0
        follower.run(shouldContinue: { rounds += 1; if rounds == 2 { try? dir.append("feed.csv", line(2)) }; return rounds < 5 },
                     deliver: { delivered += $0 })
        #expect(ports(delivered) == [1, 2])
    }
}
