import Aggregation
import Decoding
import Foundation
import GeoIP
import NIOCore
import Sketches

/// A `BucketSummary` as the rows and columns the fleet tables store.
/// Counts are `bigint`: a count past `Int64.max` is stored as `Int64.max`.
struct BucketRows: Sendable {
    var start: Date
    var day: Int64
    var lengthSeconds: Int32
    var counts: [Int64]
    var portsWithPackets: Int32
    var distinctSources: Double
    var sourcesHLL: ByteBuffer

    var portProtocols: [Int16] = []
    var portNumbers: [Int32] = []
    var portPackets: [Int64] = []
    var portScanPackets: [Int64] = []
    var portScanSources: [Int64] = []

    var countryCodes: [String] = []
    var countryPackets: [Int64] = []

    var watchedPorts: [Int32] = []
    var watchedSources: [String] = []
    var watchedRanks: [Int16] = []
    var watchedPackets: [Int64] = []

    var topSources: [String] = []
    var topRanks: [Int16] = []
    var topPackets: [Int64] = []

    var scanSources: [String] = []
    var scanProtocols: [Int16] = []
    var scanPorts: [Int32] = []
    var scanStarts: [Date] = []
    var scanEnds: [Date] = []
    var scanPackets: [Int64] = []
    var scanDestinations: [Int64] = []
    var scanObservedRates: [Double] = []
    var scanInternetRates: [Double] = []
    var scanFingerprints: [String] = []

    var attackVictims: [String] = []
    var attackProtocols: [Int16] = []
    var attackStarts: [Date] = []
    var attackEnds: [Date] = []
    var attackPackets: [Int64] = []
    var attackPeakRates: [Double] = []
    var attackObservedRates: [Double] = []
    var attackEstimatedRates: [Double] = []

    static func count(_ value: UInt64) -> Int64 { Int64(clamping: value) }
    static func time(_ ns: Int64) -> Date { Date(timeIntervalSince1970: Double(ns / 1000) / 1_000_000) }

    init(_ s: BucketSummary) {
        start = Self.time(s.startNs)
        day = Int64((Double(s.startNs) / 1e9 / 86_400).rounded(.down))
        lengthSeconds = Int32(clamping: s.lengthNs / 1_000_000_000)
        let c = s.counters
        counts = [c.total, c.bytes, c.decoded, c.totalErrors, c.ipv4, c.ipv6, c.tcp, c.udp, c.icmp, c.icmpv6, c.otherIP, c.fragments,
                  s.classes.scan, s.classes.backscatter, s.classes.reflectionRecon, s.classes.misconfiguration, s.classes.other]
            .map(Self.count)
        portsWithPackets = Int32(clamping: s.portCount)
        distinctSources = s.sources.estimate
        sourcesHLL = HLLFormat.encode(s.sources)
        for p in s.ports {
            portProtocols.append(Int16(p.key.ipProtocol))
            portNumbers.append(Int32(p.key.port))
            portPackets.append(Self.count(p.packets))
            portScanPackets.append(Self.count(p.scanPackets))
            portScanSources.append(Self.count(p.scanSources))
        }
        for (code, packets) in s.countries {
            countryCodes.append(code.description)
            countryPackets.append(Self.count(packets))
        }
        for (rank, entry) in s.topSources.enumerated() {
            topSources.append(entry.address.description)
            topRanks.append(Int16(clamping: rank + 1))
            topPackets.append(Self.count(entry.packets))
        }
        for port in s.watchedTopSources.keys.sorted() {
            for (rank, entry) in s.watchedTopSources[port]!.enumerated() {
                watchedPorts.append(Int32(port))
                watchedSources.append(entry.address.description)
                watchedRanks.append(Int16(rank + 1))
                watchedPackets.append(Self.count(entry.packets))
            }
        }
        for e in s.newScans {
            scanSources.append(e.source.description)
            scanProtocols.append(Int16(e.ipProtocol))
            scanPorts.append(Int32(e.port))
            scanStarts.append(Self.time(e.startNs))
            scanEnds.append(Self.time(e.endNs))
            scanPackets.append(Self.count(e.packets))
            scanDestinations.append(Int64(e.destinations))
            scanObservedRates.append(e.observedRate)
            scanInternetRates.append(e.internetRate)
            scanFingerprints.append(Self.fingerprintName(e.fingerprint))
        }
        for a in s.newAttacks {
            attackVictims.append(a.victim.description)
            attackProtocols.append(Int16(a.ipProtocol))
            attackStarts.append(Self.time(a.startNs))
            attackEnds.append(Self.time(a.endNs))
            attackPackets.append(Self.count(a.packets))
            attackPeakRates.append(a.peakRate)
            attackObservedRates.append(a.observedRate)
            attackEstimatedRates.append(a.estimatedAttackRate)
        }
    }

    static func fingerprintName(_ f: ScannerFingerprint) -> String {
        switch f {
        case .none: "none"
        case .zmap: "zmap"
        case .masscan: "masscan"
        case .mirai: "mirai"
        }
    }
}

/// The bytes of `buckets.sources_hll`, format 1: byte 0 is the format (1),
/// byte 1 the precision p, then the 2^p registers of the bucket's
/// distinct-source HyperLogLog, one byte each (value = 1 + leading zeros of
/// the hash bits after the index, 0 = empty). The hash is the sensor's keyed
/// `SeededHash` of the source address, so registers of two sensors merge
/// (register-wise maximum) only when both run with the same hash key.
public enum HLLFormat {
    public static let version: UInt8 = 1

    public static func encode(_ sketch: HyperLogLog) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(2 + sketch.registerCount)
        buffer.writeInteger(version)
        buffer.writeInteger(UInt8(sketch.precision))
        buffer.writeBytes(sketch.registers)
        return buffer
    }

    /// The sketch back from its bytes; nil if they are not format 1 or do not fit.
    public static func decode(_ buffer: ByteBuffer) -> HyperLogLog? {
        var buffer = buffer
        guard let format = buffer.readInteger(as: UInt8.self), format == version,
              let precisionByte = buffer.readInteger(as: UInt8.self) else { return nil }
        let precision = Int(precisionByte)
        guard HyperLogLog.precisionRange.contains(precision), buffer.readableBytes == 1 << precision,
              let registers = buffer.readBytes(length: buffer.readableBytes),
              registers.allSatisfy({ Int($0) <= 65 - precision }) else { return nil }
        return HyperLogLog(precision: precision, registers: registers)
    }
}
