import Aggregation
import Decoding
import Feed
import Foundation
import GeoIP

/// Writes what this sensor saw in the documented export format
/// (docs/feeds.md, "sensor export"), so that another darknetd imports it
/// with `--feed FILE --feed-format sensor` and correlates two sensors of
/// ours the way the study correlated NICTER with NORSE. Bucket lines carry
/// the per-bucket totals, ports and source countries; source lines are the
/// scan episodes (one source's sweep of one port).
public enum SensorExport {
    public static func write(aggregator a: Aggregator, sensor: String, to path: String) throws {
        let writer = SensorExportWriter(sensor: sensor, bucketSeconds: a.buckets.lengthSeconds)
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw ExportError(description: "cannot create \(path)")
        }
        defer { try? handle.close() }
        var buffer = writer.headerLine() + "\n"
        func flushIfLarge() throws {
            if buffer.utf8.count >= 1 << 16 {
                try handle.write(contentsOf: Data(buffer.utf8))
                buffer.removeAll(keepingCapacity: true)
            }
        }
        for point in a.series {
            let ports = (point.topPorts + point.watchedPorts)
                .filter { $0.key.ipProtocol == IPProtocolNumber.tcp || $0.key.ipProtocol == IPProtocolNumber.udp }
                .map { SensorExportPort(ipProtocol: $0.key.ipProtocol, port: $0.key.port, packets: $0.packets, sources: $0.scanSources) }
            let countries = point.countries.map { SensorExportCountry(country: $0.code, packets: $0.packets) }
            buffer += writer.line(SensorExportBucket(startNs: point.startNs, packets: point.counters.total, ports: ports, countries: countries)) + "\n"
            try flushIfLarge()
        }
        var cache = a.countryCache
        for e in a.scans.report() {
            buffer += writer.line(SensorExportSource(timeNs: e.startNs, address: e.source, ipProtocol: e.ipProtocol, port: e.port,
                                                     packets: e.packets, country: cache.country(of: e.source))) + "\n"
            try flushIfLarge()
        }
        try handle.write(contentsOf: Data(buffer.utf8))
    }

    public struct ExportError: Error, CustomStringConvertible { public var description: String }
}
