import Foundation
import TestSupport
import Testing

/// Ground truth made by the test: a capture with background scanning and a
/// UDP/53 surge at a known time, and a feed correlated with it by construction.
@Suite struct FeedScenarioTests {
    static let start = 1_704_067_200  // 2024-01-01T00:00:00Z, the generator's default start

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// Textbook Pearson, written apart from the Correlation module.
    func pearson(_ x: [Double], _ y: [Double]) -> Double {
        let n = Double(x.count)
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices {
            sxy += (x[i] - mx) * (y[i] - my)
            sxx += (x[i] - mx) * (x[i] - mx)
            syy += (y[i] - my) * (y[i] - my)
        }
        return sxy / (sxx * syy).squareRoot()
    }

    func rfc3339(_ seconds: Int) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    @Test func correlatedFeedGivesTheCoefficientsAndTheLag() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("darknetd-feed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // 60 s buckets; background 40 packets/s for 30 minutes; UDP/53 surge 600-900 s.
        let capture = dir.appendingPathComponent("surge.pcap").path
        let generated = try Subprocess.run(Executables.darknetd, ["generate", "--out", capture, "--packets", "90000",
                                                                  "--rate", "40", "--surge", "600:900:200", "--seed", "11"])
        #expect(generated.status == 0, "\(generated.output)")

        // The feed: per minute, 10 events to port 23, plus events to port 53 that follow the
        // sensor's surge two minutes LATER (the sensor leads: best lag -2).
        var lines = ["timestamp,src_ip,dport,country,target_country"]
        for minute in 0..<32 {
            let dns = (12...16).contains(minute) ? 300 : 5  // surge minutes 10..14 shifted by +2
            for i in 0..<(10 + dns) {
                let port = i < 10 ? 23 : 53
                lines.append("\(rfc3339(Self.start + minute * 60 + i % 60)),192.0.2.\(i % 250 + 1),\(port),CN,JP")
            }
        }
        lines.append("{not,a,valid,line")
        let feed = dir.appendingPathComponent("feed.csv")
        try (lines.joined(separator: "\r\n") + "\r\n").write(to: feed, atomically: true, encoding: .utf8)

        let run = try Subprocess(Executables.darknetd, ["analyze", "--pcap", capture, "--feed", feed.path, "--format", "json",
                                                       "--max-lag", "4", "--sensor-country", "JP"])
        #expect(run.waitForExit(timeout: .seconds(120)) == 0, "\(run.standardError)")
        let report = try json(run.standardOutput)

        let feedSection = try #require(report["feed"] as? [String: Any])
        let status = try #require(feedSection["status"] as? [String: Any])
        #expect(feedSection["events"] as? Int == lines.count - 2)
        let skipped = try #require(status["skipped"] as? [String: Int])
        #expect(skipped.values.reduce(0, +) == 1)

        let comparison = try #require(report["comparison"] as? [String: Any])
        let buckets = try #require(comparison["buckets"] as? [[String: Any]])
        let sensor = buckets.map { Double($0["sensor_packets"] as? Int ?? -1) }
        let feedCounts = buckets.map { Double($0["feed_events"] as? Int ?? -1) }
        #expect(buckets.count >= 30)

        let correlation = try #require(report["correlation"] as? [[String: Any]])
        let total = try #require(correlation.first { $0["series"] as? String == "total" })
        let reported = try #require(total["pearson"] as? Double)
        #expect(abs(reported - pearson(sensor, feedCounts)) < 1e-9)
        #expect(total["buckets"] as? Int == buckets.count)
        // The feed trails the sensor by two buckets.
        #expect(total["best_lag_buckets"] as? Int == -2)
        #expect((total["best_lag_pearson"] as? Double ?? 0) > 0.9)

        let port53 = try #require(correlation.first { $0["series"] as? String == "port/53" })
        #expect(port53["best_lag_buckets"] as? Int == -2)

        // The UDP/53 surge alert fires in the surge's first bucket (600 s), not before;
        // the quiet buckets before it raise no surge alert.
        let alerts = try #require(report["alerts"] as? [[String: Any]])
        let surges = alerts.filter { $0["rule"] as? String == "dns-open-resolver-surge" }
        #expect(surges.count == 1, "\(alerts.map { $0["rule"] ?? "" })")
        #expect(surges.first?["time"] as? String == rfc3339(Self.start + 600))
        #expect(surges.first?["proto"] as? String == "udp")
        #expect(surges.first?["port"] as? Int == 53)
        #expect(!alerts.contains { ($0["rule"] as? String)?.hasSuffix("surge") == true && ($0["time"] as? String ?? "") < rfc3339(Self.start + 600) })

        let locality = try #require(report["locality"] as? [String: Any])
        #expect(locality["sensor_country"] as? String == "JP")
        #expect((locality["feed_only_target_countries"] as? [String]) == [])
    }

