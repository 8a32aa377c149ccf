import Foundation
import Logging
import NIOCore
import PostgresNIO
import Sketches

/// What `darknetd fleet report` asks of the database: a half-open range
/// [from, to) of whole report buckets (UTC, `bucketSeconds` long, counted
/// from the epoch), and the networks to read (empty lists: every sensor and
/// feed with data in the range).
public struct FleetQuery: Sendable, Equatable {
    public var fromSeconds: Int64
    public var toSeconds: Int64
    public var bucketSeconds: Int64
    public var sensors: [String]
    public var feeds: [String]
    /// At most this many alerts are read (the count of all of them is read too).
    public var alertLimit = 5_000

    public init(fromSeconds: Int64, toSeconds: Int64, bucketSeconds: Int64, sensors: [String] = [], feeds: [String] = []) {
        self.fromSeconds = fromSeconds
        self.toSeconds = toSeconds
        self.bucketSeconds = bucketSeconds
        self.sensors = sensors
        self.feeds = feeds
    }

    /// The report bucket index of an epoch second (floor division).
    public func bucket(ofSecond s: Int64) -> Int64 {
        s >= 0 ? s / bucketSeconds : -((-s + bucketSeconds - 1) / bucketSeconds)
    }

    public var firstBucket: Int64 { bucket(ofSecond: fromSeconds) }
    /// One past the last bucket.
    public var endBucket: Int64 { bucket(ofSecond: toSeconds) }

    var from: Date { Date(timeIntervalSince1970: Double(fromSeconds)) }
    var to: Date { Date(timeIntervalSince1970: Double(toSeconds)) }
}

/// One network (a sensor or a feed) as stored in the range: its per-bucket
/// counts and what it covered, its per-port and per-country totals, and its
/// sources (as far as the database keeps them). Bucket keys are report bucket
/// indices (`FleetQuery.bucket(ofSecond:)`).
public struct FleetNetworkData: Sendable {
    public enum Kind: String, Sendable, Codable { case sensor, feed }

    public var name: String
    public var kind: Kind
    /// Report bucket → packets (sensor: the sum of its stored buckets' `packets`)
    /// or events (feed: the sum of `weight`). Buckets without rows are absent.
    public var series: [Int64: Double] = [:]
    /// Report bucket → the sensor's stored buckets in it (feeds: events).
    public var rows: [Int64: Int] = [:]
    /// Report buckets the network covered, as inclusive intervals, sorted and
    /// disjoint: a bucket inside one with no rows is a zero, outside all of them
    /// it is missing. Sensor: its first to its last stored bucket in the range
    /// (a bucket with no packets is never written, so a gap inside is silence).
    /// Feed: each import's first to last event, clipped to the range, and every
    /// bucket with an event.
    public var covered: [ClosedRange<Int64>] = []
    /// TCP and UDP destination ports (sensor: its stored per-bucket ports, the
    /// busiest of each bucket and its watched ports; feed: events with a port
    /// whose protocol is TCP, UDP or not given).
    public var ports: [UInt16: Double] = [:]
    /// Source countries (ISO 3166 alpha-2, `??` unknown).
    public var countries: [String: Double] = [:]
    /// Sensor: the union of its buckets' HyperLogLog registers; nil for a feed,
    /// or when the registers do not merge (different precisions).
    public var sourceSketch: HyperLogLog?
    /// Sensor: the stored buckets' lengths in seconds.
    public var storedBucketSeconds: Set<Int> = []
    /// Feed: every distinct source (exact). Sensor: the sources its rows name
    /// (`bucket_top_sources`, `bucket_watched_sources`, `scans`): a subset of the sources it saw.
    public var namedSources: Set<String> = []

