import Decoding

// Neutral inputs of the alert rules. This module does not import Aggregation: the integrator
// adapts the aggregator's closed-bucket summaries and detector reports to these values, so
// the rules can be tested (and replayed) on their own.

/// Names of IP protocols in alerts, syslog and JSON (`proto`). The numbers are Decoding's
/// `IPProtocolNumber`.
public enum ProtocolName {
    /// "udp", "tcp", "icmp", "icmpv6", or the decimal number for anything else.
    public static func name(_ number: UInt8) -> String {
        switch number {
        case IPProtocolNumber.icmp: "icmp"
        case IPProtocolNumber.tcp: "tcp"
        case IPProtocolNumber.udp: "udp"
        case IPProtocolNumber.icmpv6: "icmpv6"
        default: String(number)
        }
    }

    /// Inverse of `name(_:)`.
    public static func number(_ name: String) -> UInt8? {
        switch name {
        case "icmp": IPProtocolNumber.icmp
        case "tcp": IPProtocolNumber.tcp
        case "udp": IPProtocolNumber.udp
        case "icmpv6": IPProtocolNumber.icmpv6
        default: UInt8(name)
        }
    }
}

/// Scan traffic to one (protocol, port) during one closed bucket.
public struct PortObservation: Sendable {
    public var ipProtocol: UInt8
    public var port: UInt16
    /// Packets of the scan and reflection-recon classes to this port.
    public var scanPackets: UInt64
    /// Distinct sources of those packets (an estimate is fine: a sketch count).
    public var sources: UInt64
    /// Heaviest sources of those packets, any order; alerts keep the top 5.
    public var topSources: [(IPAddress, UInt64)]

    public init(ipProtocol: UInt8, port: UInt16, scanPackets: UInt64, sources: UInt64,
                topSources: [(IPAddress, UInt64)] = []) {
        self.ipProtocol = ipProtocol
        self.port = port
        self.scanPackets = scanPackets
        self.sources = sources
        self.topSources = topSources
    }
}

/// One closed sensor bucket. Ports absent from `ports` had no scan traffic in the bucket.
/// Deliver empty buckets too: a bucket that is never delivered does not update any baseline.
public struct BucketObservation: Sendable {
    /// Bucket start, nanoseconds since the Unix epoch (UTC).
    public var startNs: Int64
    public var bucketSeconds: Int64
    public var ports: [PortObservation]

    public init(startNs: Int64, bucketSeconds: Int64, ports: [PortObservation]) {
        self.startNs = startNs
        self.bucketSeconds = bucketSeconds
        self.ports = ports
    }
}

/// A scan episode reported by the scan detector (one source sweeping one port).
public struct ScanEpisodeEvent: Sendable, Equatable {
    public var source: IPAddress
    public var ipProtocol: UInt8
    public var port: UInt16
    /// First packet of the episode, nanoseconds since the Unix epoch.
    public var startNs: Int64
    public var packets: UInt64
    /// Distinct darknet destinations hit.
    public var destinations: UInt64
    /// Estimated Internet-wide probing rate (packets/s), extrapolated from the darknet size.
    public var internetRate: Double
    /// Tool fingerprint ("zmap", "masscan", ...) when recognised.
    public var fingerprint: String?

    public init(source: IPAddress, ipProtocol: UInt8, port: UInt16, startNs: Int64, packets: UInt64,
                destinations: UInt64, internetRate: Double, fingerprint: String? = nil) {
        self.source = source
        self.ipProtocol = ipProtocol
        self.port = port
        self.startNs = startNs
        self.packets = packets
        self.destinations = destinations
        self.internetRate = internetRate
        self.fingerprint = fingerprint
    }
}

/// A denial-of-service victim inferred from backscatter.
public struct BackscatterVictimEvent: Sendable, Equatable {
    public var victim: IPAddress
    public var ipProtocol: UInt8
    public var startNs: Int64
    public var packets: UInt64
    /// Highest backscatter rate seen at the darknet (packets/s).
    public var peakRate: Double
    /// Attack rate extrapolated to the whole address space (packets/s).
    public var estimatedAttackRate: Double

    public init(victim: IPAddress, ipProtocol: UInt8, startNs: Int64, packets: UInt64,
                peakRate: Double, estimatedAttackRate: Double) {
        self.victim = victim
        self.ipProtocol = ipProtocol
        self.startNs = startNs
        self.packets = packets
        self.peakRate = peakRate
        self.estimatedAttackRate = estimatedAttackRate
    }
}

/// Events an external feed (another telescope, a honeypot network, a threat-intel feed)
/// counted for one port during one bucket. Protocol-agnostic: feeds rarely say.
public struct FeedPortObservation: Sendable, Equatable {
    public var port: UInt16
    public var events: UInt64

    public init(port: UInt16, events: UInt64) {
        self.port = port
        self.events = events
    }
}

/// One feed bucket, on the same bucket grid as the sensor (same `bucketSeconds`, same
/// epoch alignment); the integrator re-buckets the feed if needed.
public struct FeedBucketObservation: Sendable, Equatable {
    public var startNs: Int64
    public var bucketSeconds: Int64
    public var ports: [FeedPortObservation]

    public init(startNs: Int64, bucketSeconds: Int64, ports: [FeedPortObservation]) {
        self.startNs = startNs
        self.bucketSeconds = bucketSeconds
        self.ports = ports
    }
}
