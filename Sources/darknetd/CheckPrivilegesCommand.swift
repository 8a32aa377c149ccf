import ArgumentParser
import Capture
import Daemon
import Decoding
import Foundation
import Pipeline

/// Diagnostic: does the privilege drop work on this machine, and does a
/// capture handle opened as root keep delivering after it?
struct CheckPrivilegesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-privileges",
        abstract: "Open a live capture, drop to --user, print the kernel's view of the credentials, and read from the handle for 1 s."
    )

    @Option(name: .long, help: "User to drop to (needs root).")
    var user: String

    @Option(name: [.short, .long], help: "Interface to open the capture on.")
    var interface: String = "lo"

    @Flag(name: .long, help: "Keep CAP_NET_RAW after the drop (otherwise no capability is kept).")
    var retainNetRaw = false

    @Option(name: .long, help: "Seconds to read from the handle after the drop.")
    var seconds: Double = 1

    func validate() throws {
        if !(seconds > 0 && seconds <= 60) { throw ValidationError("--seconds must be within (0, 60]") }
    }

    struct Output: Encodable {
        var user: String
        var uid: UInt32
        var gid: UInt32
        var groups: [UInt32]
        var retainedNetRaw: Bool
        var canRegainRoot: Bool
        var status: ProcessStatus
        var capture: Capture

        struct Capture: Encodable {
            var interface: String
            var linkType: String
            var seconds: Double
            var packets: UInt64
            var delivering: Bool
            var error: String?

            enum CodingKeys: String, CodingKey {
                case interface, seconds, packets, delivering, error
                case linkType = "link_type"
            }
        }

        enum CodingKeys: String, CodingKey {
            case user, uid, gid, groups, status, capture
            case retainedNetRaw = "retained_net_raw"
            case canRegainRoot = "can_regain_root"
        }
    }

    func run() throws {
        var options = LiveCaptureOptions(interface: interface)
        options.promiscuous = false
        options.timeoutMilliseconds = 100
        options.bufferSize = 1 << 20
        let handle: PcapHandle
        do {
            handle = try PcapHandle.openLive(options)
        } catch {
            throw fail(error.description)
        }
        let report: PrivilegeDropReport
        do {
            report = try PrivilegeDrop.drop(to: user, retainNetRaw: retainNetRaw)
        } catch {
            throw fail(error.description)
        }

        // The handle was opened as root; reading it now needs no privilege.
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        var counters = PacketCountersConsumer()
        let run = Pipeline().run(source: .live(handle), consumer: &counters, tickInterval: .milliseconds(50),
                                 tick: { engine, _, _ in if ContinuousClock.now >= deadline { engine.stop() } })
        let error = run.sources.first?.error
        let output = Output(
            user: report.user, uid: report.uid, gid: report.gid, groups: report.groups, retainedNetRaw: report.retainedNetRaw,
            canRegainRoot: report.canRegainRoot, status: report.status,
            capture: .init(interface: interface, linkType: handle.linkTypeName, seconds: seconds,
                           packets: run.sources.first?.packets ?? 0, delivering: error == nil, error: error))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(output), as: UTF8.self))
        if let error { throw fail("capture handle stopped delivering after the drop: \(error)") }
    }
}

/// Counts records; the check needs no aggregation.
struct PacketCountersConsumer: RecordConsumer {
    var records = 0
    mutating func consume(_ records: Span<PacketRecord>) { self.records += records.count }
}
