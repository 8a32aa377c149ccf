import Decoding
import Feed
import Foundation
import GeoIP
import TestSupport
import Testing
@testable import Fleet

/// `darknetd feed import` against a real PostgreSQL (`PostgresServer`): every
/// built-in format stores what the Feed module's parser reads, the study's
/// Hong Kong table through its YAML mappings, a file imported once however
/// often it is given, broken lines counted, and the least-privilege grants.
@Suite(.enabled(if: PostgresServer.unavailableReason == nil, Comment(rawValue: PostgresServer.unavailableReason ?? "")))
struct FeedImportTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let hongKongTable = repositoryRoot.appendingPathComponent("../shared/study/table8_hk_daily_counts.tsv").standardized.path
    static let corpusFeeds = repositoryRoot.appendingPathComponent("../shared/corpus/feeds").standardized

    static func corpus(_ name: String) -> String? {
        let path = corpusFeeds.appendingPathComponent(name).path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// 2014-10-07T00:00:00Z: the time of lines without one.
    static let defaultTimeNs: Int64 = 1_412_640_000_000_000_000

    /// A migrated database and the administrator's settings.
    static func migratedServer() async throws -> (PostgresServer, ConnectionSettings) {
        let server = try PostgresServer.start()
        do {
            try server.createDatabase("fleet")
            var admin = try ConnectionSettings(url: server.url("fleet"))
            admin.password = server.password
            try await BucketStore.withStore(admin) { try await $0.migrate() }
            return (server, admin)
        } catch {
            server.stop()
            throw error
        }
    }

    /// An import's rows as psql prints them: line|µs|source|protocol|port|country|weight.
    static func storedRows(_ server: PostgresServer, importID: Int64) throws -> [String] {
        try server.psql("fleet", """
            SELECT line, (extract(epoch FROM event_time) * 1000000)::bigint, coalesce(host(source), ''), coalesce(protocol::text, ''),
                coalesce(port::text, ''), coalesce(country, ''), weight
            FROM feed_events WHERE import_id = \(importID) ORDER BY line
            """)
    }

    static func expectedRow(_ event: FeedEvent) -> String {
        let us = event.timestampNs / 1000
        let country = event.sourceCountry.isKnown ? event.sourceCountry.description : ""
        return "\(us)|\(event.source?.description ?? "")|\(event.ipProtocol.map { "\($0)" } ?? "")|\(event.destinationPort.map { "\($0)" } ?? "")|\(country)|\(event.count)"
    }

    /// Drops the `line` column (the parser's events do not carry it).
    static func withoutLine(_ rows: [String]) -> [String] {
        rows.map { String($0.drop(while: { $0 != "|" }).dropFirst()) }
    }

    @Test func everyBuiltInFormatImportsAsItsParserReadsIt() async throws {
        let dir = try BucketStoreTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ name: String, _ text: String) throws -> String {
            let path = dir.appendingPathComponent(name).path
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            return path
        }
        var files: [(FeedFormat, String)] = [
            (.norse, try write("norse.txt", """
                {"md5":"210.78.137.6","dport":"22","svc":"ssh","countrycode":"CN","countrycode2":"US","type":"ipviking.honey"}
                {'md5': u'192.0.2.7', 'dport': '445', 'svc': '445', 'countrycode': 'HK', 'countrycode2': 'US', 'zerg': None}
                {'md5': '192.0.2.8', 'dport': '23', 'countrycode': 'O1'}{'md5': '192.0.2.9', 'dport': '1947', 'countrycode': 'JP'}
                {"md5":"192.0.2.10","dport":"138","countrycode":"TW","timestamp":"2014-10-08T12:00:00Z","proto":"udp"}

                """)),
            (.csv, try write("feed.csv", """
                time,src_ip,dst_port,proto,cc,count
                2014-10-07T12:00:00Z,192.0.2.1,23,tcp,CN,5
                1412683260,198.51.100.7,,,,
                2014-10-09T00:00:00+09:00,198.51.100.8,17500,udp,HK,2

                """)),
            (.cowrie, try write("cowrie.json", """
                {"eventid": "cowrie.session.connect", "src_ip": "185.222.209.151", "src_port": 5595, "timestamp": "2018-05-11T00:03:29.642300Z", "dst_port": 2222, "protocol": "ssh"}
                {"eventid": "cowrie.login.failed", "username": "", "timestamp": "2018-05-11T00:03:29.915862Z", "src_ip": "185.222.209.151"}
                {"eventid": "cowrie.session.connect", "src_ip": "192.0.2.5", "timestamp": "2018-05-12T23:59:59.999999Z", "dst_port": 2223, "protocol": "telnet"}

                """)),
        ]
        for (format, name) in [(FeedFormat.norse, "norse_ipviking_eventstream_voilet-push_api.pyrepr.txt"),
                               (.cowrie, "cowrie_kareiva_cowrie.json.2018-05-11"), (.csv, "darkvec_ground_truth_big_gt.csv")] {
            if let path = Self.corpus(name) { files.append((format, path)) }
        }

        let (server, admin) = try await Self.migratedServer()
        defer { server.stop() }
        try await BucketStore.withStore(admin) { (store: BucketStore) async throws in
            var importIDs: [String: Int64] = [:]
            for (format, path) in files {
                let result = try await store.importFeed(name: "feed-\(format.rawValue)", path: path, format: .builtIn(nil),
                                                        defaultTimeNs: Self.defaultTimeNs)
                #expect(result.format == format.rawValue)
                #expect(!result.alreadyImported)
                importIDs[path] = result.importID
                let parsed = try FeedReader.readAll(path: path, format: format, clock: { Self.defaultTimeNs })
                #expect(parsed.events.count > 0)
                let stored = try Self.storedRows(server, importID: result.importID)
                #expect(stored.count == parsed.events.count, "\(path)")
                #expect(Self.withoutLine(stored) == parsed.events.map(Self.expectedRow), "\(path)")
                #expect(result.summary.records == UInt64(parsed.events.count))
                #expect(result.summary.rejectedLines == parsed.status.skippedTotal)
                let imports = try server.psql("fleet", """
                    SELECT f.name, i.format, i.events, i.rejected_lines, i.file_bytes, i.file_name FROM feed_imports i JOIN feeds f USING (feed_id)
                    WHERE import_id = \(result.importID)
                    """)
                let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? -1
                #expect(imports == ["feed-\(format.rawValue)|\(format.rawValue)|\(parsed.events.count)|\(parsed.status.skippedTotal)|\(size)|\(path)"])
            }
            // The glued NORSE line gave two rows, told apart by line × 1000 + k.
            let norseSample = try #require(importIDs[files[0].1])
            let glued = try server.psql("fleet", "SELECT line FROM feed_events WHERE import_id = \(norseSample) AND line BETWEEN 3000 AND 3999 ORDER BY line")
            #expect(glued == ["3000", "3001"])

            // A sensor export: the weights of each bucket add up to its packets once, per port
            // as the export lists them, and its sources are rows of weight 0.
            let writer = SensorExportWriter(sensor: "osaka", bucketSeconds: 60)
            let start = Self.defaultTimeNs
            let buckets = (0..<5).map { i in
                SensorExportBucket(startNs: start + Int64(i) * 60_000_000_000, packets: UInt64(100 + i),
                                   ports: [SensorExportPort(ipProtocol: 6, port: 23, packets: 60, sources: 3),
                                           SensorExportPort(ipProtocol: 17, port: 53, packets: UInt64(10 * i), sources: 1)],
                                   countries: [SensorExportCountry(country: CountryCode("CN")!, packets: 50)])
            }
            let sources = (0..<3).map { i in
                SensorExportSource(timeNs: start + Int64(i) * 1_000_000_000, address: IPAddress("192.0.2.\(20 + i)")!, ipProtocol: 6,
                                   port: 23, packets: 7, country: CountryCode("HK")!)
            }
            let export = try write("osaka.jsonl", writer.document(buckets: buckets, sources: sources))
            let result = try await store.importFeed(name: "osaka", path: export, format: .builtIn(.sensor), defaultTimeNs: 0)
            #expect(result.format == "sensor")
            let parsed = try FeedReader.readAll(path: export, format: .sensor)
            let totals = parsed.events.filter { $0.contributes == .total }.reduce(0) { $0 + $1.count }
            #expect(try server.psql("fleet", "SELECT sum(weight) FROM feed_events WHERE import_id = \(result.importID)") == ["\(totals)"])
            var perPort: [String: UInt64] = [:]
            for event in parsed.events where event.contributes == .ports {
                perPort["\(event.ipProtocol!)/\(event.destinationPort!)", default: 0] += event.count
            }
            let storedPorts = try server.psql("fleet", """
                SELECT protocol || '/' || port, sum(weight) FROM feed_events WHERE import_id = \(result.importID) AND port IS NOT NULL GROUP BY 1 ORDER BY 1
                """)
            #expect(storedPorts == perPort.sorted { $0.key < $1.key }.map { "\($0.key)|\($0.value)" })
            #expect(try server.psql("fleet", """
                SELECT host(source), weight, country FROM feed_events WHERE import_id = \(result.importID) AND source IS NOT NULL ORDER BY source
                """) == ["192.0.2.20|0|HK", "192.0.2.21|0|HK", "192.0.2.22|0|HK"])
        }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: hongKongTable), "the study's table8_hk_daily_counts.tsv is not beside the repository"))
    func theHongKongTableThroughItsMappingsKeepsEveryDailyCount() async throws {
        let (server, _) = try await Self.migratedServer()
        defer { server.stop() }
        let db = ["--db", server.url("fleet"), "--db-password-file", server.passwordFile]
        var expected: [String] = []
        let table = try String(contentsOfFile: Self.hongKongTable, encoding: .utf8).split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        let groups = Array(table[0].dropFirst())
        #expect(groups == ["domainA", "domainB", "domainC", "domainD", "domainE"])
        for (column, group) in groups.enumerated() {
            let mapping = Self.repositoryRoot.appendingPathComponent("config/feed-mappings/hk-\(group).yaml").path
            let run = try Subprocess.run(Executables.darknetd, ["feed", "import", "--name", "hk-\(group)", "--mapping", mapping, Self.hongKongTable] + db)
            #expect(run.status == 0, "\(run.output)")
            #expect(run.stdout.hasPrefix("feed import: \(Self.hongKongTable) -> feed hk-\(group) (mapping:hk-\(group).yaml): 29 events"), "\(run.stdout)")
            #expect(run.stdout.contains("0 rejected lines, 2014-10-07T00:00:00Z .. 2014-11-04T00:00:00Z"), "\(run.stdout)")
            expected += table.dropFirst().map { "hk-\(group)|\($0[0])|\($0[column + 1])" }
        }
        let stored = try server.psql("fleet", """
            SELECT f.name, to_char(e.event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD'), sum(e.weight)
            FROM feed_events e JOIN feeds f USING (feed_id) GROUP BY 1, 2 ORDER BY 1, 2
            """)
        #expect(stored.count == 5 * 29)
        #expect(stored == expected)
        // Once more: already imported, nothing written.
        let mapping = Self.repositoryRoot.appendingPathComponent("config/feed-mappings/hk-domainA.yaml").path
        let again = try Subprocess.run(Executables.darknetd, ["feed", "import", "--name", "hk-domainA", "--mapping", mapping, Self.hongKongTable] + db)
        #expect(again.status == 0 && again.stdout.contains("already imported (import 1); nothing written"), "\(again.output)")
        #expect(try server.psql("fleet", "SELECT count(*), count(DISTINCT import_id) FROM feed_events") == ["145|5"])

        // The seed end to end: the five imported feeds through `fleet report` give the
        // textbook's Pearson and Spearman for every pair, to 1e-9.
        let columns = groups.indices.map { c in table.dropFirst().map { Double($0[c + 1])! } }
        let result = try FleetReportTests.report(server, ["--from", "2014-10-07", "--to", "2014-11-05", "--bucket", "1d", "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try FleetReportTests.json(result.stdout)
        let pairs = try #require(report["correlation"] as? [[String: Any]])
        #expect(pairs.count == 10)
        for pair in pairs {
            let a = try #require(groups.firstIndex(of: String((pair["a"] as? String ?? "").dropFirst(3))))
            let b = try #require(groups.firstIndex(of: String((pair["b"] as? String ?? "").dropFirst(3))))
            _ = try FleetReportTests.expectTextbookCorrelation(pair, columns[a], columns[b], "\(groups[a]) ~ \(groups[b])")
        }
    }

    @Test func aFileIsStoredOnceAndItsBrokenLinesAreCountedByNumber() async throws {
        let dir = try BucketStoreTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("broken.csv").path
        let text = """
            time,src_ip,dst_port,count
            2014-10-07T00:00:00Z,192.0.2.1,23,1
            yesterday,192.0.2.2,23,1
            2014-10-07T00:02:00Z,192.0.2.3,23,5
            2014-10-07T00:03:00Z,192.0.2.4
            2014-10-07T00:04:00Z,192.0.2.300,23,1
            \u{01}\u{02}

            """
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let copy = dir.appendingPathComponent("copy.csv").path
        try FileManager.default.copyItem(atPath: path, toPath: copy)

        let (server, admin) = try await Self.migratedServer()
        defer { server.stop() }
        try await BucketStore.withStore(admin) { (store: BucketStore) async throws in
            let first = try await store.importFeed(name: "demo", path: path, format: .builtIn(nil), defaultTimeNs: 0)
            #expect(!first.alreadyImported)
            #expect(first.summary.records == 2)
            #expect(first.summary.rejected == ["bad-time": 1, "bad-csv": 2, "bad-address": 1])
            #expect(first.summary.firstRejections.map(\.line) == [3, 5, 6, 7])
            #expect(first.summaryLine.contains("2 events (weight 6), 4 rejected lines (line 3 bad-time: "), "\(first.summaryLine)")
            #expect(try Self.storedRows(server, importID: first.importID) == [
                "2000|1412640000000000|192.0.2.1||23||1", "4000|1412640120000000|192.0.2.3||23||5",
            ])
            // The same file again, and a copy under another name: already imported, nothing written.
            let again = try await store.importFeed(name: "demo", path: path, format: .builtIn(nil), defaultTimeNs: 0)
            #expect(again.alreadyImported && again.importID == first.importID)
            #expect(again.summaryLine.contains("already imported (import \(first.importID)); nothing written"))
            let renamed = try await store.importFeed(name: "demo", path: copy, format: .builtIn(.csv), defaultTimeNs: 0)
            #expect(renamed.alreadyImported)
            // The same bytes into another feed are that feed's own import.
            let other = try await store.importFeed(name: "demo-2", path: copy, format: .builtIn(.csv), defaultTimeNs: 0)
            #expect(!other.alreadyImported && other.importID != first.importID)
        }
        #expect(try server.psql("fleet", "SELECT f.name, count(*), sum(weight) FROM feed_events JOIN feeds f USING (feed_id) GROUP BY 1 ORDER BY 1")
            == ["demo|2|6", "demo-2|2|6"])
        #expect(try server.psql("fleet", "SELECT count(*), sum(events), sum(rejected_lines) FROM feed_imports") == ["2|4|8"])

        // Through the command: an unreadable file and a bad mapping are named; the other files still import.
        let db = ["--db", server.url("fleet"), "--db-password-file", server.passwordFile]
        let missing = dir.appendingPathComponent("missing.csv").path
        let fresh = dir.appendingPathComponent("fresh.csv").path
        try Data("time,src_ip\n2014-10-08T00:00:00Z,192.0.2.50\n".utf8).write(to: URL(fileURLWithPath: fresh))
        let run = try Subprocess.run(Executables.darknetd, ["feed", "import", "--name", "demo", missing, fresh, path] + db)
        #expect(run.status == 1, "\(run.output)")
        #expect(run.stderr.contains("darknetd: feed import: cannot open feed \(missing): No such file or directory"), "\(run.stderr)")
        #expect(run.stdout.contains("feed import: \(fresh) -> feed demo (csv): 1 events (weight 1), 0 rejected lines"), "\(run.stdout)")
        #expect(run.stdout.contains("feed import: \(path) -> feed demo: already imported"), "\(run.stdout)")
        let mapping = dir.appendingPathComponent("bad.yaml").path
        try Data("input: {kind: csv}\ntime: {field: time, format: rfc822}\n".utf8).write(to: URL(fileURLWithPath: mapping))
        let badMapping = try Subprocess.run(Executables.darknetd, ["feed", "import", "--name", "demo", "--mapping", mapping, fresh] + db)
        #expect(badMapping.status == 1)
        #expect(badMapping.stderr.contains("mapping bad.yaml, line 2: time.format: unknown time format 'rfc822'"), "\(badMapping.stderr)")
        let both = try Subprocess.run(Executables.darknetd, ["feed", "import", "--name", "demo", "--mapping", mapping, "--format", "csv", fresh] + db)
        #expect(both.status != 0 && both.stderr.contains("give --format or --mapping, not both"), "\(both.stderr)")
    }

    @Test func aFeedRoleImportsOnlyIntoItsOwnFeedsAndAReportRoleReads() async throws {
        let (server, admin) = try await Self.migratedServer()
        defer { server.stop() }
        try server.psql("fleet", try LeastPrivilegeTests.documentedSQL())
        try server.psql("fleet", try Self.documentedFeedSQL())
        try server.psql("fleet", """
            CREATE ROLE feed_norse LOGIN IN ROLE fleet_feed PASSWORD 'norse-pw';
            INSERT INTO feeds (name, db_role) VALUES ('norse', 'feed_norse');
            CREATE ROLE feed_cowrie LOGIN IN ROLE fleet_feed PASSWORD 'cowrie-pw';
            INSERT INTO feeds (name, db_role) VALUES ('cowrie', 'feed_cowrie');
            CREATE ROLE report_alice LOGIN IN ROLE fleet_report PASSWORD 'alice-pw';
            """)
        let dir = try BucketStoreTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("feed.csv").path
        try Data("time,src_ip,dst_port\n2014-10-07T00:00:00Z,192.0.2.1,22\n2014-10-09T00:00:00Z,192.0.2.2,23\n".utf8)
            .write(to: URL(fileURLWithPath: path))

        var norse = try ConnectionSettings(url: server.url("fleet", user: "feed_norse"))
        norse.password = "norse-pw"
        try await BucketStore.withStore(norse) { (store: BucketStore) async throws in
            try await store.checkSchema()
            let first = try await store.importFeed(name: "norse", path: path, format: .builtIn(.csv), defaultTimeNs: 0)
            #expect(!first.alreadyImported && first.summary.records == 2)
            let again = try await store.importFeed(name: "norse", path: path, format: .builtIn(.csv), defaultTimeNs: 0)
            #expect(again.alreadyImported)
            await #expect(throws: FleetError.feedNotPermitted(feed: "cowrie", user: "feed_norse")) {
                try await store.importFeed(name: "cowrie", path: path, format: .builtIn(.csv), defaultTimeNs: 0)
            }
            await #expect(throws: FleetError.feedNotRegistered(feed: "unregistered", user: "feed_norse")) {
                try await store.importFeed(name: "unregistered", path: path, format: .builtIn(.csv), defaultTimeNs: 0)
            }
        }
        #expect(try server.psql("fleet", "SELECT f.name, count(*) FROM feed_events JOIN feeds f USING (feed_id) GROUP BY 1") == ["norse|2"])
        #expect(try server.psql("fleet", "SELECT count(*) FROM feed_imports") == ["1"])
        #expect(throws: PostgresServer.Failure.self) {
            try server.psql("fleet", "DELETE FROM feed_events", user: "feed_norse", password: "norse-pw")
        }
        #expect(throws: PostgresServer.Failure.self) {
            try server.psql("fleet", "UPDATE feed_imports SET events = 0", user: "feed_norse", password: "norse-pw")
        }
        #expect(throws: PostgresServer.Failure.self) {
            try server.psql("fleet", "INSERT INTO feeds (name, db_role) VALUES ('mine', 'feed_norse')", user: "feed_norse", password: "norse-pw")
        }
        // The report role reads every feed table and writes none.
        #expect(try server.psql("fleet", "SELECT count(*) FROM feed_events", user: "report_alice", password: "alice-pw") == ["2"])
        #expect(try server.psql("fleet", "SELECT events FROM feed_imports", user: "report_alice", password: "alice-pw") == ["2"])
        #expect(throws: PostgresServer.Failure.self) {
            try server.psql("fleet", "DELETE FROM feed_events", user: "report_alice", password: "alice-pw")
        }
        // The administrator registers a new name by importing into it.
        try await BucketStore.withStore(admin) { (store: BucketStore) async throws in
            let result = try await store.importFeed(name: "admin-feed", path: path, format: .builtIn(.csv), defaultTimeNs: 0)
            #expect(!result.alreadyImported)
        }
        #expect(try server.psql("fleet", "SELECT name, coalesce(db_role, '-') FROM feeds ORDER BY feed_id") == ["norse|feed_norse", "cowrie|feed_cowrie", "admin-feed|-"])
    }

    /// The ```sql block of docs/fleet.md that starts with `-- fleet-feed-least-privilege`.
    static func documentedFeedSQL() throws -> String {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/fleet.md"), encoding: .utf8)
        let start = try #require(text.range(of: "```sql\n-- fleet-feed-least-privilege\n"))
        let end = try #require(text.range(of: "\n```", range: start.upperBound..<text.endIndex))
        return String(text[start.upperBound..<end.lowerBound])
    }

    @Test(.enabled(if: corpus("cowrie_kareiva_cowrie.json.2018-05-11") != nil, "the shared corpus's Cowrie logs are not beside the repository"))
    func cowrieThroughTheExampleMappingStoresWhatTheBuiltInFormatStores() async throws {
        let path = try #require(Self.corpus("cowrie_kareiva_cowrie.json.2018-05-11"))
        let mapping = try FeedMapping.load(path: Self.repositoryRoot.appendingPathComponent("config/feed-mappings/cowrie-connect.yaml").path)
        let (server, admin) = try await Self.migratedServer()
        defer { server.stop() }
        try await BucketStore.withStore(admin) { (store: BucketStore) async throws in
            let builtIn = try await store.importFeed(name: "cowrie-builtin", path: path, format: .builtIn(.cowrie), defaultTimeNs: 0)
            let mapped = try await store.importFeed(name: "cowrie-mapped", path: path, format: .mapping(mapping), defaultTimeNs: 0)
            #expect(mapped.format == "mapping:cowrie-connect.yaml")
            #expect(builtIn.summary.records > 100)
            #expect(mapped.summary.records == builtIn.summary.records)
            #expect(mapped.summary.rejectedLines == builtIn.summary.rejectedLines)
            let mappedRows = try Self.storedRows(server, importID: mapped.importID)
            let builtInRows = try Self.storedRows(server, importID: builtIn.importID)
            #expect(mappedRows == builtInRows)
        }
    }
}
