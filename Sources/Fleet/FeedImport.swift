import Feed
import Interchange
import Foundation
import Logging
import PostgresNIO

/// What `importFeed` did with one file.
public struct FeedImportResult: Sendable {
    public var feed: String
    public var path: String
    /// The reader: a built-in format's name, or `mapping:NAME`.
    public var format: String
    /// The file as read (rows, rejected lines, time range, days, length and hash).
    public var summary: FeedFileSummary
    /// The import's `feed_imports.import_id`: the new one, or the earlier one when `alreadyImported`.
    public var importID: Int64
    /// The same bytes were imported into this feed before: nothing was written.
    public var alreadyImported: Bool
    /// Wall-clock time of the whole import (both readings and the writes).
    public var seconds: Double
}

extension BucketStore {
    /// The feed's id, registering the name on first use. Under the least-privilege
    /// setup (docs/fleet.md, feed import) the administrator registers it with its
    /// `db_role`, and this only reads it.
    public func feedID(_ name: String) async throws(FleetError) -> Int32 {
        try await mapped {
            if let id = try await lookUpFeed(name) { return id }
            do {
                try await connection.checkedQuery("INSERT INTO feeds (name) VALUES (\(name)) ON CONFLICT (name) DO NOTHING", logger: logger)
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42501" {
                throw FleetError.feedNotRegistered(feed: name, user: settings.user)
            }
            guard let id = try await lookUpFeed(name) else { throw FleetError.server(sqlState: "", message: "feed \(name) could not be registered") }
            return id
        }
    }

    func lookUpFeed(_ name: String) async throws -> Int32? {
        for try await row in try await connection.checkedQuery("SELECT feed_id FROM feeds WHERE name = \(name)", logger: logger) {
            return try row.decode(Int32.self)
        }
        return nil
    }

