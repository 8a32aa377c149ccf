import Aggregation
import Capture
import Foundation
import Reporting
import TestSupport
import Testing
@testable import Fleet

/// `darknetd fleet report` against a real PostgreSQL (`PostgresServer`): the
/// study's Hong Kong table as five feeds, two sensors backfilled from
/// generated captures that share part of their sources, bad input, and the
/// HTML page in a real headless browser.
@Suite(.enabled(if: PostgresServer.unavailableReason == nil, Comment(rawValue: PostgresServer.unavailableReason ?? "")))
struct FleetReportTests {
    // MARK: helpers

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// The report's way of printing a count (`FleetReport.count`): whole numbers bare, others with one decimal.
    static func count(_ v: Double) -> String {
        v == v.rounded() ? String(Int64(v)) : String(format: "%.1f", v)
    }

    static func report(_ server: PostgresServer, _ arguments: [String]) throws -> Subprocess.Result {
        try Subprocess.run(Executables.darknetd, ["fleet", "report", "--db", server.url("fleet"), "--db-password-file", server.passwordFile] + arguments,
                           timeout: .seconds(300))
    }

    /// A migrated database `fleet` on `server`.
    static func migrated(_ server: PostgresServer) throws {
        try server.createDatabase("fleet")
        let migrate = try Subprocess.run(Executables.darknetd, ["db", "migrate", "--db", server.url("fleet"), "--db-password-file", server.passwordFile])
        #expect(migrate.status == 0, "\(migrate.output)")
    }

