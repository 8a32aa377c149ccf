import ArgumentParser
import Decoding
import Foundation
import Interchange
import Synth

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write a synthetic, seeded darknet capture (scans, probes, backscatter, IPv6, fragments)."
    )

    @Option(name: .long, help: "Output capture file.")
    var out: String

    @Option(name: .long, help: "Packets to write.")
    var packets: Int = 100_000

    @Option(name: .long, help: "Generator seed: the same seed writes the same bytes.")
    var seed: UInt64 = 1

    @Option(name: .long, help: "Background packets per second (sets the timestamps).")
    var rate: Double = 20_000

    @Option(name: .long, help: "Distinct background sources.")
    var sources: Int = 20_000

    @Flag(name: .long, help: "Every packet from a unique random source (spoofed flood).")
    var flood = false

    @Option(name: .long, help: "With --flood: this many heavy sources send 10% of the packets between them, evenly; their addresses go to --heavy-list.")
    var heavy: Int = 0

    @Option(name: .long, help: "With --heavy: write the heavy sources' addresses here, one a line.")
    var heavyList: String?

    @Option(name: .long, help: "Inject a UDP/53 open-resolver scan surge: START:END:PPS in seconds from the start, e.g. 600:900:2000.")
    var surge: String?

    @Option(name: .long, help: "Time of the first packet (RFC 3339, e.g. 2024-01-01T00:00:00Z, the default).")
    var start: String?

    @Option(name: .long, help: "Capture file format: pcap or pcapng.")
    var fileFormat: FileFormat = .pcap

    enum FileFormat: String, ExpressibleByArgument, CaseIterable { case pcap, pcapng }

    func validate() throws {
        if packets < 0 { throw ValidationError("--packets must not be negative") }
        if !(rate > 0) { throw ValidationError("--rate must be positive") }
        if sources < 1 { throw ValidationError("--sources must be at least 1") }
        if heavy < 0 || heavy > sources { throw ValidationError("--heavy must be from 0 to --sources (\(sources))") }
        if heavy > 0 && !flood { throw ValidationError("--heavy needs --flood") }
        if heavyList != nil && heavy == 0 { throw ValidationError("--heavy-list needs --heavy") }
        if let surge, GenerateCommand.parseSurge(surge) == nil {
            throw ValidationError("--surge: expected START:END:PPS with START < END, got \"\(surge)\"")
        }
        if let start, RFC3339.parse(start) == nil {
            throw ValidationError("--start: expected an RFC 3339 time such as 2024-01-01T00:00:00Z, got \"\(start)\"")
        }
    }

    static func parseSurge(_ text: String) -> DarknetTrafficConfig.Surge? {
        let parts = text.split(separator: ":").map { Double($0) }
        guard parts.count == 3, let start = parts[0], let end = parts[1], let pps = parts[2],
              start >= 0, end > start, pps > 0, end < 1e9 else { return nil }
        return DarknetTrafficConfig.Surge(startOffsetNs: Int64(start * 1e9), endOffsetNs: Int64(end * 1e9), packetsPerSecond: pps)
    }

    func run() throws {
        var config = DarknetTrafficConfig()
        config.seed = seed
        config.packetCount = packets
        config.pace = .packetsPerSecond(rate)
        config.sourceCount = sources
        config.spoofedFlood = flood
        config.heavyFloodSources = heavy
        config.surge = surge.flatMap(GenerateCommand.parseSurge)
        if let start, let ns = RFC3339.parse(start) { config.startTimeNs = ns }
        do {
            let written = try GenerateCommand.write(config: config, to: out, format: fileFormat)
            note("wrote \(written) packets to \(out)")
            if let heavyList {
                let addresses = DarknetTraffic(config: config).heavyFloodSources.map(\.description)
                try (addresses.joined(separator: "\n") + "\n").write(toFile: heavyList, atomically: true, encoding: .utf8)
                note("wrote \(addresses.count) heavy source addresses to \(heavyList)")
            }
        } catch {
            throw fail("\(error)")
        }
    }

    static func write(config: DarknetTrafficConfig, to path: String, format: FileFormat) throws -> Int {
        var traffic = DarknetTraffic(config: config)
        switch format {
        case .pcap:
            let writer = try PcapFileWriter(path: path)
            let count = try traffic.write(to: writer)
            try writer.close()
            return count
        case .pcapng:
            let writer = try PcapngFileWriter(path: path)
            let count = try traffic.write(to: writer)
            try writer.close()
            return count
        }
    }
}
