import Foundation
import Interchange
import Daemon
import StatsWire
import TestSupport
import Testing

/// The server over real Unix sockets in a temporary directory. Serialized:
/// several tests measure time (idle close) or count connections.
@Suite(.serialized) struct StatsServerTests {
    @Test func everyCommandRoundTrips() async throws {
        let provider = StaticStatsProvider.sample()
        try await withServer(provider: provider) { path, _ in
            let client = try TestClient(path: path)
            for command in StatsCommand.allCases {
                let response = try client.request(#"{"command":"\#(command.rawValue)"}"#)
                #expect(response.isOK, "\(command): \(response.compactJSON)")
                #expect(response["command"]?.stringValue == command.rawValue)
                switch command {
                case .help:
                    let names = response["data"]?["commands"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
                    #expect(names == StatsCommand.allCases.map(\.rawValue))
                case .metrics:
                    #expect(response["data"]?["text"]?.stringValue?.contains("# TYPE darknet_packets_total counter") == true)
                default:
                    guard case .data(let data) = provider.respond(to: command.rawValue, arguments: [:]) else {
                        Issue.record("sample has no \(command)")
                        continue
                    }
                    #expect(response["data"] == JSONValue.parse(data), "\(command)")
                }
            }
            let top = try client.request(#"{"command":"top-sources","args":{"n":4}}"#)
            #expect(top["data"]?["sources"]?.arrayValue?.count == 4)
            #expect(top["data"]?["count"] == .integer(4))
        }
    }

    @Test func pipelinedRequestsAnswerInOrder() async throws {
        try await withServer { path, _ in
            let client = try TestClient(path: path)
            let commands = ["status", "nope", "stats", "top-ports", "help"]
            try client.send(commands.map { #"{"command":"\#($0)"}"# + "\n" }.joined())
            for command in commands {
                let line = try #require(client.readLine())
                #expect(JSONValue.parse(Data(line.utf8))?["command"]?.stringValue == command)
            }
        }
    }

    @Test func oversizedLineThenGoodRequestOnSameConnection() async throws {
        try await withServer(maxRequestBytes: 4096) { path, server in
            let client = try TestClient(path: path)
            let tooLarge = try client.request(String(repeating: "a", count: 5000))
            #expect(tooLarge.errorCode == "too-large")
            #expect(try client.request(#"{"command":"status"}"#).isOK)

            // 1 MiB without a newline, sent in pieces: one too-large, nothing buffered.
            let piece = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
            for _ in 0..<16 { try client.send(bytes: piece) }
            try client.send("\n")
            let line = try #require(client.readLine())
            #expect(JSONValue.parse(Data(line.utf8))?.errorCode == "too-large")
            #expect(try client.request(#"{"command":"stats"}"#).isOK)

            // Exactly at the limit is accepted.
            let prefix = #"{"command":"status"}"#
            let exact = prefix.dropLast() + String(repeating: " ", count: 4096 - prefix.utf8.count) + "}"
            #expect(exact.utf8.count == 4096)
            #expect(try client.request(String(exact)).isOK)
            #expect(try client.request(String(exact.dropLast()) + " }").errorCode == "too-large")
            #expect(server.counters.errorResponses == 3)
        }
    }

    @Test func badRequestsKeepTheConnectionUsable() async throws {
        try await withServer { path, _ in
            let client = try TestClient(path: path)
            let cases: [([UInt8], String)] = [
                (Array(#"{"command":"#.utf8), "bad-request"),
                ([0xFF, 0xFE], "bad-request"),
                (Array("{\"command\":\"st\u{FF}\"}".utf8).map { $0 == 0xC3 ? 0xFF : $0 }, "bad-request"),
                (Array(#"{"args":{"n":3}}"#.utf8), "bad-request"),
                (Array(#"{"command":"status","args":{"n":"x"}}"#.utf8), "bad-request"),
                (Array(#"{"command":"frobnicate"}"#.utf8), "unknown-command"),
            ]
            for (bytes, code) in cases {
                try client.send(bytes: bytes + [0x0A])
                let line = try #require(client.readLine(), "no answer to \(bytes)")
                let value = try #require(JSONValue.parse(Data(line.utf8)), "not JSON: \(line)")
                #expect(value.errorCode == code, "\(line)")
                #expect(value["ok"] == .bool(false))
                #expect(value["error"]?["message"]?.stringValue?.isEmpty == false)
                #expect(try client.request(#"{"command":"status"}"#).isOK, "connection unusable after \(bytes)")
            }
            let unknown = try client.request(#"{"command":"frobnicate"}"#)
            #expect(unknown["command"]?.stringValue == "frobnicate")
        }
    }

    @Test func twoHundredConcurrentClientsAllAnswered() async throws {
        try await withServer(maxClients: 256) { path, server in
            let clients = try (0..<200).map { _ in try TestClient(path: path) }
            for (i, client) in clients.enumerated() { try client.send(#"{"command":"top-ports","args":{"n":\#(i % 5 + 1)}}"# + "\n") }
            for (i, client) in clients.enumerated() {
                let line = try #require(client.readLine(timeout: 10), "client \(i) got no answer")
                let value = try #require(JSONValue.parse(Data(line.utf8)))
                #expect(value.isOK, "client \(i): \(line)")
                #expect(value["data"]?["ports"]?.arrayValue?.count == i % 5 + 1)
            }
            #expect(server.counters.activeClients == 200)
            #expect(server.counters.rejectedBusy == 0)
        }
    }

    @Test func clientsOverTheCapGetBusy() async throws {
        try await withServer(maxClients: 64) { path, server in
            let clients = try (0..<200).map { _ in try TestClient(path: path) }
            var answered = 0
            var busy = 0
            for client in clients { try? client.send(#"{"command":"status"}"# + "\n") }
            for (i, client) in clients.enumerated() {
                let line = try #require(client.readLine(timeout: 10), "client \(i) got nothing")
                let value = try #require(JSONValue.parse(Data(line.utf8)))
                if value.isOK {
                    answered += 1
                } else {
                    #expect(value.errorCode == "busy", "\(line)")
                    #expect(client.waitForClose(timeout: 5), "busy client \(i) left open")
                    busy += 1
                }
            }
            #expect(answered == 64)
            #expect(busy == 136)
            #expect(server.counters.rejectedBusy == 136)
            #expect(server.counters.activeClients == 64)
        }
    }

    @Test func capacityFreesWhenClientsLeave() async throws {
        try await withServer(maxClients: 2) { path, server in
            var first: TestClient? = try TestClient(path: path)
            let second = try TestClient(path: path)
            #expect(try first!.request(#"{"command":"status"}"#).isOK)
            #expect(try second.request(#"{"command":"status"}"#).isOK)
            // Over capacity the server answers `busy` on accept and closes, so the
            // client reads without sending (a send could race the close: EPIPE).
            let third = try TestClient(path: path)
            let refusal = try #require(third.readLine(timeout: 5), "no busy line")
            #expect(JSONValue.parse(Data(refusal.utf8))?.errorCode == "busy")
            first = nil
            #expect(eventually(timeout: .seconds(5)) { server.counters.activeClients == 1 })
            let fourth = try TestClient(path: path)
            #expect(try fourth.request(#"{"command":"status"}"#).isOK)
        }
    }

    @Test func silentClientIsClosedAfterIdleTimeout() async throws {
        try await withServer(idleTimeout: .seconds(1)) { path, server in
            let silent = try TestClient(path: path)
            let busy = try TestClient(path: path)
            let started = Date()
            // Another client keeps being answered meanwhile, and is not closed: it keeps talking.
            for _ in 0..<12 {
                #expect(try busy.request(#"{"command":"stats"}"#).isOK)
                usleep(200_000)
            }
            #expect(silent.waitForClose(timeout: 3))
            let elapsed = Date().timeIntervalSince(started)
            #expect(elapsed >= 0.9)
            #expect(server.counters.closedIdle >= 1)
            #expect(try busy.request(#"{"command":"status"}"#).isOK)
        }
    }

    @Test func clientThatNeverReadsStaysBounded() async throws {
        let highWater = 64 * 1024
        try await withServer(idleTimeout: .seconds(2), highWater: highWater) { path, server in
            let stuck = try TestClient(path: path)
            stuck.setNonBlocking()
            let request = Array((#"{"command":"top-sources","args":{"n":20}}"# + "\n").utf8)
            var batch: [UInt8] = []
            for _ in 0..<1000 { batch += request }
            var sentRequests = 0
            var stalledSince: Date?
            let deadline = Date().addingTimeInterval(20)
            // Write until the server has stopped taking requests for a while.
            while Date() < deadline {
                let n = batch.withUnsafeBytes { send(stuck.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n > 0 {
                    sentRequests += n / request.count
                    stalledSince = nil
                } else if errno == EAGAIN {
                    if stalledSince == nil { stalledSince = Date() }
                    if Date().timeIntervalSince(stalledSince!) > 0.5 { break }
                    usleep(10_000)
                } else {
                    break
                }
            }
            let counters = server.counters
            let responseSize = 2_000
            // It was asked far more than it answered: reading stopped.
            #expect(sentRequests > counters.requests)
            #expect(counters.peakQueuedBytes <= highWater + 16 * 1024, "peak \(counters.peakQueuedBytes)")
            #expect(counters.requests * responseSize < 64 * 1024 * 1024)

            // Others are still served.
            let other = try TestClient(path: path)
            #expect(try other.request(#"{"command":"status"}"#).isOK)

            // The stuck client is closed once it has been stuck past the idle timeout.
            #expect(eventually(timeout: .seconds(6)) { server.counters.closedIdle >= 1 })
            #expect(eventually(timeout: .seconds(2)) { server.counters.queuedBytes == 0 })
            #expect(try other.request(#"{"command":"stats"}"#).isOK)
        }
    }

    @Test func socketModeAndGroup() async throws {
        let dir = TempDirectory()
        let server = StatsServer()
        let path = dir.file("m.sock")
        try await server.start(path: path, provider: StaticStatsProvider.sample())
        var info = stat()
        #expect(lstat(path, &info) == 0)
        #expect(info.st_mode & S_IFMT == S_IFSOCK)
        #expect(info.st_mode & 0o7777 == 0o660)
        await server.shutdown()

        let other = StatsServer()
        let group: String? = geteuid() == 0 ? "65534" : nil
        try await other.start(path: path, mode: 0o600, group: group, provider: StaticStatsProvider.sample())
        #expect(lstat(path, &info) == 0)
        #expect(info.st_mode & 0o7777 == 0o600)
        if group != nil { #expect(info.st_gid == 65534) }
        await other.shutdown()

        await #expect(throws: StatsServerError.unknownGroup("no-such-group-dks")) {
            try await StatsServer().start(path: path, group: "no-such-group-dks", provider: StaticStatsProvider.sample())
        }
    }

    @Test func refusesSymlinkAndRegularFile() async throws {
        let dir = TempDirectory()
        let target = dir.file("target")
        #expect(FileManager.default.createFile(atPath: target, contents: Data("keep".utf8)))
        let link = dir.file("link.sock")
        #expect(symlink(target, link) == 0)
        await #expect(throws: StatsServerError.symlink(path: link)) {
            try await StatsServer().start(path: link, provider: StaticStatsProvider.sample())
        }
        // A dangling symlink is refused too.
        let dangling = dir.file("dangling.sock")
        #expect(symlink(dir.file("missing"), dangling) == 0)
        await #expect(throws: StatsServerError.symlink(path: dangling)) {
            try await StatsServer().start(path: dangling, provider: StaticStatsProvider.sample())
        }
        await #expect(throws: StatsServerError.notASocket(path: target)) {
            try await StatsServer().start(path: target, provider: StaticStatsProvider.sample())
        }
        #expect(FileManager.default.contents(atPath: target) == Data("keep".utf8))
        #expect(!FileManager.default.fileExists(atPath: dir.file("missing")))
    }

    @Test func staleSocketIsReplacedLiveOneIsNot() async throws {
        let dir = TempDirectory()
        let path = dir.file("stale.sock")
        // A socket file nobody listens on: bound, then closed.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        close(fd)
        var info = stat()
        #expect(lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK)

        let server = StatsServer()
        try await server.start(path: path, provider: StaticStatsProvider.sample())
        #expect(try TestClient(path: path).request(#"{"command":"status"}"#).isOK)

        await #expect(throws: StatsServerError.inUse(path: path)) {
            try await StatsServer().start(path: path, provider: StaticStatsProvider.sample())
        }
        // The live server was left alone.
        #expect(try TestClient(path: path).request(#"{"command":"status"}"#).isOK)
        await server.shutdown()
    }

    @Test func socketRemovedOnShutdown() async throws {
        let dir = TempDirectory()
        let path = dir.file("gone.sock")
        let server = StatsServer()
        try await server.start(path: path, provider: StaticStatsProvider.sample())
        let client = try TestClient(path: path)
        #expect(try client.request(#"{"command":"status"}"#).isOK)
        await server.shutdown()
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(client.waitForClose(timeout: 2))
        #expect(throws: TestFailure.self) { try TestClient(path: path) }
        // Restartable on the same path.
        try await server.start(path: path, provider: StaticStatsProvider.sample())
        #expect(try TestClient(path: path).request(#"{"command":"status"}"#).isOK)
        await server.shutdown()
    }

    @Test func providerGarbageIsAnInternalError() async throws {
        let provider = StaticStatsProvider(entries: ["status": .object(Data("[1,2]".utf8))])
        try await withServer(provider: provider) { path, _ in
            let client = try TestClient(path: path)
            #expect(try client.request(#"{"command":"status"}"#).errorCode == "internal")
            #expect(try client.request(#"{"command":"stats"}"#).errorCode == "unknown-command")
            #expect(try client.request(#"{"command":"help"}"#).isOK)
        }
    }

    @Test func halfClosedClientGetsItsAnswer() async throws {
        try await withServer { path, _ in
            let client = try TestClient(path: path)
            try client.send(#"{"command":"status"}"#)  // no newline
            shutdown(client.fd, Int32(SHUT_WR))
            let line = try #require(client.readLine())
            #expect(JSONValue.parse(Data(line.utf8))?.isOK == true)
            #expect(client.waitForClose(timeout: 2))
        }
    }
}