    /// A feed with one import covering [first, last] and its events
    /// (time, source, port, country, weight), inserted with SQL (until `darknetd feed import` exists).
    static func insertFeed(_ server: PostgresServer, name: String, first: String, last: String,
                           events: [(time: String, source: String?, port: Int?, country: String?, weight: Double)]) throws {
        func literal(_ s: String?) -> String { s.map { "'\($0.replacingOccurrences(of: "'", with: "''"))'" } ?? "NULL" }
        try server.psql("fleet", """
            INSERT INTO feeds (name) VALUES (\(literal(name)));
            INSERT INTO feed_imports (feed_id, file_bytes, file_hash, file_name, format, events, rejected_lines, first_event, last_event)
            SELECT feed_id, \(events.count), \(abs(name.hashValue % 1_000_000)), \(literal(name + ".tsv")), 'test-sql', \(events.count), 0,
                \(literal(first))::timestamptz, \(literal(last))::timestamptz FROM feeds WHERE name = \(literal(name));
            SELECT fleet_ensure_partitions(d::date) FROM generate_series(\(literal(first))::timestamptz::date, \(literal(last))::timestamptz::date, '1 day') AS d;
            """)
        guard !events.isEmpty else { return }
        let values = events.enumerated().map { i, e in
            "(\(i + 1), \(literal(e.time))::timestamptz, \(literal(e.source))::inet, \(e.port.map(String.init) ?? "NULL"), \(literal(e.country)), \(e.weight))"
        }.joined(separator: ",\n")
        try server.psql("fleet", """
            INSERT INTO feed_events (feed_id, import_id, line, event_time, source, port, country, weight)
            SELECT f.feed_id, i.import_id, v.line, v.t, v.source, v.port, v.country, v.weight
            FROM feeds f JOIN feed_imports i USING (feed_id),
                (VALUES \(values)) AS v(line, t, source, port, country, weight)
            WHERE f.name = \(literal(name))
            """)
    }

    /// Expects a report pair's Pearson and Spearman to equal the textbook's on
    /// its two columns to 1e-9, over 29 buckets; returns its correlation object.
    static func expectTextbookCorrelation(_ pair: [String: Any], _ x: [Double], _ y: [Double], _ label: String) throws -> [String: Any] {
        let c = try #require(pair["correlation"] as? [String: Any])
        let pearson = try #require(c["pearson"] as? Double)
        let spearman = try #require(c["spearman"] as? Double)
        #expect(abs(pearson - textbookPearson(x, y)) < 1e-9, "\(label)")
        #expect(abs(spearman - textbookSpearman(x, y)) < 1e-9, "\(label)")
        #expect(c["buckets"] as? Int == 29, "\(label)")
        return c
    }

    /// Textbook Pearson (one-pass raw sums) and Spearman (brute-force average ranks),
    /// independent of the Correlation module, as in Tests/CorrelationTests/Textbook.swift.
    static func textbookPearson(_ x: [Double], _ y: [Double]) -> Double {
        let n = Double(x.count)
        var sx = 0.0, sy = 0.0, sxx = 0.0, syy = 0.0, sxy = 0.0
        for (a, b) in zip(x, y) { sx += a; sy += b; sxx += a * a; syy += b * b; sxy += a * b }
        return (n * sxy - sx * sy) / ((n * sxx - sx * sx) * (n * syy - sy * sy)).squareRoot()
    }

    static func textbookSpearman(_ x: [Double], _ y: [Double]) -> Double {
        func ranks(_ v: [Double]) -> [Double] {
            v.map { e in Double(v.filter { $0 < e }.count) + Double(v.filter { $0 == e }.count + 1) / 2 }
        }
        return textbookPearson(ranks(x), ranks(y))
    }

    /// ../shared/study/table8_hk_daily_counts.tsv next to the repository.
    static let hkTablePath: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("shared/study/table8_hk_daily_counts.tsv").path
    }()

    // MARK: the study's Hong Kong table as five feeds

    @Test(.enabled(if: FileManager.default.isReadableFile(atPath: hkTablePath), "../shared/study/table8_hk_daily_counts.tsv is absent"))
    func hongKongFeedsCorrelateAsTheTextbookSays() throws {
        let text = try String(contentsOfFile: Self.hkTablePath, encoding: .utf8)
        let lines = text.split(whereSeparator: \.isNewline).map { $0.split(separator: "\t").map(String.init) }
        let names = Array(try #require(lines.first).dropFirst())
        let rows = Array(lines.dropFirst())
        #expect(names.count == 5 && rows.count == 29)
        let dates = rows.map { $0[0] }
        let columns = names.indices.map { i in rows.map { Double($0[i + 1])! } }

        let server = try PostgresServer.start()
        defer { server.stop() }
        try Self.migrated(server)
        for (i, name) in names.enumerated() {
            // One event a day at noon UTC, weight = the day's count; a day with 0 has no event
            // (the import's first and last event still cover it: it is a zero, not missing).
            let events = dates.indices.compactMap { d -> (time: String, source: String?, port: Int?, country: String?, weight: Double)? in
                columns[i][d] > 0 ? (time: "\(dates[d])T12:00:00Z", source: "10.0.\(i).\(d)", port: 80, country: "HK", weight: columns[i][d]) : nil
            }
            try Self.insertFeed(server, name: name, first: "\(dates.first!)T12:00:00Z", last: "\(dates.last!)T12:00:00Z", events: events)
        }
        let result = try Self.report(server, ["--from", dates.first!, "--to", "2014-11-05", "--bucket", "1d", "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try Self.json(result.stdout)
        let networks = try #require(report["networks"] as? [[String: Any]])
        #expect(networks.map { $0["name"] as? String } == names)
        let buckets = try #require(report["buckets"] as? [[String: Any]])
        #expect(buckets.count == 29)
        for (d, bucket) in buckets.enumerated() {
            let values = try #require(bucket["values"] as? [Any])
            #expect(values.map { ($0 as? NSNumber)?.doubleValue } == columns.map { $0[d] }, "\(dates[d]): zeros are zeros, not missing")
        }
        let pairs = try #require(report["correlation"] as? [[String: Any]])
        #expect(pairs.count == 10)
        var checked = 0
        for pair in pairs {
            let a = try #require(names.firstIndex(of: pair["a"] as? String ?? ""))
            let b = try #require(names.firstIndex(of: pair["b"] as? String ?? ""))
            let c = try #require(pair["correlation"] as? [String: Any])
            let pearson = try #require(c["pearson"] as? Double)
            let spearman = try #require(c["spearman"] as? Double)
            let expectedPearson = Self.textbookPearson(columns[a], columns[b])
            let expectedSpearman = Self.textbookSpearman(columns[a], columns[b])
            #expect(abs(pearson - expectedPearson) < 1e-9, "\(names[a]) ~ \(names[b])")
            #expect(abs(spearman - expectedSpearman) < 1e-9, "\(names[a]) ~ \(names[b])")
            let lags = try #require(c["lags"] as? [[String: Any]])
            let zero = try #require(lags.first { $0["lag"] as? Int == 0 })
            let lagZero = try #require(zero["pearson"] as? Double)
            #expect(abs(lagZero - expectedPearson) < 1e-9)
            #expect(c["buckets"] as? Int == 29)
            checked += 1
        }
        #expect(checked == 10)
        // Feeds against feeds: sources exact (each feed's own addresses: nothing shared).
        let overlap = try #require(report["overlap"] as? [[String: Any]])
        #expect(overlap.count == 10 && overlap.allSatisfy { $0["method"] as? String == "exact" && $0["shared"] as? Double == 0 })

        let textResult = try Self.report(server, ["--from", dates.first!, "--to", "2014-11-05", "--bucket", "1d"])
        #expect(textResult.status == 0, "\(textResult.stderr)")
        let ae = try #require(pairs.first { $0["a"] as? String == "domainA" && $0["b"] as? String == "domainE" })
        let aePearson = try #require((ae["correlation"] as? [String: Any])?["pearson"] as? Double)
        #expect(textResult.stdout.contains("domainA ~ domainE") && textResult.stdout.contains(String(format: "%.4f", aePearson)), "\(textResult.stdout)")
    }

    // MARK: two sensors from generated captures

    /// Two sensors, alpha = captures of seeds 11 and 13, beta = seeds 11 and 12 (so they share
    /// seed 11's sources), from 2024-01-01T22:00Z for about 2.8 hours (two UTC days); two feeds
    /// (one naming some of alpha's scan sources), and alerts. Returns each sensor's true sources.
    static func makeFleet(_ server: PostgresServer, in dir: URL) throws -> (alpha: Set<String>, beta: Set<String>) {
        try migrated(server)
        var captures: [UInt64: String] = [:]
        for seed: UInt64 in [11, 12, 13] {
            let path = dir.appendingPathComponent("gen\(seed).pcap").path
            let generated = try Subprocess.run(Executables.darknetd, ["generate", "--out", path, "--packets", "20000", "--rate", "2",
                                                                      "--sources", "3000", "--seed", "\(seed)", "--start", "2024-01-01T22:00:00Z"])
            #expect(generated.status == 0, "\(generated.stderr)")
            captures[seed] = path
        }
        let db = ["--db", server.url("fleet"), "--db-password-file", server.passwordFile]
        var truth: [String: Set<String>] = [:]
        for (sensor, seeds) in [("alpha", [11, 13] as [UInt64]), ("beta", [11, 12])] {
            let files = seeds.map { captures[$0]! }
            let backfill = try Subprocess.run(Executables.darknetd, ["analyze", "--sensor", sensor, "--geoip", "none"] + files.flatMap { ["--pcap", $0] } + db,
                                              timeout: .seconds(300))
            #expect(backfill.status == 0 && backfill.stderr.contains("buckets written"), "\(backfill.stderr)")
            // The true sources: the same files through the same pipeline, every address kept.
            var config = AggregationConfig()
            config.exactSourceCap = 1_000_000
            let analysis = OfflineAnalysis(config: config)
            let result = analysis.run(source: try PacketSource.openFiles(files), geoip: nil)
            #expect(result.aggregator.exactSourcesComplete)
            truth[sensor] = Set(result.aggregator.exactSources.map(\.description))
        }
        // A honeypot feed naming 20 of the sources alpha's rows name (its watched-port top
        // sources and scan episodes) and 30 addresses of its own, and a blocklist sharing
        // 10 of the honeypot's own addresses.
        let alphaScans = try server.psql("fleet", """
            SELECT DISTINCT host(source) FROM (SELECT source FROM scans JOIN sensors USING (sensor_id) WHERE name = 'alpha'
                UNION SELECT source FROM bucket_watched_sources JOIN sensors USING (sensor_id) WHERE name = 'alpha') AS named
            ORDER BY 1 LIMIT 20
            """)
        #expect(alphaScans.count == 20)
        let own = (1...30).map { "203.0.113.\($0)" }
        var honeypot: [(time: String, source: String?, port: Int?, country: String?, weight: Double)] = []
        for (i, source) in (alphaScans + own).enumerated() {
            honeypot.append((time: String(format: "2024-01-01T22:%02d:00Z", i % 60), source: source, port: i % 2 == 0 ? 23 : 2222, country: "CN", weight: 1))
        }
        try insertFeed(server, name: "honeypot", first: "2024-01-01T22:00:00Z", last: "2024-01-02T00:40:00Z", events: honeypot)
        let blocklist = (own.prefix(10) + (1...5).map { "198.51.100.\($0)" }).map {
            (time: "2024-01-02T00:10:00Z", source: Optional($0), port: Optional(445), country: Optional("RU"), weight: 2.0)
        }
        try insertFeed(server, name: "blocklist", first: "2024-01-02T00:00:00Z", last: "2024-01-02T00:30:00Z", events: blocklist)
        try server.psql("fleet", """
            INSERT INTO alerts (sensor_id, alert_time, rule, alert_key, severity, protocol, port, address, message, body)
            SELECT sensor_id, t::timestamptz, 'dns-open-resolver-surge', 'udp/53', 'warning', 17, 53, NULL, 'UDP/53 surge: ' || name, '{}'::jsonb
            FROM sensors, (VALUES ('2024-01-01T22:40:00Z'), ('2024-01-02T00:05:00Z')) AS v(t);
            INSERT INTO alerts (sensor_id, alert_time, rule, alert_key, severity, protocol, port, address, message, body)
            SELECT sensor_id, '2024-01-01T23:15:00Z', 'backscatter-attack', '192.0.2.7', 'error', 6, NULL, '192.0.2.7', 'DoS victim 192.0.2.7', '{}'::jsonb
            FROM sensors WHERE name = 'beta';
            """)
        return (truth["alpha"]!, truth["beta"]!)
    }

    @Test func sensorsBackfilledFromCaptures() throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        let dir = try BucketStoreTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let truth = try Self.makeFleet(server, in: dir)
        #expect(truth.alpha.count > 3000 && truth.beta.count > 3000)

        let range = ["--from", "2024-01-01", "--to", "2024-01-03", "--bucket", "1d"]
        let clock = ContinuousClock()
        let started = clock.now
        let result = try Self.report(server, range + ["--format", "json"])
        let took = clock.now - started
        #expect(result.status == 0, "\(result.stderr)")
        print("fleet report --format json over 2 sensors, 2 feeds: \(took)")
        let report = try Self.json(result.stdout)
        let networks = try #require(report["networks"] as? [[String: Any]])
        #expect(networks.map { $0["name"] as? String } == ["alpha", "beta", "blocklist", "honeypot"])
        #expect(networks.map { $0["kind"] as? String } == ["sensor", "sensor", "feed", "feed"])

        // Daily totals: the sums of the stored buckets.
        let buckets = try #require(report["buckets"] as? [[String: Any]])
        #expect(buckets.map { $0["start"] as? String } == ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"])
        for (k, sensor) in ["alpha", "beta"].enumerated() {
            let sums = try server.psql("fleet", """
                SELECT to_char(bucket_start AT TIME ZONE 'UTC', 'YYYY-MM-DD'), sum(packets) FROM buckets JOIN sensors USING (sensor_id)
                WHERE name = '\(sensor)' GROUP BY 1 ORDER BY 1
                """)
            #expect(sums.count == 2)
            for (row, bucket) in zip(sums, buckets) {
                let fields = row.split(separator: "|")
                let values = try #require(bucket["values"] as? [Any])
                #expect((values[k] as? NSNumber)?.int64Value == Int64(fields[1]), "\(sensor) \(fields[0])")
                #expect((bucket["start"] as? String)?.hasPrefix(String(fields[0])) == true)
            }
        }
        // The blocklist covered 2024-01-02 only: missing (null) on the first day, not 0.
        let firstValues = try #require(buckets.first?["values"] as? [Any])
        #expect(firstValues[2] is NSNull)

        // Sensor against sensor: the HyperLogLog overlap contains the true overlap.
        let overlap = try #require(report["overlap"] as? [[String: Any]])
        let ab = try #require(overlap.first { $0["a"] as? String == "alpha" && $0["b"] as? String == "beta" })
        #expect(ab["method"] as? String == "hyperloglog")
        let trueShared = Double(truth.alpha.intersection(truth.beta).count)
        let lower = try #require(ab["shared_lower"] as? Double)
        let upper = try #require(ab["shared_upper"] as? Double)
        let shared = try #require(ab["shared"] as? Double)
        #expect(lower <= trueShared && trueShared <= upper, "true \(trueShared) in [\(lower), \(upper)]")
        #expect(abs(shared - trueShared) / trueShared < 0.1, "estimate \(shared), true \(trueShared)")
        for (k, sources) in [truth.alpha, truth.beta].enumerated() {
            let s = try #require(networks[k]["sources"] as? [String: Any])
            let low = try #require(s["lower"] as? Double)
            let high = try #require(s["upper"] as? Double)
            #expect(low <= Double(sources.count) && Double(sources.count) <= high)
        }
        // Sensor against feed: an interval whose lower end is the 20 of alpha's named sources the feed has.
        let alphaHoneypot = try #require(overlap.first { $0["a"] as? String == "alpha" && $0["b"] as? String == "honeypot" })
        #expect(alphaHoneypot["method"] as? String == "bounds" && alphaHoneypot["shared"] is NSNull)
        #expect(alphaHoneypot["named_shared"] as? Int == 20 && alphaHoneypot["shared_lower"] as? Double == 20)
        #expect(alphaHoneypot["shared_upper"] as? Double == 50)
        // Feed against feed: exact.
        let feeds = try #require(overlap.first { $0["a"] as? String == "blocklist" && $0["b"] as? String == "honeypot" })
        #expect(feeds["method"] as? String == "exact" && feeds["shared"] as? Double == 10 && feeds["a_only"] as? Double == 5 && feeds["b_only"] as? Double == 40)

        // Locality: the blocklist's five own addresses are its alone; port 445 is the blocklist's only.
        let locality = try #require(report["locality"] as? [[String: Any]])
        let blocklistLocal = try #require(locality.first { $0["network"] as? String == "blocklist" })
        #expect(blocklistLocal["source_count"] as? Int == 5)
        #expect(Set(blocklistLocal["sources"] as? [String] ?? []) == Set((1...5).map { "198.51.100.\($0)" }))
        let honeypotLocal = try #require(locality.first { $0["network"] as? String == "honeypot" })
        #expect(honeypotLocal["source_count"] as? Int == 20, "the 30 own addresses less the 10 the blocklist has")
        #expect(locality.first { $0["network"] as? String == "alpha" }?["source_count"] is NSNull)

        // Alerts of both sensors on one timeline, oldest first.
        let alerts = try #require(report["alerts"] as? [[String: Any]])
        #expect(report["alert_count"] as? Int == 5 && alerts.count == 5)
        #expect(alerts.map { $0["time"] as? String ?? "" } == alerts.map { $0["time"] as? String ?? "" }.sorted())
        #expect(alerts.contains { $0["sensor"] as? String == "beta" && $0["rule"] as? String == "backscatter-attack" })

        // Ports with each network's share; the honeypot's two ports split its events.
        let ports = try #require(report["ports"] as? [[String: Any]])
        let telnet = try #require(ports.first { $0["key"] as? String == "23" })
        #expect((telnet["shares"] as? [Any])?[3] as? Double == 0.5)

        // The text has the same numbers.
        let text = try Self.report(server, range)
        #expect(text.status == 0, "\(text.stderr)")
        for n in networks {
            let total = try #require(n["total"] as? Double)
            #expect(text.stdout.contains(Self.count(total)), "\(n["name"] ?? "") total \(total)")
        }
        #expect(text.stdout.contains("\(Self.count(shared)) [\(Self.count(lower)), \(Self.count(upper))]"), "\(text.stdout)")
        #expect(text.stdout.contains("UDP/53 surge: alpha") && text.stdout.contains("DoS victim 192.0.2.7"))
        #expect(text.stdout.contains("aggregation.hash_seed"))
    }

    // MARK: bad input

    @Test func badInputIsRefusedClearly() throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        try Self.migrated(server)
        try Self.insertFeed(server, name: "norse", first: "2024-01-01T00:00:00Z", last: "2024-01-01T12:00:00Z",
                            events: [(time: "2024-01-01T06:00:00Z", source: "192.0.2.1", port: 23, country: "CN", weight: 1)])
        let ok = try Self.report(server, ["--from", "2024-01-01", "--to", "2024-01-02"])
        #expect(ok.status == 0 && ok.stdout.contains("norse"), "\(ok.output)")

        let cases: [([String], String)] = [
            (["--from", "2024-01-01", "--to", "2024-01-02", "--sensor", "nowhere"], "no sensor named \"nowhere\" in the fleet database (there is none)"),
            (["--from", "2024-01-01", "--to", "2024-01-02", "--feed", "dshield"], "no feed named \"dshield\" in the fleet database (known: norse)"),
            (["--from", "2024-01-01", "--to", "2024-01-01"], "is empty"),
            (["--from", "2024-01-03", "--to", "2024-01-01"], "--from 2024-01-03 is after --to 2024-01-01"),
            (["--from", "2024-01-01T06:30:00Z", "--to", "2024-01-02"], "bucket boundaries"),
            (["--from", "2024-13-01", "--to", "2024-01-02"], "--from: expected a date"),
            (["--from", "2024-01-01", "--to", "2024-01-02", "--bucket", "soon"], "--bucket"),
            (["--from", "2023-01-01", "--to", "2023-01-02"], "no data between 2023-01-01T00:00:00Z and 2023-01-02T00:00:00Z"),
        ]
        for (arguments, message) in cases {
            let result = try Self.report(server, arguments)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains(server.password))
            #expect(result.stdout.isEmpty)
        }
        let noDB = try Subprocess.run(Executables.darknetd, ["fleet", "report", "--from", "2024-01-01", "--to", "2024-01-02"])
        #expect(noDB.status != 0 && noDB.stderr.contains("--db"))
    }

    // MARK: the HTML page in a headless browser

    /// A headless Chromium (Debian's `chromium-headless-shell`, which scripts/install-deps.sh installs, or `chromium`).
    static let browser: String? = ["chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"].lazy.compactMap { Executables.system($0) }.first

    @Test(.enabled(if: browser != nil, "no headless Chromium (scripts/install-deps.sh installs chromium-headless-shell)"))
    func htmlPageRendersAt1400Pixels() throws {
        let browser = try #require(Self.browser)
        let server = try PostgresServer.start()
        defer { server.stop() }
        let dir = try BucketStoreTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try Self.makeFleet(server, in: dir)
        let result = try Self.report(server, ["--from", "2024-01-01T21:00:00Z", "--to", "2024-01-02T02:00:00Z", "--bucket", "10m", "--format", "html"])
        #expect(result.status == 0, "\(result.stderr)")
        let page = result.stdout
        #expect(page.hasPrefix("<!DOCTYPE html>") && page.hasSuffix("</html>\n"))
        #expect(!page.contains("<script") && !page.contains("src=") && !page.contains("href="))
        #expect(!page.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "").contains("http"), "nothing is fetched")

        // The page as the browser lays it out at 1400 px: a script added to a copy measures it.
        let probe = """
            <script>
            const d = document.documentElement, svgs = [...document.querySelectorAll('svg')];
            const widest = Math.max(...[...document.body.querySelectorAll('*')].map(e => e.getBoundingClientRect().right));
            document.body.setAttribute('data-probe', JSON.stringify({scrollWidth: d.scrollWidth, clientWidth: d.clientWidth,
              svgs: svgs.length, drawn: svgs.filter(s => s.getBoundingClientRect().width > 600 && s.getBoundingClientRect().height > 40).length,
              shapes: document.querySelectorAll('svg path, svg rect, svg circle').length, widest: widest}));
            </script>
            """
        let measured = dir.appendingPathComponent("measured.html")
        try page.replacingOccurrences(of: "</body>", with: probe + "</body>").write(to: measured, atomically: true, encoding: .utf8)
        let dom = try Subprocess.run(browser, ["--no-sandbox", "--disable-gpu", "--headless", "--window-size=1400,1000", "--dump-dom", measured.absoluteString],
                                     timeout: .seconds(120))
        #expect(dom.status == 0, "\(dom.stderr)")
        let attribute = try #require(dom.stdout.range(of: "data-probe=\"").map { dom.stdout[$0.upperBound...].prefix { $0 != "\"" } })
        let probeJSON = try Self.json(String(attribute).replacingOccurrences(of: "&quot;", with: "\""))
        let clientWidth = try #require(probeJSON["clientWidth"] as? Int)
        #expect(clientWidth >= 1380 && clientWidth <= 1400, "\(probeJSON)")
        #expect(probeJSON["scrollWidth"] as? Int == clientWidth, "no horizontal overflow: \(probeJSON)")
        #expect((probeJSON["widest"] as? Double ?? .infinity) <= Double(clientWidth), "\(probeJSON)")
        // Series, two bar charts, the heat map, the alerts timeline: all drawn full width.
        #expect(probeJSON["svgs"] as? Int == 5 && probeJSON["drawn"] as? Int == 5, "\(probeJSON)")
        #expect((probeJSON["shapes"] as? Int ?? 0) > 500, "\(probeJSON)")

        // The page and its screenshot (no probe), kept in the temporary directory for a person to look at.
        let pagePath = FileManager.default.temporaryDirectory.appendingPathComponent("darknetd-fleet-report.html")
        try page.write(to: pagePath, atomically: true, encoding: .utf8)
        let screenshot = FileManager.default.temporaryDirectory.appendingPathComponent("darknetd-fleet-report.png").path
        try? FileManager.default.removeItem(atPath: screenshot)
        let shot = try Subprocess.run(browser, ["--no-sandbox", "--disable-gpu", "--headless", "--window-size=1400,5200", "--hide-scrollbars",
                                                "--screenshot=\(screenshot)", pagePath.absoluteString], timeout: .seconds(120))
        #expect(shot.status == 0, "\(shot.stderr)")
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.count > 50_000, "\(png.count) bytes")
        #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        let width = png.subdata(in: 16..<20).reduce(0) { $0 << 8 | Int($1) }
        #expect(width == 1400)
    }
}
