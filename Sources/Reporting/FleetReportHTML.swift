import Correlation
import Foundation
import Interchange

/// `darknetd fleet report --format html`: one self-contained page (inline CSS
/// and SVG, no script, nothing fetched) laid out for a 1400 px wide window:
/// the networks' series on one labelled time axis, per-port and per-country
/// bar charts of each network's share, a port × time heat map per network,
/// the correlation, overlap and locality tables and the alerts on the same
/// time axis. Every name from the database is escaped.
extension FleetReport {
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
    static func color(_ i: Int) -> String { palette[i % palette.count] }

    /// Plot geometry shared by every chart: a 1300-unit-wide view box, drawn at 100 % of a ≤ 1340 px column.
    static let chartWidth = 1300.0
    static let plotLeft = 170.0
    static let plotRight = 20.0
    static var plotWidth: Double { chartWidth - plotLeft - plotRight }

    public func html() -> String {
        let esc = HTMLReport.esc
        var h = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>darknet-sensor fleet report</title>
        <style>
        body{font:14px/1.4 system-ui,sans-serif;margin:20px auto;padding:0 20px;color:#222;max-width:1340px}
        h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ccc}
        table{border-collapse:collapse;margin:.5em 0;font-size:13px}td,th{padding:2px 8px;text-align:right;border-bottom:1px solid #eee;vertical-align:top;white-space:nowrap}
        td.w{white-space:normal;text-align:left;min-width:12em}
        th{background:#f4f4f4;white-space:normal}td.l,th.l{text-align:left}td.list{text-align:left;white-space:normal;overflow-wrap:anywhere;max-width:760px;font-family:ui-monospace,monospace;font-size:12px}
        svg{display:block;max-width:100%;height:auto}svg text{font-size:11px;fill:#333}.axis{stroke:#999;stroke-width:1}.grid{stroke:#eee;stroke-width:1}
        .legend span.key{display:inline-block;width:.9em;height:.9em;margin:0 .3em -.1em 1em;border-radius:2px}
        .note{color:#555;font-size:13px}
        </style></head><body>
        <h1>darknet-sensor fleet report</h1>

        """
        h += "<p>\(esc(from)) … \(esc(to)) (end excluded) · \(bucketSeconds) s buckets · \(buckets.count) buckets · \(networks.count) networks · \(alertCount) alerts</p>\n"
        h += legend()

        // Networks.
        h += "<h2>Networks</h2>\n<table><tr><th class=\"l\">network</th><th class=\"l\">kind</th><th>total</th><th class=\"l\">covered</th><th>buckets with data</th><th>zero buckets</th><th>distinct sources</th><th class=\"l\">how</th></tr>\n"
        for n in networks {
            let covered = n.covered.isEmpty ? "nothing" : n.covered.map { "\($0.first) … \($0.last)" }.joined(separator: ", ")
            let s = n.sources
            let figure: String
            switch s.method {
            case "exact": figure = Self.count(s.estimate ?? 0)
            case "hyperloglog": figure = "\(Self.count(s.estimate ?? 0)) [\(Self.count(s.lower ?? 0)), \(Self.count(s.upper ?? 0))]"
            default: figure = "≥ \(s.named)"
            }
            let how = s.method == "exact" ? "exact" : s.method == "hyperloglog" ? String(format: "HyperLogLog, ±%.1f%% per standard error; %d named by rows", (s.relativeStandardError ?? 0) * 100, s.named) : "registers do not merge"
            h += "<tr><td class=\"l\">\(esc(n.name))</td><td class=\"l\">\(n.kind)</td><td>\(Self.count(n.total))</td><td class=\"w\">\(esc(covered))</td>"
            h += "<td>\(n.bucketsWithData)</td><td>\(n.zeroBuckets)</td><td>\(figure)</td><td class=\"w\">\(esc(how))</td></tr>\n"
        }
        h += "</table>\n"

        h += "<h2>Series</h2>\n<p class=\"note\">Packets (sensors) or events (feeds) per bucket, each network on its own scale, all on one time axis. A gap is a bucket the network did not cover; 0 is a covered bucket with nothing stored.</p>\n"
        h += seriesChart()

        h += "<h2>Correlation</h2>\n" + correlationTable()

        h += "<h2>Ports</h2>\n<p class=\"note\">Each network's share of its own total, for the ports with the largest combined share (TCP and UDP destination ports).</p>\n"
        h += barChart(ports, label: { "port \($0)" })
        h += shareTable(ports, keyTitle: "port")
        h += "<h2>Source countries</h2>\n"
        h += barChart(countries, label: { $0 })
        h += shareTable(countries, keyTitle: "country")

        h += "<h2>Ports over time</h2>\n<p class=\"note\">Per network, the count of each port per bucket; darker is more, on a logarithmic scale relative to that network's busiest cell. Grey: not covered.</p>\n"
        h += heatMapChart()

        h += "<h2>Overlap of sources</h2>\n" + overlapTable()
        h += "<h2>Locality</h2>\n" + localityTable()

        h += "<h2>Alerts</h2>\n" + alertsTimeline()
        if !alerts.isEmpty {
            h += "<table><tr><th class=\"l\">time</th><th class=\"l\">sensor</th><th class=\"l\">rule</th><th class=\"l\">severity</th><th class=\"l\">key</th><th class=\"l\">message</th></tr>\n"
            for a in alerts.prefix(300) {
                h += "<tr><td class=\"l\">\(esc(a.time))</td><td class=\"l\">\(esc(a.sensor))</td><td class=\"l\">\(esc(a.rule))</td><td class=\"l\">\(esc(a.severity))</td>"
                h += "<td class=\"l\">\(esc(a.key))</td><td class=\"w\">\(esc(a.message))</td></tr>\n"
            }
            h += "</table>\n"
            if alertCount > min(300, alerts.count) { h += "<p class=\"note\">\(alertCount - min(300, alerts.count)) more alerts are not listed (--format json lists up to the limit).</p>\n" }
        }

        h += "<h2>Notes</h2>\n"
        for note in notes { h += "<p class=\"note\">\(esc(note))</p>\n" }
        h += "</body></html>\n"
        return h
    }

    func legend() -> String {
        var h = "<p class=\"legend\">"
        for (i, n) in networks.enumerated() {
            h += "<span class=\"key\" style=\"background:\(Self.color(i))\"></span>\(HTMLReport.esc(n.name)) (\(n.kind))"
        }
        return h + "</p>\n"
    }

    /// x of the centre of bucket `i` of `n`.
    static func x(_ i: Int, of n: Int) -> Double { plotLeft + (Double(i) + 0.5) * plotWidth / Double(max(n, 1)) }

    /// The shared time axis under a chart at `y`: about eight labelled ticks.
    func timeAxis(y: Double) -> String {
        let n = buckets.count
        var s = "<line class=\"axis\" x1=\"\(Self.plotLeft)\" y1=\"\(y)\" x2=\"\(Self.chartWidth - Self.plotRight)\" y2=\"\(y)\"/>\n"
        guard n > 0 else { return s }
        let step = max(1, Int((Double(n) / 8).rounded(.up)))
        for i in stride(from: 0, to: n, by: step) {
            let x = Self.x(i, of: n)
            let label = bucketSeconds % 86_400 == 0 ? String(buckets[i].start.prefix(10)) : String(buckets[i].start.prefix(16)).replacingOccurrences(of: "T", with: " ")
            s += String(format: "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x, y, x, y + 4)
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%@</text>\n", x, y + 16, HTMLReport.esc(label))
        }
        return s
    }

    func seriesChart() -> String {
        let n = buckets.count
        guard n > 0, !networks.isEmpty else { return "<p>No data.</p>\n" }
        let panel = 70.0, gap = 14.0, top = 8.0
        let height = top + Double(networks.count) * (panel + gap) + 26
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(Self.chartWidth)) \(Int(height))\" role=\"img\" aria-label=\"series\">\n"
        for (k, network) in networks.enumerated() {
            let y0 = top + Double(k) * (panel + gap)
            let values = buckets.map { $0.values[k] }
            let maxValue = max(values.compactMap { $0 }.max() ?? 0, 1)
            s += String(format: "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", Self.plotLeft, y0, Self.chartWidth - Self.plotRight, y0)
            s += String(format: "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", Self.plotLeft, y0 + panel, Self.chartWidth - Self.plotRight, y0 + panel)
            s += String(format: "<text x=\"8\" y=\"%.1f\" style=\"fill:%@;font-weight:600\">%@</text>\n", y0 + 14, Self.color(k), HTMLReport.esc(String(network.name.prefix(22))))
            s += String(format: "<text x=\"8\" y=\"%.1f\">%@</text>\n", y0 + 28, network.kind == "sensor" ? "packets" : "events")
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%@</text>\n", Self.plotLeft - 6, y0 + 10, Self.count(maxValue))
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">0</text>\n", Self.plotLeft - 6, y0 + panel)
            var d = ""
            var penDown = false
            for (i, v) in values.enumerated() {
                guard let v else { penDown = false; continue }
                let y = y0 + panel * (1 - v / maxValue)
                d += String(format: "%@%.1f,%.1f ", penDown ? "L" : "M", Self.x(i, of: n), y)
                penDown = true
            }
            if !d.isEmpty {
                s += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(Self.color(k))\" stroke-width=\"1.6\"/>\n"
            }
            if n <= 120 {
                for (i, v) in values.enumerated() {
                    guard let v else { continue }
                    s += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\" fill=\"%@\"/>", Self.x(i, of: n), y0 + panel * (1 - v / maxValue), Self.color(k))
                }
                s += "\n"
            }
        }
        s += timeAxis(y: top + Double(networks.count) * (panel + gap) - gap + 2)
        return s + "</svg>\n"
    }

    func barChart(_ rows: [ShareRow], label: (String) -> String) -> String {
        let shown = Array(rows.prefix(15))
        guard !shown.isEmpty, !networks.isEmpty else { return "<p>None.</p>\n" }
        let height = 240.0, top = 10.0, bottom = 40.0
        let maxShare = max(shown.flatMap { $0.shares.compactMap { $0 } }.max() ?? 0, 1e-9)
        let groupWidth = Self.plotWidth / Double(shown.count)
        let barWidth = max(2, min(22, (groupWidth - 8) / Double(networks.count)))
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(Self.chartWidth)) \(Int(height))\" role=\"img\" aria-label=\"shares\">\n"
        let plotHeight = height - top - bottom
        for tick in [0.0, 0.5, 1.0] {
            let y = top + plotHeight * (1 - tick)
            s += String(format: "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", Self.plotLeft, y, Self.chartWidth - Self.plotRight, y)
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.1f%%</text>\n", Self.plotLeft - 6, y + 4, tick * maxShare * 100)
        }
        s += String(format: "<text x=\"8\" y=\"%.1f\">share of each</text><text x=\"8\" y=\"%.1f\">network's total</text>\n", top + 14, top + 28)
        for (g, row) in shown.enumerated() {
            let gx = Self.plotLeft + Double(g) * groupWidth + (groupWidth - barWidth * Double(networks.count)) / 2
            for (k, share) in row.shares.enumerated() {
                guard let share, share > 0 else { continue }
                let barHeight = plotHeight * share / maxShare
                s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\"><title>%@ %@: %.2f%%</title></rect>",
                            gx + Double(k) * barWidth, top + plotHeight - barHeight, barWidth - 1, barHeight, Self.color(k),
                            HTMLReport.esc(networks[k].name), HTMLReport.esc(row.key), share * 100)
            }
            s += String(format: "\n<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%@</text>\n", Self.plotLeft + (Double(g) + 0.5) * groupWidth,
                        height - bottom + 16, HTMLReport.esc(label(row.key)))
        }
        s += String(format: "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", Self.plotLeft, top + plotHeight, Self.chartWidth - Self.plotRight, top + plotHeight)
        return s + "</svg>\n"
    }

    func shareTable(_ rows: [ShareRow], keyTitle: String) -> String {
        var h = "<table><tr><th class=\"l\">\(keyTitle)</th>"
        for n in networks { h += "<th>\(HTMLReport.esc(n.name))</th>" }
        h += "</tr>\n"
        for r in rows {
            h += "<tr><td class=\"l\">\(HTMLReport.esc(r.key))</td>"
            for i in r.counts.indices {
                h += "<td>\(Self.count(r.counts[i]))" + (r.shares[i].map { String(format: " (%.1f%%)", $0 * 100) } ?? "") + "</td>"
            }
            h += "</tr>\n"
        }
        return h + "</table>\n"
    }

    func heatMapChart() -> String {
        let n = buckets.count
        let ports = heatMap.ports
        guard n > 0, !ports.isEmpty, !networks.isEmpty else { return "<p>No ports.</p>\n" }
        let cell = 13.0, title = 18.0, gap = 12.0
        let block = title + Double(ports.count) * cell + gap
        let height = Double(networks.count) * block + 26
        let cellWidth = Self.plotWidth / Double(n)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(Self.chartWidth)) \(Int(height))\" role=\"img\" aria-label=\"port heat map\">\n"
        for (k, network) in networks.enumerated() {
            let y0 = Double(k) * block
            s += String(format: "<text x=\"8\" y=\"%.1f\" style=\"fill:%@;font-weight:600\">%@ (%@)</text>\n", y0 + 13, Self.color(k),
                        HTMLReport.esc(String(network.name.prefix(40))), network.kind)
            let values = heatMap.values[k]
            let peak = values.flatMap { $0.compactMap { $0 } }.max() ?? 0
            for (p, port) in ports.enumerated() {
                let y = y0 + title + Double(p) * cell
                s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%d</text>", Self.plotLeft - 6, y + cell - 3, Int(port))
                for (i, v) in values[p].enumerated() {
                    let fill: String
                    if let v {
                        let level = peak > 0 && v > 0 ? log1p(v) / log1p(peak) : 0
                        fill = String(format: "rgba(8,48,107,%.3f)", 0.06 + 0.94 * level)
                    } else {
                        fill = "#e4e4e4"
                    }
                    s += String(format: "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%@\"/>", Self.plotLeft + Double(i) * cellWidth, y,
                                max(cellWidth - (cellWidth > 4 ? 1 : 0), 0.5), cell - 1, fill)
                }
                s += "\n"
            }
        }
        s += timeAxis(y: Double(networks.count) * block - gap + 4)
        return s + "</svg>\n"
    }

    func correlationTable() -> String {
        let esc = HTMLReport.esc
        func f(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "-" }
        func g(_ v: Double?) -> String { v.map { String(format: "%.2g", $0) } ?? "-" }
        var h = "<table><tr><th class=\"l\">a</th><th class=\"l\">b</th><th class=\"l\">compared</th><th>Pearson</th><th>Spearman</th><th>p (Pearson)</th><th>r of differences</th><th>p adjusted (n<sub>eff</sub>)</th><th>buckets</th><th>both non-zero</th><th>best lag</th><th>r at best lag</th><th>its buckets</th><th>both non-zero</th></tr>\n"
        for p in correlation {
            h += "<tr><td class=\"l\">\(esc(p.a))</td><td class=\"l\">\(esc(p.b))</td>"
            guard let s = p.correlation, let first = p.comparedFirst, let last = p.comparedLast else {
                h += "<td class=\"l\" colspan=\"12\">never covered the same bucket</td></tr>\n"
                continue
            }
            h += "<td class=\"w\">\(esc(String(first.prefix(16)))) … \(esc(String(last.prefix(16))))</td>"
            if s.insufficientOverlap {
                h += "<td class=\"w\" colspan=\"5\">insufficient overlap (at least \(s.minOverlapBuckets) needed)</td><td>\(s.buckets)</td><td>\(s.overlapBuckets)</td><td>-</td><td>-</td><td>-</td><td>-</td></tr>\n"
                continue
            }
            h += "<td>\(f(s.pearson))</td><td>\(f(s.spearman))</td><td>\(g(s.pValuePearson))</td><td>\(f(s.pearsonDifferenced))</td>"
            h += "<td>\(g(s.pValuePearsonAdjusted))\(s.effectiveBuckets.map { String(format: " (%.1f)", $0) } ?? "")</td><td>\(s.buckets)</td><td>\(s.overlapBuckets)</td>"
            h += "<td>\(s.bestLagBuckets.map { $0 > 0 ? "+\($0)" : String($0) } ?? "-")</td><td>\(f(s.bestLagPearson))</td>"
            h += "<td>\(s.bestLagPairs.map(String.init) ?? "-")</td><td>\(s.bestLagOverlapBuckets.map(String.init) ?? "-")</td></tr>\n"
        }
        h += "</table>\n<p class=\"note\">Each pair over the longest run of buckets both networks covered. Positive lag: b leads (what a saw in bucket t + lag, b saw in bucket t); with a sensor and a feed the sensor is a, so positive means the feed leads, as in <code>analyze --feed</code>. Lags −\(maxLag) … +\(maxLag). A coefficient needs at least \(minOverlapBuckets) buckets where both are non-zero. The r of differences correlates bucket-to-bucket changes, which a shared trend does not inflate; the adjusted p-value counts autocorrelated buckets as n<sub>eff</sub> independent ones.</p>\n"
        return h
    }

    func overlapTable() -> String {
        let esc = HTMLReport.esc
        var h = "<table><tr><th class=\"l\">a</th><th class=\"l\">b</th><th class=\"l\">method</th><th>shared</th><th>interval</th><th>a only</th><th>b only</th><th>Jaccard</th><th>named by both</th><th class=\"l\">how</th></tr>\n"
        for o in overlap {
            h += "<tr><td class=\"l\">\(esc(o.a))</td><td class=\"l\">\(esc(o.b))</td><td class=\"l\">\(o.method)</td><td>\(o.shared.map(Self.count) ?? "-")</td>"
            h += "<td>[\(Self.count(o.sharedLower)), \(o.sharedUpper.map(Self.count) ?? "?")]</td><td>\(o.aOnly.map(Self.count) ?? "-")</td><td>\(o.bOnly.map(Self.count) ?? "-")</td>"
            h += "<td>\(o.jaccard.map { String(format: "%.3f", $0) } ?? "-")</td><td>\(o.namedShared)</td><td class=\"w\">\(esc(o.note))</td></tr>\n"
        }
        return h + "</table>\n"
    }

    func localityTable() -> String {
        let esc = HTMLReport.esc
        var h = "<table><tr><th class=\"l\">network</th><th>ports only here</th><th class=\"l\">busiest of them</th><th>sources only here</th><th class=\"l\">some of them</th></tr>\n"
        for l in locality {
            h += "<tr><td class=\"l\">\(esc(l.network))</td><td>\(l.portCount)</td><td class=\"list\">"
            h += esc(l.ports.prefix(20).map { "\($0.port) (\(Self.count($0.count)))" }.joined(separator: " ")) + "</td>"
            h += "<td>\(l.sourceCount.map(String.init) ?? "-")</td><td class=\"list\">"
            h += l.sourceCount == nil ? "not listable (sensor: registers only)" : esc(l.sources.prefix(20).joined(separator: " "))
            h += "</td></tr>\n"
        }
        return h + "</table>\n"
    }

    func alertsTimeline() -> String {
        let sensors = networks.filter { $0.kind == "sensor" }.map(\.name)
        guard !sensors.isEmpty else { return "<p>No sensor in the report.</p>\n" }
        if alerts.isEmpty { return "<p>No alert in the range.</p>\n" }
        let lane = 22.0
        let height = Double(sensors.count) * lane + 30
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(Self.chartWidth)) \(Int(height))\" role=\"img\" aria-label=\"alerts\">\n"
        guard let fromNs = RFC3339.parse(from), let toNs = RFC3339.parse(to), toNs > fromNs else { return "" }
        for (k, name) in sensors.enumerated() {
            let y = Double(k) * lane + 4
            s += String(format: "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", Self.plotLeft, y + lane / 2, Self.chartWidth - Self.plotRight, y + lane / 2)
            s += String(format: "<text x=\"8\" y=\"%.1f\">%@</text>\n", y + lane / 2 + 4, HTMLReport.esc(String(name.prefix(22))))
        }
        for a in alerts {
            guard let k = sensors.firstIndex(of: a.sensor), let t = RFC3339.parse(a.time) else { continue }
            let x = Self.plotLeft + Double(t - fromNs) / Double(toNs - fromNs) * Self.plotWidth
            let color = ["emergency", "alert", "critical", "error"].contains(a.severity) ? "#d62728" : a.severity == "warning" ? "#ff7f0e" : "#1f77b4"
            s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"3\" height=\"14\" fill=\"%@\"><title>%@ %@ %@</title></rect>\n", x - 1.5, Double(k) * lane + 8, color,
                        HTMLReport.esc(a.time), HTMLReport.esc(a.rule), HTMLReport.esc(a.message))
        }
        s += timeAxis(y: Double(sensors.count) * lane + 6)
        return s + "</svg>\n<p class=\"note\">Each mark is an alert (red: error or worse, orange: warning, blue: lower), on the time axis of the series above.</p>\n"
    }
}
