import Foundation
import TestSupport
import Testing

/// Live capture on a veth pair inside namespaces the test creates.
@Suite(.serialized) struct LiveCaptureTests {
    /// One aggregation thread, and two shards (the packets come from one
    /// source, so one shard stays idle and must still let the run end).
    @Test(.enabled(if: VethNamespaces.available, "needs root (CAP_NET_ADMIN) and iproute2 to create namespaces"),
          arguments: [1, 2])
    func capturesExactlyWhatWasSent(threads: Int) throws {
        let net = try VethNamespaces(tag: "a\(threads)")
        defer { net.tearDown() }
        let sent = 50
        let (exe, args) = net.inNamespace(net.receiver, [
            Executables.darknetd, "capture", "--interface", net.receiverInterface,
            "--filter", "udp and dst port 9999", "--count", "\(sent)", "--duration", "30",
            "--interval", "600", "--format", "json", "--threads", "\(threads)",
        ])
        let capture = try Subprocess(exe, args)
        #expect(capture.wait(until: { capture.standardError.contains("capturing on") }, timeout: .seconds(20)),
                "capture did not start: \(capture.standardError)")
        try net.sendUDP(count: sent, port: 9999)
        let status = capture.waitForExit(timeout: .seconds(40))
        #expect(status == 0, "exit \(String(describing: status)): \(capture.standardError)")

        let json = try #require(capture.standardOutput.data(using: .utf8))
        let report = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        let packets = try #require(report["packets"] as? [String: Any])
        #expect(packets["total"] as? Int == sent)
        #expect(packets["decoded"] as? Int == sent)
        #expect(packets["udp"] as? Int == sent)
        #expect(packets["ipv4"] as? Int == sent)
        let captureSection = try #require(report["capture"] as? [String: Any])
        #expect(captureSection["mode"] as? String == "live")
        let ring = try #require(captureSection["ring"] as? [String: Any])
        #expect(ring["captured"] as? Int == sent)
        #expect(ring["consumed"] as? Int == sent)
        #expect(ring["ring_dropped"] as? Int == 0)
        let kernel = try #require(captureSection["kernel"] as? [String: Any])
        #expect((kernel["received"] as? Int ?? 0) >= sent)
        #expect(kernel["dropped"] as? Int == 0)
    }

    @Test(.enabled(if: VethNamespaces.available && Executables.system("setpriv") != nil, "needs root and setpriv to run unprivileged"))
    func missingCapabilityIsNamed() throws {
        let result = try Subprocess.run(Executables.system("setpriv")!, [
            "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
            Executables.darknetd, "capture", "--interface", "lo", "--count", "1",
        ])
        #expect(result.status == 1)
        #expect(result.output.contains("CAP_NET_RAW"), "\(result.output)")
        #expect(result.output.split(separator: "\n").count == 1, "one line: \(result.output)")
    }

    @Test func unknownInterfaceIsAOneLineError() throws {
        let result = try Subprocess.run(Executables.darknetd, ["capture", "--interface", "no-such-if0", "--count", "1"])
        #expect(result.status == 1)
        #expect(result.output.hasPrefix("darknetd: no-such-if0"), "\(result.output)")
    }
}
