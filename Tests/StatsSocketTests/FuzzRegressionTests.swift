import NIOCore
import NIOEmbedded
import Testing
@testable import Daemon

/// Inputs the `stats-request` fuzz target (Fuzz/, docs/fuzzing.md) stopped on, fed
/// exactly as the harness feeds them: byte 0 sets the line limit (8 + byte), byte 1
/// the read size (1 + byte % 64), the rest is the stream; the channel then closes.
@Suite struct StatsFuzzRegressionTests {
    func lines(_ input: [UInt8]) throws -> [StatsLine] {
        let maxLength = 8 + Int(input[0])
        let chunk = 1 + Int(input[1]) % 64
        let stream = Array(input.dropFirst(2))
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(BoundedLineDecoder(maxLength: maxLength)))
        var out: [StatsLine] = []
        var offset = 0
        while offset < stream.count {
            let end = min(stream.count, offset + chunk)
            try channel.writeInbound(channel.allocator.buffer(bytes: stream[offset..<end]))
            offset = end
        }
        _ = try channel.finish()
        while let line = try channel.readInbound(as: StatsLine.self) { out.append(line) }
        return out
    }

    /// crash-81fdecbd (minimized): a last line of 9 bytes, no newline, limit 8. decode()
    /// keeps up to limit + 2 bytes of a line (room for "\r\n"), and decodeLast delivered
    /// that tail as a request over max_request_bytes.
    @Test func lastLineOverLimitAtEOFIsTooLarge() throws {
        let input: [UInt8] = [0x00, 0x00, 0x6d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06]
        #expect(try lines(input) == [.tooLarge])
    }

    @Test func lastLineAtTheLimitAtEOF() throws {
        let ten = Array("0123456789".utf8)
        // limit 8: 9 and 10 bytes at EOF are over; 8 bytes plus "\r" is exactly at it.
        #expect(try lines([0, 63] + ten.prefix(9)) == [.tooLarge])
        #expect(try lines([0, 63] + ten.prefix(10)) == [.tooLarge])
        #expect(try lines([0, 63] + ten.prefix(8) + [0x0D]) == [.line(ByteBuffer(bytes: ten.prefix(8)))])
    }
}