    public init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }

    public var total: Double { series.values.reduce(0, +) }

    public func isCovered(_ bucket: Int64) -> Bool { covered.contains { $0.contains(bucket) } }

    /// Merges overlapping or adjacent intervals.
    static func normalized(_ ranges: [ClosedRange<Int64>]) -> [ClosedRange<Int64>] {
        var out: [ClosedRange<Int64>] = []
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = out.last, r.lowerBound <= last.upperBound &+ 1 {
                out[out.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        return out
    }
}

/// A sensor's alert as stored in `alerts`.
public struct FleetAlert: Sendable, Equatable {
    public var sensor: String
    /// Microseconds since the epoch (PostgreSQL's resolution).
    public var timeMicroseconds: Int64
    public var rule: String
    public var severity: String
    public var key: String
    public var port: Int?
    public var address: String?
    public var message: String
}

/// Everything the fleet report reads, in the order the networks were asked
/// for (or sensors then feeds by name).
public struct FleetData: Sendable {
    public var query: FleetQuery
    public var networks: [FleetNetworkData]
    /// Oldest first, at most `query.alertLimit`.
    public var alerts: [FleetAlert]
    /// All alerts of the sensors in the range (may exceed `alerts.count`).
    public var alertCount: Int
}

extension BucketStore {
    /// Reads what the fleet report shows, through parameterized statements only.
    /// Throws `.unknownNetwork` for a name not in `sensors`/`feeds`, and
    /// `.bucketsStraddle` when a sensor's stored buckets do not nest in the
    /// report's buckets.
    public func readFleet(_ query: FleetQuery) async throws(FleetError) -> FleetData {
        try await checkSchema()
        return try await mapped {
            let sensors = try await resolve(kind: .sensor, names: query.sensors, listedAny: !query.sensors.isEmpty || !query.feeds.isEmpty, query: query)
            let feeds = try await resolve(kind: .feed, names: query.feeds, listedAny: !query.sensors.isEmpty || !query.feeds.isEmpty, query: query)
            var networks: [FleetNetworkData] = []
            for (id, name) in sensors { networks.append(try await readSensor(id: id, name: name, query)) }
            for (id, name) in feeds { networks.append(try await readFeed(id: id, name: name, query)) }
            let (alerts, count) = try await readAlerts(sensorIDs: sensors.map(\.0), query)
            return FleetData(query: query, networks: networks, alerts: alerts, alertCount: count)
        }
    }

    /// The (id, name) of each network asked for, in that order, or of every
    /// network with data in the range (by name) when none was asked for.
    func resolve(kind: FleetNetworkData.Kind, names: [String], listedAny: Bool, query: FleetQuery) async throws -> [(Int32, String)] {
        let from = query.from, to = query.to
        var found: [(Int32, String)] = []
        if !names.isEmpty {
            var known: [String: Int32] = [:]
            let rows = kind == .sensor
                ? try await connection.checkedQuery("SELECT sensor_id, name FROM sensors WHERE name = ANY(\(names)::text[])", logger: logger)
                : try await connection.checkedQuery("SELECT feed_id, name FROM feeds WHERE name = ANY(\(names)::text[])", logger: logger)
            for try await (id, name) in rows.decode((Int32, String).self) { known[name] = id }
            for name in names {
                guard let id = known[name] else {
                    var all: [String] = []
                    let everyone = kind == .sensor
                        ? try await connection.checkedQuery("SELECT name FROM sensors ORDER BY name", logger: logger)
                        : try await connection.checkedQuery("SELECT name FROM feeds ORDER BY name", logger: logger)
                    for try await n in everyone.decode(String.self) { all.append(n) }
                    throw FleetError.unknownNetwork(kind: kind.rawValue, name: name, known: all)
                }
                if !found.contains(where: { $0.0 == id }) { found.append((id, name)) }
            }
            return found
        }
        guard !listedAny else { return [] }
        let rows = kind == .sensor
            ? try await connection.checkedQuery("""
                SELECT s.sensor_id, s.name FROM sensors s
                WHERE EXISTS (SELECT 1 FROM buckets b WHERE b.sensor_id = s.sensor_id AND b.bucket_start >= \(from) AND b.bucket_start < \(to))
                ORDER BY s.name
                """, logger: logger)
            : try await connection.checkedQuery("""
                SELECT f.feed_id, f.name FROM feeds f
                WHERE EXISTS (SELECT 1 FROM feed_events e WHERE e.feed_id = f.feed_id AND e.event_time >= \(from) AND e.event_time < \(to))
                ORDER BY f.name
                """, logger: logger)
        for try await (id, name) in rows.decode((Int32, String).self) { found.append((id, name)) }
        return found
    }

    func readSensor(id: Int32, name: String, _ q: FleetQuery) async throws -> FleetNetworkData {
        let from = q.from, to = q.to, width = q.bucketSeconds
        var network = FleetNetworkData(name: name, kind: .sensor)
        // A stored bucket must lie within one report bucket.
        let straddling = try await connection.checkedQuery("""
            SELECT count(*)::bigint, min(bucket_start), min(length_s) FROM buckets
            WHERE sensor_id = \(id) AND bucket_start >= \(from) AND bucket_start < \(to)
                AND floor(extract(epoch FROM bucket_start) / \(width)) <> floor((extract(epoch FROM bucket_start) + length_s - 1) / \(width))
            """, logger: logger)
        for try await (count, first, length) in straddling.decode((Int64, Date?, Int32?).self) where count > 0 {
            throw FleetError.bucketsStraddle(sensor: name, storedSeconds: Int(length ?? 0), firstStart: first.map { Int64($0.timeIntervalSince1970.rounded(.down)) } ?? 0,
                                             reportSeconds: width, count: Int(count))
        }
        let series = try await connection.checkedQuery("""
            SELECT floor(extract(epoch FROM bucket_start) / \(width))::bigint AS b, sum(packets)::bigint, count(*)::bigint
            FROM buckets WHERE sensor_id = \(id) AND bucket_start >= \(from) AND bucket_start < \(to)
            GROUP BY b ORDER BY b
            """, logger: logger)
        for try await (bucket, packets, rows) in series.decode((Int64, Int64, Int64).self) {
            network.series[bucket] = Double(packets)
            network.rows[bucket] = Int(rows)
        }
        if let first = network.series.keys.min(), let last = network.series.keys.max() { network.covered = [first...last] }
        for try await length in try await connection.checkedQuery("""
            SELECT DISTINCT length_s FROM buckets WHERE sensor_id = \(id) AND bucket_start >= \(from) AND bucket_start < \(to)
            """, logger: logger).decode(Int32.self) {
            network.storedBucketSeconds.insert(Int(length))
        }
        for try await (port, packets) in try await connection.checkedQuery("""
            SELECT port, sum(packets)::bigint FROM bucket_ports
            WHERE sensor_id = \(id) AND bucket_start >= \(from) AND bucket_start < \(to) AND protocol IN (6, 17)
            GROUP BY port
            """, logger: logger).decode((Int32, Int64).self) {
            if let p = UInt16(exactly: port) { network.ports[p, default: 0] += Double(packets) }
        }
        for try await (country, packets) in try await connection.checkedQuery("""
            SELECT country, sum(packets)::bigint FROM bucket_countries
            WHERE sensor_id = \(id) AND bucket_start >= \(from) AND bucket_start < \(to)
            GROUP BY country
            """, logger: logger).decode((String, Int64).self) {
            network.countries[country] = Double(packets)
        }
        // The registers, merged here (register-wise maximum) as they arrive.
        var sketch: HyperLogLog?
        var mergeable = true
        for try await registers in try await connection.checkedQuery("""
            SELECT sources_hll FROM buckets WHERE sensor_id = \(id) AND bucket_start >= \(from) AND bucket_start < \(to)
            """, logger: logger).decode(ByteBuffer.self) {
            guard mergeable, let bucket = HLLFormat.decode(registers) else { mergeable = false; continue }
            if sketch == nil {
                sketch = bucket
            } else if sketch!.precision == bucket.precision {
                sketch!.merge(bucket)
            } else {
                mergeable = false
            }
        }
        network.sourceSketch = mergeable ? sketch : nil
        for try await source in try await connection.checkedQuery("""
            SELECT host(source) FROM bucket_watched_sources WHERE sensor_id = \(id) AND bucket_start >= \(from) AND bucket_start < \(to)
            UNION
            SELECT host(source) FROM bucket_top_sources WHERE sensor_id = \(id) AND bucket_start >= \(from) AND bucket_start < \(to)
            UNION
            SELECT host(source) FROM scans WHERE sensor_id = \(id) AND bucket_start >= \(from) AND bucket_start < \(to)
            """, logger: logger).decode(String.self) {
            network.namedSources.insert(source)
        }
        return network
    }

    func readFeed(id: Int32, name: String, _ q: FleetQuery) async throws -> FleetNetworkData {
        let from = q.from, to = q.to, width = q.bucketSeconds
        var network = FleetNetworkData(name: name, kind: .feed)
        for try await (bucket, weight, events) in try await connection.checkedQuery("""
            SELECT floor(extract(epoch FROM event_time) / \(width))::bigint AS b, sum(weight)::float8, count(*)::bigint
            FROM feed_events WHERE feed_id = \(id) AND event_time >= \(from) AND event_time < \(to)
            GROUP BY b ORDER BY b
            """, logger: logger).decode((Int64, Double, Int64).self) {
            network.series[bucket] = weight
            network.rows[bucket] = Int(events)
        }
        var covered = network.series.keys.map { $0...$0 }
        let lastBucket = q.endBucket - 1
        for try await (first, last) in try await connection.checkedQuery("""
            SELECT floor(extract(epoch FROM greatest(first_event, \(from))) / \(width))::bigint,
                   floor(extract(epoch FROM least(last_event, \(to))) / \(width))::bigint
            FROM feed_imports WHERE feed_id = \(id) AND first_event IS NOT NULL AND last_event IS NOT NULL
                AND first_event < \(to) AND last_event >= \(from)
            """, logger: logger).decode((Int64, Int64).self) {
            let low = max(first, q.firstBucket), high = min(last, lastBucket)
            if low <= high { covered.append(low...high) }
        }
        network.covered = FleetNetworkData.normalized(covered)
        for try await (port, weight) in try await connection.checkedQuery("""
            SELECT port, sum(weight)::float8 FROM feed_events
            WHERE feed_id = \(id) AND event_time >= \(from) AND event_time < \(to) AND port IS NOT NULL
                AND (protocol IS NULL OR protocol IN (6, 17))
            GROUP BY port
            """, logger: logger).decode((Int32, Double).self) {
            if let p = UInt16(exactly: port) { network.ports[p, default: 0] += weight }
        }
        for try await (country, weight) in try await connection.checkedQuery("""
            SELECT coalesce(country, '??'), sum(weight)::float8 FROM feed_events
            WHERE feed_id = \(id) AND event_time >= \(from) AND event_time < \(to)
            GROUP BY 1
            """, logger: logger).decode((String, Double).self) {
            network.countries[country, default: 0] += weight
        }
        for try await source in try await connection.checkedQuery("""
            SELECT DISTINCT host(source) FROM feed_events
            WHERE feed_id = \(id) AND event_time >= \(from) AND event_time < \(to) AND source IS NOT NULL
            """, logger: logger).decode(String.self) {
            network.namedSources.insert(source)
        }
        return network
    }

    func readAlerts(sensorIDs: [Int32], _ q: FleetQuery) async throws -> ([FleetAlert], Int) {
        guard !sensorIDs.isEmpty else { return ([], 0) }
        let from = q.from, to = q.to, limit = Int64(q.alertLimit)
        var count = 0
        for try await n in try await connection.checkedQuery("""
            SELECT count(*)::bigint FROM alerts WHERE sensor_id = ANY(\(sensorIDs)::integer[]) AND alert_time >= \(from) AND alert_time < \(to)
            """, logger: logger).decode(Int64.self) {
            count = Int(n)
        }
        var alerts: [FleetAlert] = []
        for try await (sensor, micros, rule, severity, key, port, address, message) in try await connection.checkedQuery("""
            SELECT s.name, (extract(epoch FROM a.alert_time) * 1000000)::bigint, a.rule, a.severity, a.alert_key, a.port, host(a.address), a.message
            FROM alerts a JOIN sensors s USING (sensor_id)
            WHERE a.sensor_id = ANY(\(sensorIDs)::integer[]) AND a.alert_time >= \(from) AND a.alert_time < \(to)
            ORDER BY a.alert_time, s.name, a.rule, a.alert_key
            LIMIT \(limit)
            """, logger: logger).decode((String, Int64, String, String, String, Int32?, String?, String).self) {
            alerts.append(FleetAlert(sensor: sensor, timeMicroseconds: micros, rule: rule, severity: severity, key: key,
                                     port: port.map(Int.init), address: address, message: message))
        }
        return (alerts, count)
    }

    /// Per report bucket, the count of each of `ports` (TCP and UDP) for each
    /// network of `data`, in the order of `data.networks`: the port × time heat map.
    public func readPortSeries(_ data: FleetData, ports: [UInt16]) async throws(FleetError) -> [[UInt16: [Int64: Double]]] {
        guard !ports.isEmpty else { return data.networks.map { _ in [:] } }
        let q = data.query, from = q.from, to = q.to, width = q.bucketSeconds
        let portList = ports.map { Int32($0) }
        return try await mapped {
            var out: [[UInt16: [Int64: Double]]] = []
            for network in data.networks {
                var series: [UInt16: [Int64: Double]] = [:]
                let rows: PostgresRowSequence
                switch network.kind {
                case .sensor:
                    rows = try await connection.checkedQuery("""
                        SELECT floor(extract(epoch FROM b.bucket_start) / \(width))::bigint AS t, b.port, sum(b.packets)::float8
                        FROM bucket_ports b JOIN sensors s USING (sensor_id)
                        WHERE s.name = \(network.name) AND b.bucket_start >= \(from) AND b.bucket_start < \(to)
                            AND b.protocol IN (6, 17) AND b.port = ANY(\(portList)::integer[])
                        GROUP BY t, b.port
                        """, logger: logger)
                case .feed:
                    rows = try await connection.checkedQuery("""
                        SELECT floor(extract(epoch FROM e.event_time) / \(width))::bigint AS t, e.port, sum(e.weight)::float8
                        FROM feed_events e JOIN feeds f USING (feed_id)
                        WHERE f.name = \(network.name) AND e.event_time >= \(from) AND e.event_time < \(to)
                            AND (e.protocol IS NULL OR e.protocol IN (6, 17)) AND e.port = ANY(\(portList)::integer[])
                        GROUP BY t, e.port
                        """, logger: logger)
                }
                for try await (bucket, port, count) in rows.decode((Int64, Int32, Double).self) {
                    if let p = UInt16(exactly: port) { series[p, default: [:]][bucket, default: 0] += count }
                }
                out.append(series)
            }
            return out
        }
    }
}
