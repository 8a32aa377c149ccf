import Glibc
import Decoding
import Synth
@testable import Alerts

/// Seeded streams come from Synth's SplitMix64, so a failure reproduces.
extension SplitMix64 {
    /// Knuth's Poisson sampler (fine for the small means used here).
    mutating func poisson(_ mean: Double) -> UInt64 {
        let limit = Glibc.exp(-mean)
        var product = 1.0
        var k: UInt64 = 0
        repeat {
            k += 1
            product *= Double.random(in: 0..<1, using: &self)
        } while product > limit
        return k - 1
    }
}

/// 2013-03-18T00:00:00Z, the week the Spamhaus DDoS began.
let spamhausWeekNs: Int64 = 1_363_564_800 * 1_000_000_000
let bucketSeconds: Int64 = 300

func bucketStart(_ i: Int) -> Int64 { spamhausWeekNs + Int64(i) * bucketSeconds * 1_000_000_000 }

func address(_ n: UInt32) -> IPAddress { IPAddress(ipv4: 0xC633_6400 &+ n) }  // 198.51.100.0 + n

/// `count` distinct sources sharing `packets` (the first heaviest).
func topSources(_ count: Int, packets: UInt64) -> [(IPAddress, UInt64)] {
    guard count > 0 else { return [] }
    return (0..<count).map { i in
        (address(UInt32(i)), max(1, packets / UInt64(count)) + (i == 0 ? packets % UInt64(count) : 0))
    }
}

func udp(_ port: UInt16, _ packets: UInt64, _ sources: UInt64, top: Int = 0) -> PortObservation {
    PortObservation(ipProtocol: IPProtocolNumber.udp, port: port, scanPackets: packets, sources: sources,
                    topSources: topSources(top, packets: packets))
}

func tcp(_ port: UInt16, _ packets: UInt64, _ sources: UInt64) -> PortObservation {
    PortObservation(ipProtocol: IPProtocolNumber.tcp, port: port, scanPackets: packets, sources: sources)
}

func bucket(_ i: Int, _ ports: [PortObservation]) -> BucketObservation {
    BucketObservation(startNs: bucketStart(i), bucketSeconds: bucketSeconds, ports: ports)
}

func feedBucket(_ i: Int, _ ports: [FeedPortObservation]) -> FeedBucketObservation {
    FeedBucketObservation(startNs: bucketStart(i), bucketSeconds: bucketSeconds, ports: ports)
}

/// An engine without correlation (no feed).
func sensorOnlyEngine(_ surges: SurgeRulesConfig = SurgeRulesConfig()) -> AlertEngine {
    AlertEngine(config: AlertEngineConfig(surges: surges, correlation: CorrelationConfig(enabled: false)))
}

func sampleAlert() -> Alert {
    Alert(rule: .dnsOpenResolverSurge, severity: .warning, timeNs: spamhausWeekNs, key: "udp/53",
          ipProtocol: IPProtocolNumber.udp, port: 53, metric: "scan_packets", observed: 600, baseline: 20.5,
          deviation: 3.25, observedSources: 150, baselineSources: 5,
          topSources: [SourceContribution(address: IPAddress("198.51.100.7")!, packets: 120),
                       SourceContribution(address: IPAddress("203.0.113.9")!, packets: 80)],
          message: "UDP/53 (DNS) open-resolver scan surge: 600 packets from 150 sources (baseline 20.5 packets from 5 sources)")
}
