import NIOCore

/// What the line decoder hands on: one request line (newline and a trailing
/// carriage return removed), or the marker for a line that was too long.
public enum StatsLine: Sendable, Equatable {
    case line(ByteBuffer)
    case tooLarge
}

/// Splits the byte stream at newlines with a hard cap on line length. A line
/// longer than `maxLength` yields one `.tooLarge` and is then skipped up to
/// and including its newline without being buffered: the decoder never holds
/// more than `maxLength + 2` bytes of one line, whatever the client sends.
public struct BoundedLineDecoder: ByteToMessageDecoder {
    public typealias InboundOut = StatsLine

    public let maxLength: Int
    /// Inside an over-long line: drop bytes until the next newline.
    private var discarding = false
    /// Readable bytes already searched for a newline (no rescans on partial reads).
    private var scanned = 0

    public init(maxLength: Int) {
        precondition(maxLength > 0, "maxLength must be positive")
        self.maxLength = maxLength
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        if discarding {
            if let newline = view.firstIndex(of: 0x0A) {
                buffer.moveReaderIndex(to: newline + 1)
                discarding = false
                scanned = 0
                return .continue
            }
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return .needMoreData
        }
        // Content (at most maxLength), an optional \r, the \n.
        let window = maxLength + 2
        let searchEnd = view.startIndex + min(view.count, window)
        let searchStart = view.startIndex + min(scanned, view.count)
        if let newline = view[searchStart..<searchEnd].firstIndex(of: 0x0A) {
            let length = newline - view.startIndex
            var content = length
            if content > 0, view[newline - 1] == 0x0D { content -= 1 }
            scanned = 0
            if content > maxLength {
                buffer.moveReaderIndex(forwardBy: length + 1)
                context.fireChannelRead(Self.wrapInboundOut(.tooLarge))
                return .continue
            }
            let line = buffer.readSlice(length: content)!
            buffer.moveReaderIndex(forwardBy: length - content + 1)
            context.fireChannelRead(Self.wrapInboundOut(.line(line)))
            return .continue
        }
        if view.count >= window {
            // No newline within the window: the line is over the limit. Say so
            // once, then skip to its end (possibly later in this same buffer).
            discarding = true
            scanned = 0
            buffer.moveReaderIndex(forwardBy: window)
            context.fireChannelRead(Self.wrapInboundOut(.tooLarge))
            return .continue
        }
        scanned = view.count
        return .needMoreData
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        // A last line without a newline still counts as a request, under the
        // same limit: decode() keeps up to maxLength + 2 bytes of a line
        // (room for "\r\n"), so the tail at EOF may be one or two over.
        if !discarding, buffer.readableBytes > 0 {
            var content = buffer.readableBytes
            if buffer.readableBytesView.last == 0x0D { content -= 1 }
            if content > maxLength {
                buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                context.fireChannelRead(Self.wrapInboundOut(.tooLarge))
            } else {
                let line = buffer.readSlice(length: content)!
                buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                context.fireChannelRead(Self.wrapInboundOut(.line(line)))
            }
        }
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        return .needMoreData
    }
}
