import Aggregation
import Alerts
import Decoding
import Foundation
import FuzzServiceSupport
import Configuration
import Daemon
import Synth

/// A real small snapshot: the windows of an aggregator (the harness's own
/// configuration) after a few buckets of mixed traffic, and an alert engine
/// and gate that have seen some buckets. `DaemonSnapshot`'s memberwise
/// initializer is internal to Daemon, so the payload is encoded through a
/// mirror with the same coding keys, and checked to decode as the real type.
enum SnapshotSeeds {
    struct Mirror: Encodable {
        var savedNs: Int64
        var windows: [RollingWindow]
        var alerts: AlertEngine
        var gate: AlertGate
    }

    static let t0: Int64 = 1_700_000_040 * 1_000_000_000

    static func fedAggregator(buckets: Int) -> Aggregator {
        typealias B = PacketBuilder
        var aggregator = Aggregator(config: SnapshotInput.aggregationConfig)
        func add(_ packet: [UInt8], at t: Int64) {
            var r = PacketRecord()
            packet.withUnsafeBufferPointer { bytes in
                PacketDecoder(linkType: .rawIP).decode(bytes.span, wireLength: UInt32(packet.count), timestampNs: t, into: &r)
            }
            aggregator.add(r)
        }
        for b in 0..<buckets {
            let base = t0 + Int64(b) * 60_000_000_000
            for k in 0..<(b + 3) {
                add(B.ipv4TCP(source: 0xC633_6401, destination: 0xCB00_7100 + UInt32(k), sourcePort: 40000,
                              destinationPort: 23, flags: TCPFlag.syn), at: base + Int64(k) * 1_000_000)
            }
            add(B.ipv4UDP(source: 0xC633_6402, destination: 0xCB00_7101, sourcePort: 5353, destinationPort: 53,
                          payload: B.dnsQuery(name: "example.com", type: 255, ednsPayloadSize: 4096)), at: base + 2_000_000_000)
            add(B.ipv4TCP(source: 0x0A00_0001, destination: 0xCB00_7102, sourcePort: 80, destinationPort: 51000,
                          flags: TCPFlag.syn | TCPFlag.ack), at: base + 3_000_000_000)
            add(B.ipv6TCP(source: IPAddress("2001:db8::1")!, destination: IPAddress("2001:db8:ffff::2")!,
                          sourcePort: 1, destinationPort: 22, flags: TCPFlag.syn), at: base + 4_000_000_000)
            add([0x45, 0x00], at: base + 5_000_000_000)
        }
        aggregator.finish()
        return aggregator
    }

    static func payload(buckets: Int, alertBuckets: Int) -> [UInt8] {
        let aggregator = fedAggregator(buckets: buckets)
        var engine = AlertEngine()
        var gate = AlertGate()
        for b in 0..<alertBuckets {
            let ports = [PortObservation(ipProtocol: 17, port: 53, scanPackets: UInt64(100 + b * (b == alertBuckets - 1 ? 500 : 3)),
                                         sources: UInt64(10 + b), topSources: [(IPAddress("192.0.2.1")!, 40)]),
                         PortObservation(ipProtocol: 6, port: 23, scanPackets: 1000, sources: 300)]
            for alert in engine.observe(BucketObservation(startNs: t0 + Int64(b) * 60_000_000_000, bucketSeconds: 60, ports: ports)) {
                _ = gate.submit(alert)
            }
        }
        let mirror = Mirror(savedNs: t0 + Int64(buckets) * 60_000_000_000, windows: aggregator.windows, alerts: engine, gate: gate)
        let encoder = PropertyListEncoder()
        encoder.outputFormat = .binary
        guard let data = try? encoder.encode(mirror) else { fatalError("FuzzSeeds: snapshot payload does not encode") }
        let bytes = [UInt8](data)
        let store = SnapshotStore<DaemonSnapshot>(directory: "/nonexistent", name: "seed", payloadVersion: DaemonSnapshot.payloadVersion)
        guard case .restored = store.decode(SnapshotInput.frame(payload: bytes)) else {
            fatalError("FuzzSeeds: snapshot seed does not decode as DaemonSnapshot: \(store.decode(SnapshotInput.frame(payload: bytes)))")
        }
        return bytes
    }

    static func all() -> [Seed] {
        let small = payload(buckets: 2, alertBuckets: 0)
        let full = payload(buckets: 12, alertBuckets: 40)
        return [
            ("payload-2-buckets", SnapshotInput.encode(framed: true, small)),
            ("payload-12-buckets-alerts", SnapshotInput.encode(framed: true, full)),
            ("file-2-buckets", SnapshotInput.encode(framed: false, SnapshotInput.frame(payload: small))),
            ("file-wrong-version", SnapshotInput.encode(framed: false, SnapshotInput.frame(payload: small, payloadVersion: 2))),
            ("file-empty-payload", SnapshotInput.encode(framed: false, SnapshotInput.frame(payload: []))),
        ]
    }
}
