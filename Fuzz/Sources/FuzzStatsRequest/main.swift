// libFuzzer harness for the stats socket's input side: `StatsProtocol.parseRequest`
// on request lines, and `BoundedLineDecoder` (driven through NIO's in-memory
// EmbeddedChannel: no sockets, no event loop threads) on the byte stream that
// carries them. Declarations only.
//
// Input: byte 0 sets the decoder's line limit (8 + byte: 8...263) and byte 1
// how the stream is cut into reads (1 + byte % 64 bytes each); the rest is the
// byte stream a client sends. Every line the decoder yields is also parsed as
// a request. The whole input (without the two bytes) is parsed as one request too.

import Foundation
import FuzzSupport
import NIOCore
import NIOEmbedded
import Daemon
import StatsWire

/// What a correct decoder yields for `stream` with limit `max`, as one line
/// model: lines end at `\n`; a trailing `\r` is dropped; a line over `max`
/// bytes is `nil` (`.tooLarge`); a last line without `\n` counts too, when
/// not over the limit (a line over the limit is never delivered, EOF or not).
func expectedLines(_ stream: [UInt8], max: Int) -> [[UInt8]?] {
    var out: [[UInt8]?] = []
    var parts = stream.split(separator: 0x0A, omittingEmptySubsequences: false)
    let last = parts.removeLast()  // after the final newline (possibly empty)
    for part in parts {
        var content = Array(part)
        if content.last == 0x0D { content.removeLast() }
        out.append(content.count > max ? nil : content)
    }
    if !last.isEmpty {
        var content = Array(last)
        if content.last == 0x0D { content.removeLast() }
        out.append(content.count > max ? nil : content)
    }
    return out
}

func checkRequest(_ line: some Collection<UInt8>) {
    switch StatsProtocol.parseRequest(line) {
    case .success(let request):
        invariant(!request.command.isEmpty, "a parsed request with an empty command")
        invariant(request.command.utf8.count <= line.count, "a command longer than its request line")
        if let n = request.arguments["n"] { invariant((1...StatsProtocol.maxN).contains(n), "n = \(n) accepted") }
        // What a client would send for it parses back to the same request.
        let encoded = StatsProtocol.encodeRequest(request)
        invariant(encoded.last == 0x0A && encoded.dropLast().firstIndex(of: 0x0A) == nil, "encodeRequest is not one line")
        invariant(StatsProtocol.parseRequest(encoded.dropLast()) == .success(request),
                  "encodeRequest(parsed) does not parse back to the same request")
        // The daemon echoes the command in its error responses: still one line.
        let echoed = StatsProtocol.encodeError(StatsError(.unknownCommand, "unknown command \(request.command)"), command: request.command)
        invariant(echoed.last == 0x0A && echoed.dropLast().firstIndex(of: 0x0A) == nil, "an error response is not one line")
    case .failure(let error):
        invariant(error.code == .badRequest, "parseRequest failed with \(error.code)")
        invariant(!error.message.isEmpty, "a bad-request error without a message")
        let response = StatsProtocol.encodeError(error)
        invariant(response.last == 0x0A && response.dropLast().firstIndex(of: 0x0A) == nil, "an error response is not one line")
        invariant(try! StatsProtocol.decodeResponse(Data(response.dropLast())).error == error,
                  "an error response does not decode to its error")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStatsRequest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size >= 2 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    let maxLength = 8 + Int(input[0])
    let chunk = 1 + Int(input[1]) % 64
    let stream = Array(input[2...])

    checkRequest(stream)

    let channel = EmbeddedChannel(handler: ByteToMessageHandler(BoundedLineDecoder(maxLength: maxLength)))
    var got: [[UInt8]?] = []
    func collect() {
        while let line = try! channel.readInbound(as: StatsLine.self) {
            switch line {
            case .line(let buffer):
                let bytes = Array(buffer.readableBytesView)
                invariant(bytes.count <= maxLength, "a line of \(bytes.count) bytes passed a limit of \(maxLength)")
                invariant(bytes.firstIndex(of: 0x0A) == nil, "a line holds a newline")
                got.append(bytes)
                checkRequest(bytes)
            case .tooLarge:
                got.append(nil)
            }
        }
    }
    var offset = 0
    while offset < stream.count {
        let end = min(stream.count, offset + chunk)
        var buffer = channel.allocator.buffer(capacity: end - offset)
        buffer.writeBytes(stream[offset..<end])
        try! channel.writeInbound(buffer)
        collect()
        offset = end
    }
    _ = try! channel.finish()
    collect()
    let expected = expectedLines(stream, max: maxLength)
    invariant(got == expected, "line decoder gave \(got.map { $0.map { String(decoding: $0, as: UTF8.self) } ?? "<too-large>" }), expected \(expected.map { $0.map { String(decoding: $0, as: UTF8.self) } ?? "<too-large>" })")
    return 0
}