    /// Two sensors of ours: one exports, the other imports the export as its feed.
    @Test func anotherSensorsExportCorrelatesAsAFeed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("darknetd-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let capture = dir.appendingPathComponent("a.pcap").path
        _ = try Subprocess.run(Executables.darknetd, ["generate", "--out", capture, "--packets", "60000", "--rate", "40",
                                                      "--surge", "600:900:100", "--seed", "3"])
        let export = dir.appendingPathComponent("sensor-a.jsonl").path
        let first = try Subprocess.run(Executables.darknetd, ["analyze", "--pcap", capture, "--export", export, "--sensor-name", "sensor-a"])
        #expect(first.status == 0, "\(first.output)")
        let exported = try String(contentsOfFile: export, encoding: .utf8)
        #expect(exported.hasPrefix("{"))
        #expect(exported.contains("\"sensor\":\"sensor-a\""))
        #expect(exported.contains("\"type\":\"bucket\""))

        let second = try Subprocess(Executables.darknetd, ["analyze", "--pcap", capture, "--feed", export, "--feed-format", "sensor",
                                                          "--format", "json"])
        #expect(second.waitForExit(timeout: .seconds(120)) == 0, "\(second.standardError)")
        let report = try json(second.standardOutput)
        let correlation = try #require(report["correlation"] as? [[String: Any]])
        let total = try #require(correlation.first { $0["series"] as? String == "total" })
        // The same traffic on both sides: identical series.
        #expect(abs((total["pearson"] as? Double ?? 0) - 1) < 1e-9)
        #expect(total["best_lag_buckets"] as? Int == 0)
        let feed = try #require(report["feed"] as? [String: Any])
        let status = try #require(feed["status"] as? [String: Any])
        #expect(status["format"] as? String == "sensor")
    }

