import StatsWire

/// Stats-socket seeds: two control bytes (line limit, read size; see the
/// harness), then request lines as `darknetctl` sends them.
enum StatsRequestSeeds {
    static func all() -> [Seed] {
        var seeds: [Seed] = []
        func add(_ name: String, limit: UInt8, chunk: UInt8, _ stream: [UInt8]) {
            seeds.append((name, [limit, chunk] + stream))
        }
        for command in StatsCommand.allCases {
            let arguments = command.arguments.isEmpty ? [:] : ["n": 10]
            let line = [UInt8](StatsProtocol.encodeRequest(StatsRequest(command: command.rawValue, arguments: arguments)))
            add("request-\(command.rawValue)", limit: 248, chunk: 63, line)
        }
        let pipelined = ["status", "top-ports", "help"].flatMap {
            [UInt8](StatsProtocol.encodeRequest(StatsRequest(command: $0, arguments: $0 == "top-ports" ? ["n": 5] : [:])))
        }
        add("pipelined-small-reads", limit: 248, chunk: 2, pipelined)
        add("crlf-and-last-line", limit: 248, chunk: 7, Array("{\"command\":\"stats\"}\r\n{\"command\":\"metrics\"}".utf8))
        add("too-long", limit: 0, chunk: 3, Array("{\"command\":\"top-sources\",\"args\":{\"n\":100000}}\n{\"command\":\"x\"}\n".utf8))
        add("bad-requests", limit: 120, chunk: 63, Array("[1]\n{\"command\":\"\"}\n{\"command\":7}\n{\"command\":\"a\",\"args\":{\"n\":0}}\n{\"command\":\"a\",\"extra\":1}\n\u{FF}\n".utf8))
        add("unicode-escapes", limit: 200, chunk: 63, Array("{\"command\":\"\\u00e9\\ud83d\\ude00\\n\",\"args\":{\"n\":1e2,\"m\":-3}}\n".utf8))
        return seeds
    }
}
