// libFuzzer harness for `SnapshotStore<DaemonSnapshot>.decode`: the state file
// `darknetd run` reads at start-up, and then what the daemon does with a
// restored payload. Declarations only.
//
// Input: SnapshotInput (selector byte: raw file, or a payload framed here
// with a correct header and checksum). Invariants: decoding never traps; a
// restored payload re-saves to bytes that decode again and re-save
// identically; its windows are accepted or refused by
// `Aggregator.restoreWindows` without trapping, and `RollingWindow.totals()`
// works on the decoded and on the restored windows, also after the
// aggregator closes one more bucket on top of them; the alert state restores
// under the daemon's configuration and takes one more bucket.

import Aggregation
import Alerts
import Decoding
import Foundation
import FuzzServiceSupport
import FuzzSupport
import Configuration
import Daemon

let store = SnapshotStore<DaemonSnapshot>(directory: "/nonexistent", name: "darknetd.state",
                                          payloadVersion: DaemonSnapshot.payloadVersion)
/// Built once (its tables are the expensive part); each input works on a copy.
let template = Aggregator(config: SnapshotInput.aggregationConfig)

/// A TCP SYN from 198.51.100.1 to 203.0.113.2:23, raw IPv4.
let synPacket: [UInt8] = [
    0x45, 0x00, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0x40, 0x06, 0x00, 0x00,
    0xC6, 0x33, 0x64, 0x01, 0xCB, 0x00, 0x71, 0x02,
    0x9C, 0x40, 0x00, 0x17, 0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x00, 0x00, 0x00,
    0x50, 0x02, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
]

func record(at timestampNs: Int64) -> PacketRecord {
    var r = PacketRecord()
    synPacket.withUnsafeBufferPointer { bytes in
        PacketDecoder(linkType: .rawIP).decode(bytes.span, wireLength: UInt32(synPacket.count), timestampNs: timestampNs, into: &r)
    }
    return r
}

func exercise(_ windows: [RollingWindow]) {
    for window in windows {
        let totals = window.totals()
        invariant(totals.sources.estimate.isFinite && totals.sources.estimate >= 0, "window source estimate \(totals.sources.estimate)")
        _ = totals.counters.totalErrors
        _ = totals.classes.total
    }
}

func encode(_ snapshot: DaemonSnapshot) -> [UInt8] {
    let encoder = PropertyListEncoder()
    encoder.outputFormat = .binary
    do {
        return SnapshotInput.frame(payload: [UInt8](try encoder.encode(snapshot)))
    } catch {
        invariant(false, "a restored snapshot does not encode: \(error)")
        return []
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSnapshot(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size >= 1 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    let file = SnapshotInput.file(selector: input[0], rest: input.dropFirst())
    guard case .restored(let saved) = store.decode(file) else { return 0 }

    // Accepted state re-saves, and the re-saved file is accepted and re-saves identically.
    let resaved = encode(saved)
    guard case .restored(let again) = store.decode(resaved) else {
        invariant(false, "a re-saved snapshot is rejected: \(store.decode(resaved))")
        return 0
    }
    invariant(encode(again) == resaved, "a re-saved snapshot does not re-save to the same bytes")

    // What SensorDaemon.start does with it.
    exercise(saved.windows)
    var aggregator = template
    if aggregator.restoreWindows(saved.windows) {
        exercise(aggregator.windows)
        // The daemon goes on: the next packet lands after the newest restored bucket.
        let newest = aggregator.windows.compactMap { $0.summaries.last?.startNs }.max() ?? saved.savedNs
        aggregator.add(record(at: newest &+ aggregator.buckets.lengthNs))
        aggregator.finish()
        exercise(aggregator.windows)
        for window in aggregator.windows {
            invariant(window.summaries.count <= window.capacity, "\(window.summaries.count) summaries in a window of \(window.capacity)")
        }
    }
    var later = template
    _ = later.restoreWindows(saved.windows, now: saved.savedNs)
    exercise(later.windows)

    var engine = AlertEngine.restoring(state: saved.alerts, config: AlertEngineConfig())
    var gate = AlertGate.restoring(state: saved.gate, config: AlertGateConfig())
    let bucketStart = (saved.savedNs / 60_000_000_000) &* 60_000_000_000
    for alert in engine.observe(BucketObservation(startNs: bucketStart, bucketSeconds: 60, ports: [
        PortObservation(ipProtocol: 17, port: 53, scanPackets: 1000, sources: 50),
    ])) {
        _ = gate.submit(alert)
    }
    _ = engine.finish()
    _ = gate.flush()
    return 0
}
