import Correlation
import Foundation

extension FleetReport {
    /// `--format text`: the same figures as the JSON, as aligned tables.
    public func text() -> String {
        var lines: [String] = []
        lines.append("fleet report  \(from) … \(to) (end excluded), \(bucketSeconds) s buckets, \(buckets.count) buckets, \(networks.count) networks")
        lines.append("")
        lines.append("networks")
        lines.append("  " + Self.pad("name", 18) + Self.pad("kind", 8) + Self.pad("total", 16) + Self.pad("covered", 46)
                     + Self.pad("with data", 11) + Self.pad("zero", 7) + "distinct sources")
        for n in networks {
            let covered = n.covered.isEmpty ? "nothing" : n.covered.map { "\($0.first) … \($0.last)" }.joined(separator: ", ")
            let s = n.sources
            let sources: String
            switch s.method {
            case "exact": sources = "\(Self.count(s.estimate ?? 0)) (exact)"
            case "hyperloglog":
                sources = "\(Self.count(s.estimate ?? 0)) [\(Self.count(s.lower ?? 0)), \(Self.count(s.upper ?? 0))] (HyperLogLog, \(s.named) named)"
            default: sources = "at least \(s.named) (registers do not merge)"
            }
            lines.append("  " + Self.pad(n.name, 18) + Self.pad(n.kind, 8) + Self.pad(Self.count(n.total), 16) + Self.pad(covered, 46)
                         + Self.pad("\(n.bucketsWithData)", 11) + Self.pad("\(n.zeroBuckets)", 7) + sources)
        }

        lines.append("")
        lines.append("series (packets for a sensor, events for a feed; - not covered, 0 covered and nothing stored)")
        let columnWidth = max(12, (networks.map(\.name.count).max() ?? 0) + 2)
        lines.append("  " + Self.pad("bucket", 22) + networks.map { Self.pad($0.name, columnWidth) }.joined())
        for row in buckets {
            lines.append("  " + Self.pad(row.start, 22) + row.values.map { Self.pad($0.map(Self.count) ?? "-", columnWidth) }.joined())
        }

        lines.append("")
        lines.append("correlation (pairs over the buckets both covered; lag positive when the second network leads)")
        lines.append("  " + Self.pad("a ~ b", 30) + Self.pad("pearson", 10) + Self.pad("spearman", 10) + Self.pad("p", 11) + Self.pad("r of diffs", 12)
                     + Self.pad("p adj (n_eff)", 20) + Self.pad("buckets (both)", 16) + "best lag (r, buckets, both)")
        func f(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "-" }
        func g(_ v: Double?) -> String { v.map { String(format: "%.2g", $0) } ?? "-" }
        for p in correlation {
            let name = Self.pad("\(p.a) ~ \(p.b)", 30)
            guard let s = p.correlation else {
                lines.append("  " + name + "never covered the same bucket")
                continue
            }
            if s.insufficientOverlap {
                lines.append("  " + name + "insufficient overlap: \(s.overlapBuckets) of \(s.buckets) buckets non-zero on both sides, at least \(s.minOverlapBuckets) needed")
                continue
            }
            let best = s.bestLagBuckets.map { lag in
                "\(lag > 0 ? "+" : "")\(lag) (\(f(s.bestLagPearson)), \(s.bestLagPairs ?? 0), \(s.bestLagOverlapBuckets ?? 0))"
            } ?? "-"
            let adjusted = s.pValuePearsonAdjusted.map { "\(g($0)) (\(s.effectiveBuckets.map { String(format: "%.1f", $0) } ?? "-"))" } ?? "-"
            lines.append("  " + name + Self.pad(f(s.pearson), 10) + Self.pad(f(s.spearman), 10) + Self.pad(g(s.pValuePearson), 11)
                         + Self.pad(f(s.pearsonDifferenced), 12) + Self.pad(adjusted, 20) + Self.pad("\(s.buckets) (\(s.overlapBuckets))", 16) + best)
        }
        lines.append("  (at least \(minOverlapBuckets) buckets non-zero on both sides for a coefficient; lags −\(maxLag) … +\(maxLag); r of diffs: Pearson of bucket-to-bucket changes; p adj: p of pearson with n_eff independent buckets)")

        for (title, rows) in [("ports (TCP and UDP destination ports, by combined share)", ports), ("source countries (by combined share)", countries)] {
            lines.append("")
            lines.append(title)
            lines.append("  " + Self.pad("", 8) + networks.map { Self.pad($0.name, 24) }.joined())
            for r in rows {
                lines.append("  " + Self.pad(r.key, 8) + r.counts.indices.map { i in
                    Self.pad(Self.count(r.counts[i]) + (r.shares[i].map { String(format: " (%.1f%%)", $0 * 100) } ?? ""), 24)
                }.joined())
            }
        }

        lines.append("")
        lines.append("source overlap")
        lines.append("  " + Self.pad("a ~ b", 30) + Self.pad("method", 13) + Self.pad("shared [interval]", 30) + Self.pad("a only", 12)
                     + Self.pad("b only", 12) + Self.pad("jaccard", 9) + "named by both")
        for o in overlap {
            let shared = (o.shared.map(Self.count) ?? "-") + " [\(Self.count(o.sharedLower)), \(o.sharedUpper.map(Self.count) ?? "?")]"
            lines.append("  " + Self.pad("\(o.a) ~ \(o.b)", 30) + Self.pad(o.method, 13) + Self.pad(shared, 30)
                         + Self.pad(o.aOnly.map(Self.count) ?? "-", 12) + Self.pad(o.bOnly.map(Self.count) ?? "-", 12)
                         + Self.pad(o.jaccard.map { String(format: "%.3f", $0) } ?? "-", 9) + "\(o.namedShared)")
        }

        lines.append("")
        lines.append("locality (seen by this network only)")
        for l in locality {
            var line = "  " + Self.pad(l.network, 18) + "\(l.portCount) ports"
            if !l.ports.isEmpty { line += ": " + l.ports.prefix(15).map { "\($0.port) (\(Self.count($0.count)))" }.joined(separator: " ") }
            lines.append(line)
            if let count = l.sourceCount {
                lines.append("  " + Self.pad("", 18) + "\(count) sources" + (l.sources.isEmpty ? "" : ": " + l.sources.prefix(15).joined(separator: " ")))
            }
        }

        lines.append("")
        lines.append("alerts (\(alertCount))")
        for a in alerts.prefix(200) {
            lines.append("  " + Self.pad(a.time, 22) + Self.pad(a.sensor, 18) + Self.pad(a.rule, 30) + Self.pad(a.severity, 10) + a.message)
        }
        if alerts.count > 200 { lines.append("  (\(alerts.count - 200) more in --format json)") }

        lines.append("")
        for note in notes { lines.append("note: " + note) }
        return lines.joined(separator: "\n") + "\n"
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    /// A count: whole numbers without a fraction, others with one decimal.
    static func count(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(format: "%.1f", v)
    }
}