    /// Imports one feed file into feed `name`: `feed_imports` gets one row for
    /// the file, `feed_events` one per row the file yields (docs/fleet.md, "Feed import").
    ///
    /// The file is read twice. The first reading sums it up (length, FNV-1a
    /// hash, rows, rejected lines, days); if this feed already holds a file of
    /// that length and hash, nothing is written. Otherwise the partitions of
    /// each UTC day are made sure of (`fleet_ensure_partitions`, each in its
    /// own statement, so no other writer waits on this import), and one
    /// transaction inserts the `feed_imports` row (`ON CONFLICT DO NOTHING`: a
    /// concurrent import of the same file waits, then finds it there) and the
    /// rows of the second reading, `batchSize` per `INSERT … SELECT … FROM
    /// unnest(…)`. A file that changed between the readings is rolled back.
    public func importFeed(name: String, path: String, format: FeedImportFormat, defaultTimeNs: Int64,
                           batchSize: Int = 10_000) async throws(FleetError) -> FeedImportResult {
        let clock = ContinuousClock()
        let started = clock.now
        let first: FeedFileScanner
        let summary: FeedFileSummary
        do {
            first = try format.scanner(path: path, defaultTimeNs: defaultTimeNs, batchSize: batchSize)
            summary = try first.scanAll()
        } catch {
            throw .feedInput(error.description)
        }
        let label = first.label
        let feed = try await feedID(name)
        let bytes = Int64(clamping: summary.bytes)
        let hash = Int64(bitPattern: summary.hash)
        func result(_ importID: Int64, already: Bool) -> FeedImportResult {
            let elapsed = clock.now - started
            return FeedImportResult(feed: name, path: path, format: label, summary: summary, importID: importID, alreadyImported: already,
                                    seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        if let earlier = try await existingImport(feed: feed, bytes: bytes, hash: hash) { return result(earlier, already: true) }

        let logger = self.logger
        try await mapped {
            for day in summary.days.sorted() {
                let offset = Int32(clamping: day)
                try await connection.checkedQuery("SELECT fleet_ensure_partitions(date '1970-01-01' + \(offset)::integer)", logger: logger)
            }
        }
        let events = Int64(clamping: summary.records)
        let rejected = Int64(clamping: summary.rejectedLines)
        let firstUs = summary.firstTimeNs.map(Self.microseconds)
        let lastUs = summary.lastTimeNs.map(Self.microseconds)
        let fileName = path
        let inserted: Int64?
        do {
            inserted = try await connection.checkedTransaction(logger: logger) { connection -> Int64? in
                // Times travel as microseconds since the epoch; the SQL makes them timestamptz exactly.
                let query: PostgresQuery = """
                    INSERT INTO feed_imports (feed_id, file_bytes, file_hash, file_name, format, events, rejected_lines, first_event, last_event)
                    VALUES (\(feed), \(bytes), \(hash), \(fileName), \(label), \(events), \(rejected),
                        timestamptz 'epoch' + (\(firstUs)::bigint / 1000000) * interval '1 second' + (\(firstUs)::bigint % 1000000) * interval '1 microsecond',
                        timestamptz 'epoch' + (\(lastUs)::bigint / 1000000) * interval '1 second' + (\(lastUs)::bigint % 1000000) * interval '1 microsecond')
                    ON CONFLICT (feed_id, file_bytes, file_hash) DO NOTHING
                    RETURNING import_id
                    """
                var importID: Int64?
                for try await row in try await connection.checkedQuery(query, logger: logger) { importID = try row.decode(Int64.self) }
                guard let importID else { return nil }
                let second = try format.scanner(path: path, defaultTimeNs: defaultTimeNs, batchSize: batchSize)
                while let batch = try second.nextBatch() {
                    try await Self.insert(batch, feed: feed, importID: importID, connection: connection, logger: logger)
                }
                guard second.summary.bytes == summary.bytes, second.summary.hash == summary.hash,
                      second.summary.records == summary.records else {
                    throw FleetError.feedFileChanged(path: path)
                }
                return importID
            }
        } catch let error as FeedError {
            throw .feedInput(error.description)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42501" {
            throw .feedNotPermitted(feed: name, user: settings.user)
        } catch {
            throw FleetError.from(error, settings: settings)
        }
        if let inserted { return result(inserted, already: false) }
        // Another import of the same file committed between the check and the insert.
        guard let earlier = try await existingImport(feed: feed, bytes: bytes, hash: hash) else {
            throw .server(sqlState: "", message: "feed_imports refused the import of \(path) and holds no earlier one")
        }
        return result(earlier, already: true)
    }

    func existingImport(feed: Int32, bytes: Int64, hash: Int64) async throws(FleetError) -> Int64? {
        try await mapped {
            let rows = try await connection.checkedQuery("""
                SELECT import_id FROM feed_imports WHERE feed_id = \(feed) AND file_bytes = \(bytes) AND file_hash = \(hash)
                """, logger: logger)
            for try await row in rows { return try row.decode(Int64.self) }
            return nil
        }
    }

    /// Microseconds since the epoch, rounded down (the database keeps microseconds).
    static func microseconds(_ ns: Int64) -> Int64 {
        let remainder = ns % 1000
        return ns / 1000 - (remainder < 0 ? 1 : 0)
    }

    /// One batch of rows in one statement: every column bound as an array and
    /// unnested. NULLs travel as values no row can have (an empty text, -1, Int64.min).
    static func insert(_ rows: [FeedRecord], feed: Int32, importID: Int64, connection: PostgresConnection, logger: Logger) async throws {
        var lines: [Int64] = [], times: [Int64] = [], ends: [Int64] = [], sources: [String] = []
        var protocols: [Int16] = [], ports: [Int32] = [], countries: [String] = [], weights: [Double] = []
        for row in rows {
            lines.append(row.line)
            times.append(microseconds(row.timeNs))
            ends.append(row.endTimeNs.map(microseconds) ?? Int64.min)
            sources.append(row.source?.description ?? "")
            protocols.append(row.ipProtocol.map { Int16($0) } ?? -1)
            ports.append(row.port.map { Int32($0) } ?? -1)
            countries.append(row.country.isKnown ? row.country.description : "")
            weights.append(row.weight)
        }
        try await connection.checkedQuery("""
            INSERT INTO feed_events (feed_id, import_id, line, event_time, end_time, source, protocol, port, country, weight)
            SELECT \(feed), \(importID), t.line,
                timestamptz 'epoch' + (t.us / 1000000) * interval '1 second' + (t.us % 1000000) * interval '1 microsecond',
                CASE WHEN t.end_us = -9223372036854775808 THEN NULL
                     ELSE timestamptz 'epoch' + (t.end_us / 1000000) * interval '1 second' + (t.end_us % 1000000) * interval '1 microsecond' END,
                NULLIF(t.source, '')::inet, NULLIF(t.protocol, -1), NULLIF(t.port, -1), NULLIF(t.country, ''), t.weight
            FROM unnest(\(lines)::bigint[], \(times)::bigint[], \(ends)::bigint[], \(sources)::text[], \(protocols)::smallint[],
                \(ports)::integer[], \(countries)::text[], \(weights)::float8[])
                AS t(line, us, end_us, source, protocol, port, country, weight)
            """, logger: logger)
    }
}

extension FeedImportResult {
    /// The one line `darknetd feed import` prints for the file:
    ///
    ///     feed import: hk.tsv -> feed hk-domainA (mapping:hk-domainA.yaml): 29 events (weight 96873), 0 rejected lines, 2014-10-07T00:00:00Z .. 2014-11-04T00:00:00Z, 41 ms
    ///     feed import: hk.tsv -> feed hk-domainA: already imported (import 1); nothing written, 3 ms
    public var summaryLine: String {
        let ms = Int((seconds * 1000).rounded())
        if alreadyImported {
            return "feed import: \(path) -> feed \(feed): already imported (import \(importID)); nothing written, \(ms) ms"
        }
        var line = "feed import: \(path) -> feed \(feed) (\(format)): \(summary.records) events (weight \(Self.number(summary.weight))), "
        line += "\(summary.rejectedLines) rejected line\(summary.rejectedLines == 1 ? "" : "s")"
        if !summary.firstRejections.isEmpty {
            let named = summary.firstRejections.map { "line \($0.line) \($0.reason): \($0.message)" }
            let more = summary.rejectedLines > UInt64(named.count) ? "; …" : ""
            line += " (\(named.joined(separator: "; "))\(more))"
        }
        if let first = summary.firstTimeNs, let last = summary.lastTimeNs {
            line += ", \(RFC3339.format(first)) .. \(RFC3339.format(last))"
        }
        return line + ", \(ms) ms"
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
