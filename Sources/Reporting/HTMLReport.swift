import Foundation

/// `analyze --format html`: one self-contained page (inline CSS and SVG, no
/// script, nothing fetched) with the two series, the per-port comparison,
/// the correlations and the alert timeline. Every string that came from a
/// packet or a feed is escaped.
public enum HTMLReport {
    public static func render(report: AnalysisReport, comparison: FeedComparison?, alerts: AlertsSection) -> String {
        var html = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <title>darknet-sensor report</title>
        <style>
        body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
        h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}
        table{border-collapse:collapse;margin:.5em 0}td,th{padding:2px 10px;text-align:right;border-bottom:1px solid #eee}
        th{background:#f4f4f4}td.l,th.l{text-align:left}.sensor{fill:none;stroke:#1f77b4;stroke-width:1.5}
        .feed{fill:none;stroke:#d62728;stroke-width:1.5}.axis{stroke:#999}.alert{fill:#ff7f0e}
        .legend span{display:inline-block;width:1em;height:.3em;margin:0 .3em .2em 1em}
        </style></head><body>
        <h1>darknet-sensor report</h1>

        """
        let p = report.packets
        html += "<p>Period " + esc(report.period.first ?? "-") + " … " + esc(report.period.last ?? "-")
        html += " · \(p.total) packets (\(p.decoded) decoded) · ~\(report.sources.estimate) sources · \(report.scans.count) scan episodes · \(report.backscatter.count) DoS victims · \(alerts.count) alerts</p>\n"

        // The two series.
        html += "<h2>Packets per bucket</h2>\n"
        let sensorPoints: [(String, Double)]
        let feedPoints: [(String, Double)]?
        if let comparison {
            sensorPoints = comparison.comparison.buckets.map { ($0.start, Double($0.sensorPackets)) }
            feedPoints = comparison.comparison.buckets.map { ($0.start, Double($0.feedEvents)) }
        } else {
            sensorPoints = report.series.buckets.map { ($0.start, Double($0.packets)) }
            feedPoints = nil
        }
        html += "<p class=\"legend\"><span style=\"background:#1f77b4\"></span>sensor packets"
        if feedPoints != nil { html += "<span style=\"background:#d62728\"></span>feed events (own scale)" }
        html += "<span style=\"background:#ff7f0e\"></span>alerts</p>\n"
        html += chart(sensor: sensorPoints, feed: feedPoints, alertTimes: alerts.rows.map(\.time))

        if let comparison {
            html += "<h2>Correlation</h2>\n"
            if comparison.feed.undatedEvents > 0 {
                html += comparison.feed.feedTime == .event
                    ? "<p>\(comparison.feed.undatedEvents) feed events without a time of their own were left out (<code>--feed-time arrival</code> stamps them with the time they were read).</p>\n"
                    : "<p>\(comparison.feed.undatedEvents) feed events without a time of their own were stamped with the time they were read.</p>\n"
            }
            html += "<table><tr><th class=\"l\">series</th><th>Pearson</th><th>Spearman</th><th>p (Pearson)</th><th>r of differences</th><th>p adjusted (n<sub>eff</sub>)</th><th>buckets</th><th>both non-zero</th><th>best lag</th><th>r at best lag</th><th>its buckets</th><th>both non-zero</th></tr>\n"
            for s in comparison.correlation {
                html += "<tr><td class=\"l\">\(esc(s.series))</td>"
                if s.insufficientOverlap {
                    html += "<td class=\"l\" colspan=\"5\">insufficient overlap (at least \(s.minOverlapBuckets) needed)</td>"
                    html += "<td>\(s.buckets)</td><td>\(s.overlapBuckets)</td><td>-</td><td>-</td><td>-</td><td>-</td></tr>\n"
                    continue
                }
                html += "<td>\(num(s.pearson))</td><td>\(num(s.spearman))</td><td>\(sci(s.pValuePearson))</td>"
                html += "<td>\(num(s.pearsonDifferenced))</td><td>\(sci(s.pValuePearsonAdjusted))\(s.effectiveBuckets.map { String(format: " (%.1f)", $0) } ?? "")</td>"
                html += "<td>\(s.buckets)</td><td>\(s.overlapBuckets)</td><td>\(s.bestLagBuckets.map { $0 > 0 ? "+\($0)" : String($0) } ?? "-")</td>"
                html += "<td>\(num(s.bestLagPearson))</td><td>\(s.bestLagPairs.map(String.init) ?? "-")</td><td>\(s.bestLagOverlapBuckets.map(String.init) ?? "-")</td></tr>\n"
            }
            html += "</table><p>Positive lag: the feed leads (what the feed saw in bucket t, the sensor saw in bucket t + lag). A coefficient is shown only with at least the minimum of buckets where both series are non-zero. The r of differences correlates bucket-to-bucket changes, which a shared trend does not inflate; the adjusted p-value counts the autocorrelated buckets as n<sub>eff</sub> independent ones.</p>\n"
            html += "<h2>Ports: sensor and feed</h2>\n<table><tr><th>port</th><th>sensor packets</th><th>feed events</th></tr>\n"
            for row in comparison.comparison.ports.prefix(30) {
                html += "<tr><td>\(row.port)</td><td>\(row.sensorPackets)</td><td>\(row.feedEvents)</td></tr>\n"
            }
            html += "</table>\n<h2>Source countries: sensor and feed</h2>\n<table><tr><th class=\"l\">country</th><th>sensor packets</th><th>feed events</th></tr>\n"
            for row in comparison.comparison.countries.prefix(30) {
                html += "<tr><td class=\"l\">\(esc(row.country))</td><td>\(row.sensorPackets)</td><td>\(row.feedEvents)</td></tr>\n"
            }
            let o = comparison.overlap
            html += "</table>\n<h2>Overlap and locality</h2>\n<p>Sources: shared \(Int(o.sources.shared)), sensor only \(Int(o.sources.sensorOnly)), feed only \(Int(o.sources.feedOnly))"
            html += o.sources.exact ? " (exact)" : " (estimated)"
            html += ". Ports: shared \(o.ports.shared), sensor only \(o.ports.sensorOnly), feed only \(o.ports.feedOnly).</p>\n"
            let l = comparison.locality
            html += "<p>Feed sources whose events all target one country: \(l.singleTargetSourceCount).</p>\n"
            if !l.singleTargetSources.isEmpty {
                html += "<table><tr><th class=\"l\">source</th><th class=\"l\">target</th><th>events</th><th class=\"l\">seen by the sensor</th></tr>\n"
                for s in l.singleTargetSources.prefix(20) {
                    html += "<tr><td class=\"l\">\(esc(s.address))</td><td class=\"l\">\(esc(s.country))</td><td>\(s.events)</td>"
                    html += "<td class=\"l\">\(s.seenBySensor.map { $0 ? "yes" : "no" } ?? "-")</td></tr>\n"
                }
                html += "</table>\n"
            }
        }

        html += "<h2>Top ports</h2>\n<table><tr><th class=\"l\">port</th><th>packets</th><th>sources</th><th>destinations</th></tr>\n"
        for row in report.ports.prefix(20) {
            html += "<tr><td class=\"l\">\(esc(row.proto))/\(row.port)</td><td>\(row.packets)</td><td>\(row.sources)</td><td>\(row.destinations)</td></tr>\n"
        }
        html += "</table>\n<h2>Alert timeline</h2>\n"
        if alerts.rows.isEmpty {
            html += "<p>No alert.</p>\n"
        } else {
            html += "<table><tr><th class=\"l\">time</th><th class=\"l\">rule</th><th class=\"l\">severity</th><th class=\"l\">key</th><th>observed</th><th>baseline</th><th class=\"l\">message</th></tr>\n"
            for a in alerts.rows.sorted(by: { $0.time < $1.time }).prefix(500) {
                html += "<tr><td class=\"l\">\(esc(a.time))</td><td class=\"l\">\(esc(a.rule))</td><td class=\"l\">\(esc(a.severity))</td>"
                html += "<td class=\"l\">\(esc(a.key))</td><td>\(num(a.observed))</td><td>\(num(a.baseline))</td><td class=\"l\">\(esc(a.message))</td></tr>\n"
            }
            html += "</table>\n"
        }
        html += "<p><small>darknet-sensor \(esc(report.version))</small></p>\n</body></html>\n"
        return html
    }

    /// A line chart: the sensor on the left scale, the feed on its own scale, alert ticks at the bottom.
    static func chart(sensor: [(String, Double)], feed: [(String, Double)]?, alertTimes: [String]) -> String {
        let width = 1000.0, height = 260.0, left = 60.0, bottom = 30.0, top = 10.0
        guard !sensor.isEmpty else { return "<p>No data.</p>\n" }
        let n = sensor.count
        func x(_ i: Int) -> Double { n == 1 ? left : left + Double(i) * (width - left - 10) / Double(n - 1) }
        func path(_ points: [(String, Double)], cssClass: String) -> String {
            let maxValue = max(points.map(\.1).max() ?? 1, 1)
            var d = ""
            for (i, point) in points.enumerated() {
                let y = top + (height - top - bottom) * (1 - point.1 / maxValue)
                d += (i == 0 ? "M" : "L") + String(format: "%.1f,%.1f ", x(i), y)
            }
            return "<path class=\"\(cssClass)\" d=\"\(d)\"/>\n"
        }
        let maxSensor = max(sensor.map(\.1).max() ?? 1, 1)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"100%\" role=\"img\">\n"
        svg += "<line class=\"axis\" x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - 10)\" y2=\"\(height - bottom)\"/>\n"
        svg += "<line class=\"axis\" x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\"/>\n"
        svg += "<text x=\"\(left - 5)\" y=\"\(top + 10)\" text-anchor=\"end\" font-size=\"11\">\(Int(maxSensor))</text>\n"
        svg += "<text x=\"\(left - 5)\" y=\"\(height - bottom)\" text-anchor=\"end\" font-size=\"11\">0</text>\n"
        svg += "<text x=\"\(left)\" y=\"\(height - 8)\" font-size=\"11\">\(esc(sensor.first!.0))</text>\n"
        svg += "<text x=\"\(width - 10)\" y=\"\(height - 8)\" text-anchor=\"end\" font-size=\"11\">\(esc(sensor.last!.0))</text>\n"
        svg += path(sensor, cssClass: "sensor")
        if let feed { svg += path(feed, cssClass: "feed") }
        // Alerts: a tick at the bucket whose start is the latest not after the alert's time.
        let starts = sensor.map(\.0)
        var ticks = Set<Int>()
        for time in alertTimes {
            var lo = 0, hi = starts.count - 1, found = 0
            while lo <= hi {
                let mid = (lo + hi) / 2
                if starts[mid] <= time { found = mid; lo = mid + 1 } else { hi = mid - 1 }
            }
            ticks.insert(found)
        }
        for i in ticks.sorted() {
            svg += String(format: "<rect class=\"alert\" x=\"%.1f\" y=\"%.1f\" width=\"3\" height=\"8\"/>\n", x(i) - 1.5, height - bottom - 8)
        }
        svg += "</svg>\n"
        return svg
    }

    /// HTML text escaping (&, <, >, ", ').
    public static func esc(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                if c.value < 0x20 && c != "\n" && c != "\t" { out += "&#\(c.value);" } else { out.unicodeScalars.append(c) }
            }
        }
        return out
    }

    static func num(_ v: Double?) -> String { v.map { String(format: "%.3f", $0) } ?? "-" }
    static func sci(_ v: Double?) -> String { v.map { String(format: "%.2g", $0) } ?? "-" }
}
