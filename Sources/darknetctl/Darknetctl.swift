import ArgumentParser
import Foundation
import StatsWire

@main
struct Darknetctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "darknetctl",
        abstract: "Query a running darknetd over its local Unix socket.",
        discussion: """
            Commands: \(StatsCommand.allCases.map(\.rawValue).joined(separator: ", ")).
            Tables by default; --json prints the daemon's JSON response line as is.
            """
    )

    @Option(name: .long, help: "The daemon's stats socket.")
    var socket: String = StatsProtocol.defaultSocketPath

    @Argument(help: "Command to send (see `darknetctl help`).")
    var command: String

    @Flag(name: .long, help: "Print the raw JSON response.")
    var json = false

    @Option(name: .customLong("n"), help: "How many rows (\(StatsCommand.allCases.filter { !$0.arguments.isEmpty }.map(\.rawValue).joined(separator: ", "))).")
    var n: Int?

    @Option(name: .long, help: "Seconds to wait for the daemon.")
    var timeout: Double = 5

    func validate() throws {
        if let n, n < 1 || n > StatsProtocol.maxN { throw ValidationError("--n must be within 1...\(StatsProtocol.maxN)") }
        if !(timeout > 0 && timeout <= 3600) { throw ValidationError("--timeout must be within (0, 3600]") }
    }

    func run() throws {
        let request = StatsRequest(command: command, arguments: n.map { ["n": $0] } ?? [:])
        let line: Data
        do {
            line = try StatsClient.exchange(StatsProtocol.encodeRequest(request), socketPath: socket, timeout: timeout)
        } catch {
            throw fail(error.description)
        }
        let response: StatsResponse
        do {
            response = try StatsProtocol.decodeResponse(line)
        } catch {
            throw fail(StatsClientError.badResponse(error.message).description)
        }
        if json {
            print(String(decoding: line, as: UTF8.self))
            if !response.ok { throw ExitCode(1) }
            return
        }
        guard response.ok else {
            let error = response.error ?? StatsError(.internal, "no error given")
            throw fail("\(command): \(error.message) (\(error.code.rawValue))")
        }
        print(StatsTextRenderer.render(command: command, data: response.data ?? .object([:])))
    }

    func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("darknetctl: \(message)\n".utf8))
        return ExitCode(1)
    }
}
