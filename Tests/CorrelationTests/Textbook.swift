import Foundation

/// Independent reference computations, deliberately using different algorithms from the
/// module: one-pass raw sums for Pearson, O(n²) counting for ranks, and the closed-form
/// Student-t distribution (Abramowitz & Stegun 26.7.3/26.7.4) instead of the incomplete
/// beta continued fraction.
enum Textbook {
    /// r = (nΣxy − ΣxΣy) / √((nΣx² − (Σx)²)(nΣy² − (Σy)²)).
    static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        let n = Double(x.count)
        var sx = 0.0, sy = 0.0, sxx = 0.0, syy = 0.0, sxy = 0.0
        for (a, b) in zip(x, y) {
            sx += a; sy += b; sxx += a * a; syy += b * b; sxy += a * b
        }
        return (n * sxy - sx * sy) / sqrt((n * sxx - sx * sx) * (n * syy - sy * sy))
    }

    /// Rank of each value = (number of smaller values) + (number of equal values + 1) / 2,
    /// counted by brute force.
    static func ranks(_ x: [Double]) -> [Double] {
        x.map { v in
            let less = x.filter { $0 < v }.count
            let equal = x.filter { $0 == v }.count
            return Double(less) + Double(equal + 1) / 2
        }
    }

    static func spearman(_ x: [Double], _ y: [Double]) -> Double {
        pearson(ranks(x), ranks(y))
    }

    /// Two-sided P(|T| ≥ |t|) for Student's t with integer ν, by the finite series:
    /// θ = atan(|t|/√ν);
    /// ν even: P(|T| < t) = sin θ · Σ_{j=0}^{ν/2−1} a_j cos^{2j} θ, a_0 = 1, a_j = a_{j−1}(2j−1)/(2j);
    /// ν odd:  P(|T| < t) = (2/π)(θ + sin θ cos θ · Σ_{j=0}^{(ν−3)/2} b_j cos^{2j} θ),
    ///         b_0 = 1, b_j = b_{j−1}(2j)/(2j+1) (the sum is empty for ν = 1).
    static func studentTwoSided(t: Double, nu: Int) -> Double {
        let theta = atan(abs(t) / sqrt(Double(nu)))
        let s = sin(theta), c = cos(theta), c2 = c * c
        if nu % 2 == 0 {
            var a = 1.0, power = 1.0, sum = 0.0
            for j in 0..<(nu / 2) {
                if j > 0 { a *= Double(2 * j - 1) / Double(2 * j); power *= c2 }
                sum += a * power
            }
            return 1 - s * sum
        } else {
            var b = 1.0, power = 1.0, sum = 0.0
            if nu >= 3 {
                for j in 0...((nu - 3) / 2) {
                    if j > 0 { b *= Double(2 * j) / Double(2 * j + 1); power *= c2 }
                    sum += b * power
                }
            }
            return 1 - (2 / Double.pi) * (theta + s * c * sum)
        }
    }

    static func correlationPValue(r: Double, n: Int) -> Double {
        let nu = n - 2
        let t = r * sqrt(Double(nu) / (1 - r * r))
        return studentTwoSided(t: t, nu: nu)
    }
}

/// The study's table 8 (daily event counts of five Hong Kong-targeting address groups),
/// read from ../shared/study next to the repository; nil when absent.
struct HKTable {
    let dates: [String]
    let names: [String]
    let columns: [[Double]]

    static let path: String = {
        // #filePath = <repo>/Tests/CorrelationTests/Textbook.swift
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.deletingLastPathComponent()
            .appendingPathComponent("shared/study/table8_hk_daily_counts.tsv").path
    }()

    static let shared: HKTable? = load()

    static func load() -> HKTable? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.split(separator: "\t").map(String.init) }
        guard let header = lines.first, header.count >= 2 else { return nil }
        let names = Array(header.dropFirst())
        var dates: [String] = []
        var columns = [[Double]](repeating: [], count: names.count)
        for row in lines.dropFirst() {
            guard row.count == header.count else { return nil }
            dates.append(row[0])
            for (i, cell) in row.dropFirst().enumerated() {
                guard let v = Double(cell) else { return nil }
                columns[i].append(v)
            }
        }
        return HKTable(dates: dates, names: names, columns: columns)
    }
}