    /// Issue 12, finding 12: a feed whose lines carry no time was stamped with the time it
    /// was read, so an older capture was compared with a feed dated today (25,653 hourly
    /// buckets, r = -0.000 everywhere). Such events are now refused for correlation unless
    /// asked for with --feed-time arrival.
    @Test func undatedFeedEventsAreRefusedUnlessAskedFor() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("darknetd-undated-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let capture = dir.appendingPathComponent("c.pcap").path
        let generated = try Subprocess.run(Executables.darknetd, ["generate", "--out", capture, "--packets", "20000", "--rate", "40"])
        #expect(generated.status == 0, "\(generated.output)")
        // 40 dated events in the capture's period, 500 without a time.
        var lines = ["timestamp,src_ip,dport"]
        for i in 0..<40 { lines.append("\(rfc3339(Self.start + i * 12)),192.0.2.\(i + 1),23") }
        for i in 0..<500 { lines.append(",198.51.100.\(i % 250 + 1),23") }
        let feed = dir.appendingPathComponent("feed.csv")
        try (lines.joined(separator: "\n") + "\n").write(to: feed, atomically: true, encoding: .utf8)

        let refused = try Subprocess(Executables.darknetd, ["analyze", "--pcap", capture, "--feed", feed.path, "--format", "json"])
        #expect(refused.waitForExit(timeout: .seconds(120)) == 0, "\(refused.standardError)")
        #expect(refused.standardError.contains("500 events have no time of their own and were left out"))
        let report = try json(refused.standardOutput)
        let feedSection = try #require(report["feed"] as? [String: Any])
        #expect(feedSection["undated_events"] as? Int == 500 && feedSection["feed_time"] as? String == "event")
        #expect(feedSection["events"] as? Int == 40)
        let buckets = try #require((report["comparison"] as? [String: Any])?["buckets"] as? [[String: Any]])
        #expect(buckets.count <= 10, "the grid stays within the capture: \(buckets.count) buckets")
        // 8 one-minute buckets at most, all with both sides non-zero: under the minimum of 10.
        let total = try #require((report["correlation"] as? [[String: Any]])?.first { $0["series"] as? String == "total" })
        #expect(total["insufficient_overlap"] as? Bool == true && total["pearson"] is NSNull)
        #expect(total["min_overlap_buckets"] as? Int == 10)

        let text = try Subprocess.run(Executables.darknetd, ["analyze", "--pcap", capture, "--feed", feed.path])
        #expect(text.output.contains("insufficient overlap:"))
        let html = try Subprocess.run(Executables.darknetd, ["analyze", "--pcap", capture, "--feed", feed.path, "--format", "html"])
        #expect(html.stdout.contains("<th>both non-zero</th>") && html.stdout.contains("insufficient overlap (at least 10 needed)"))
        #expect(html.stdout.contains("500 feed events without a time of their own were left out"))
        let lowered = try Subprocess(Executables.darknetd, ["analyze", "--pcap", capture, "--feed", feed.path, "--format", "json",
                                                           "--min-overlap", "3"])
        #expect(lowered.waitForExit(timeout: .seconds(120)) == 0, "\(lowered.standardError)")
        let loweredTotal = try #require((try json(lowered.standardOutput)["correlation"] as? [[String: Any]])?
            .first { $0["series"] as? String == "total" })
        #expect(loweredTotal["insufficient_overlap"] as? Bool == false && loweredTotal["pearson"] is Double)
        #expect((loweredTotal["overlap_buckets"] as? Int ?? 0) >= 3)
        let loweredText = try Subprocess.run(Executables.darknetd, ["analyze", "--pcap", capture, "--feed", feed.path, "--min-overlap", "3"])
        #expect(loweredText.output.contains("buckets (both)"), "every r with its bucket counts")

        // Asked for: stamped with today's date, the grid runs from the capture (2024) to
        // today, and the report says the overlap is too thin for a coefficient.
        let stamped = try Subprocess(Executables.darknetd, ["analyze", "--pcap", capture, "--feed", feed.path, "--format", "json",
                                                           "--feed-time", "arrival", "--bucket", "1d"])
        #expect(stamped.waitForExit(timeout: .seconds(120)) == 0, "\(stamped.standardError)")
        let stampedReport = try json(stamped.standardOutput)
        let stampedFeed = try #require(stampedReport["feed"] as? [String: Any])
        #expect(stampedFeed["undated_events"] as? Int == 500 && stampedFeed["feed_time"] as? String == "arrival")
        #expect(stampedFeed["events"] as? Int == 540)
        let stampedTotal = try #require((stampedReport["correlation"] as? [[String: Any]])?.first { $0["series"] as? String == "total" })
        #expect((stampedTotal["buckets"] as? Int ?? 0) > 365)
        #expect(stampedTotal["insufficient_overlap"] as? Bool == true && stampedTotal["best_lag_pearson"] is NSNull)

        let bad = try Subprocess.run(Executables.darknetd, ["analyze", "--pcap", capture, "--feed", feed.path, "--feed-time", "never"])
        #expect(bad.status != 0 && bad.output.contains("feed-time"))
    }
}
