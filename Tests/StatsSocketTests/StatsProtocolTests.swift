import Foundation
import Interchange
import NIOCore
import NIOEmbedded
import Daemon
import StatsWire
import Testing

@Suite struct StatsProtocolTests {
    func parse(_ text: String) -> Result<StatsRequest, StatsError> {
        StatsProtocol.parseRequest(Array(text.utf8))
    }

    @Test func parsesCommandAndArguments() throws {
        #expect(try parse(#"{"command":"status"}"#).get() == StatsRequest(command: "status"))
        #expect(try parse(#"{"command":"top-ports","args":{"n":10}}"#).get() == StatsRequest(command: "top-ports", arguments: ["n": 10]))
    }

    @Test(arguments: [
        (#"{"command":"#, "not valid JSON"),
        (#"[1,2]"#, "must be a JSON object"),
        (#"{"args":{"n":1}}"#, "no \"command\""),
        (#"{"command":5}"#, "non-empty string"),
        (#"{"command":""}"#, "non-empty string"),
        (#"{"command":"x","args":[1]}"#, "\"args\" must be an object"),
        (#"{"command":"x","args":{"n":"10"}}"#, "must be an integer"),
        (#"{"command":"x","args":{"n":1.5}}"#, "must be an integer"),
        (#"{"command":"x","args":{"n":true}}"#, "must be an integer"),
        (#"{"command":"x","args":{"n":0}}"#, "within 1..."),
        (#"{"command":"x","extra":1}"#, "unknown request member"),
    ])
    func rejectsBadRequests(line: String, message: String) {
        guard case .failure(let error) = parse(line) else {
            Issue.record("accepted \(line)")
            return
        }
        #expect(error.code == .badRequest)
        #expect(error.message.contains(message), "\(error.message)")
    }

    @Test func rejectsInvalidUTF8() {
        guard case .failure(let error) = StatsProtocol.parseRequest([0x7B, 0xFF, 0xFE, 0x7D]) else {
            Issue.record("accepted invalid UTF-8")
            return
        }
        #expect(error == StatsError(.badRequest, "request is not valid UTF-8"))
    }

    @Test func successLineIsOneSortedLine() throws {
        let pretty = Data("{\n  \"a\" : \"x\\ny\",\n  \"b\" : 2\n}\n".utf8)
        let line = try #require(StatsProtocol.encodeSuccess(command: "status", object: pretty))
        #expect(line.last == 0x0A)
        #expect(line.dropLast().contains(0x0A) == false)
        let text = String(decoding: line.dropLast(), as: UTF8.self)
        #expect(text.hasPrefix(#"{"command":"status","data":{"#))
        #expect(text.hasSuffix(#","ok":true}"#))
        let value = try #require(JSONValue.parse(Data(line)))
        #expect(value["data"]?["a"] == .string("x\ny"))
        #expect(StatsProtocol.encodeSuccess(command: "x", object: Data("[1]".utf8)) == nil)
        #expect(StatsProtocol.encodeSuccess(command: "x", object: Data()) == nil)
    }

    @Test func errorAndTextLinesAreExactJSON() {
        let error = StatsProtocol.encodeError(StatsError(.unknownCommand, "no \"x\""), command: "x")
        #expect(String(decoding: error, as: UTF8.self) ==
            #"{"command":"x","error":{"code":"unknown-command","message":"no \"x\""},"ok":false}"# + "\n")
        let text = StatsProtocol.encodeSuccess(command: "metrics", text: "a 1\nb\t2\n\u{01}")
        #expect(String(decoding: text, as: UTF8.self) ==
            #"{"command":"metrics","data":{"text":"a 1\nb\t2\n\u0001"},"ok":true}"# + "\n")
    }

    @Test func requestEncodingRoundTrips() throws {
        let request = StatsRequest(command: "top \"ports\"", arguments: ["n": 7, "a": -1])
        let line = StatsProtocol.encodeRequest(request)
        #expect(String(decoding: line, as: UTF8.self) == #"{"command":"top \"ports\"","args":{"a":-1,"n":7}}"# + "\n")
        let value = try #require(JSONValue.parse(line))
        #expect(value["args"]?["n"]?.intValue == 7)
    }

    @Test func decodesResponses() throws {
        let ok = try StatsProtocol.decodeResponse(Data(#"{"command":"s","data":{"k":1},"ok":true}"#.utf8))
        #expect(ok.ok && ok.command == "s" && ok.data?["k"] == .integer(1))
        let bad = try StatsProtocol.decodeResponse(Data(#"{"error":{"code":"busy","message":"m"},"ok":false}"#.utf8))
        #expect(!bad.ok && bad.error == StatsError(.busy, "m"))
        #expect(throws: StatsError.self) { try StatsProtocol.decodeResponse(Data("nope".utf8)) }
    }

    @Test func staticProviderTruncatesRows() throws {
        let provider = StaticStatsProvider.sample()
        guard case .data(let data) = provider.respond(to: "top-ports", arguments: ["n": 3]) else {
            Issue.record("no data")
            return
        }
        let value = try #require(JSONValue.parse(data))
        #expect(value["ports"]?.arrayValue?.count == 3)
        #expect(provider.respond(to: "nope", arguments: [:]) == .unknown)
    }

    @Test func prometheusText() {
        var text = PrometheusText()
        text.family("darknet_packets_total", .counter, help: "Packets.\nAll.", samples: [
            (labels: [("proto", "tcp")], value: 5), (labels: [("proto", "u\"d\\p")], value: 1.5),
        ])
        text.single("darknet_up", .gauge, help: "Up.", value: 1)
        #expect(text.text == """
            # HELP darknet_packets_total Packets.\\nAll.
            # TYPE darknet_packets_total counter
            darknet_packets_total{proto="tcp"} 5
            darknet_packets_total{proto="u\\"d\\\\p"} 1.5
            # HELP darknet_up Up.
            # TYPE darknet_up gauge
            darknet_up 1

            """)
    }

    @Test func rendersObjectsAndTables() {
        let data = JSONValue.object([
            "version": .string("1.0"),
            "uptime_seconds": .integer(42),
            "ring": .object(["captured": .integer(10), "ring_dropped": .integer(0)]),
            "ports": .array([
                .object(["proto": .string("tcp"), "port": .integer(23), "packets": .integer(1000)]),
                .object(["proto": .string("udp"), "port": .integer(53), "packets": .integer(7)]),
            ]),
        ])
        let text = StatsTextRenderer.render(command: "status", data: data)
        #expect(text == """
            uptime_seconds  42
            version         1.0
            ports:
              PROTO  PORT  PACKETS
              tcp      23     1000
              udp      53        7
            ring:
              captured      10
              ring_dropped  0
            """)
        #expect(StatsTextRenderer.render(command: "metrics", data: .object(["text": .string("a 1\n")])) == "a 1")
    }
}

@Suite struct BoundedLineDecoderTests {
    func run(_ chunks: [String], max: Int = 8) throws -> [String] {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(BoundedLineDecoder(maxLength: max)))
        var out: [String] = []
        func collect() throws {
            while let line = try channel.readInbound(as: StatsLine.self) {
                switch line {
                case .line(let buffer): out.append(String(buffer: buffer))
                case .tooLarge: out.append("<too-large>")
                }
            }
        }
        for chunk in chunks {
            try channel.writeInbound(channel.allocator.buffer(string: chunk))
            try collect()
        }
        _ = try channel.finish()
        try collect()
        return out
    }

    @Test func splitsLinesAcrossChunks() throws {
        #expect(try run(["ab", "c\nde", "f\r\n\n"]) == ["abc", "def", ""])
    }

    @Test func exactlyMaxIsAccepted() throws {
        #expect(try run(["12345678\n", "12345678\r\n"]) == ["12345678", "12345678"])
    }

    @Test func overLimitIsOneMarkerAndSkipsToNewline() throws {
        #expect(try run(["123456789\nok\n"]) == ["<too-large>", "ok"])
        // Split over many chunks, newline far away: still a single marker.
        #expect(try run(["12345", "67890", "abcdef", String(repeating: "x", count: 1000), "y\nnext\n"]) == ["<too-large>", "next"])
    }

    @Test func lastLineWithoutNewline() throws {
        #expect(try run(["a\nlast"]) == ["a", "last"])
        #expect(try run(["a\n0123456789abc"]) == ["a", "<too-large>"])
    }
}
