/// Exact overlap of the sets two sides saw (sources, ports, countries…).
public struct SetOverlap: Sendable, Equatable, Codable {
    public var shared: Int
    public var sensorOnly: Int
    public var feedOnly: Int
    /// |A ∩ B| / |A ∪ B|; nil when both sets are empty (0/0).
    public var jaccard: Double?

    public init(shared: Int, sensorOnly: Int, feedOnly: Int) {
        precondition(shared >= 0 && sensorOnly >= 0 && feedOnly >= 0)
        self.shared = shared
        self.sensorOnly = sensorOnly
        self.feedOnly = feedOnly
        let union = shared + sensorOnly + feedOnly
        self.jaccard = union == 0 ? nil : Double(shared) / Double(union)
    }

    public var sensorTotal: Int { shared + sensorOnly }
    public var feedTotal: Int { shared + feedOnly }
    public var union: Int { shared + sensorOnly + feedOnly }

    enum CodingKeys: String, CodingKey {
        case shared, jaccard
        case sensorOnly = "sensor_only"
        case feedOnly = "feed_only"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(shared: try c.decode(Int.self, forKey: .shared),
                  sensorOnly: try c.decode(Int.self, forKey: .sensorOnly),
                  feedOnly: try c.decode(Int.self, forKey: .feedOnly))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(shared, forKey: .shared)
        try c.encode(sensorOnly, forKey: .sensorOnly)
        try c.encode(feedOnly, forKey: .feedOnly)
        try c.encode(jaccard, forKey: .jaccard)
    }
}

/// A cardinality estimate and its relative standard error (e.g. a HyperLogLog with m
/// registers: 1.04/√m), supplied by the caller.
public struct CardinalityEstimate: Sendable, Equatable, Codable {
    public var value: Double
    public var relativeStandardError: Double

    public init(value: Double, relativeStandardError: Double) {
        precondition(value.isFinite && value >= 0, "estimate must be finite and non-negative")
        precondition(relativeStandardError.isFinite && relativeStandardError >= 0,
                     "relative standard error must be finite and non-negative")
        self.value = value
        self.relativeStandardError = relativeStandardError
    }

    /// Absolute standard error σ = rse · value.
    public var standardError: Double { relativeStandardError * value }

    enum CodingKeys: String, CodingKey {
        case value
        case relativeStandardError = "relative_standard_error"
    }
}

/// A figure with the interval it is guaranteed to lie in when every input estimate lies
/// within z standard errors of its truth.
public struct BoundedEstimate: Sendable, Equatable, Codable {
    public var estimate: Double
    public var lower: Double
    public var upper: Double

    public init(estimate: Double, lower: Double, upper: Double) {
        self.estimate = estimate
        self.lower = lower
        self.upper = upper
    }

    public func contains(_ value: Double) -> Bool { lower <= value && value <= upper }
}

/// Overlap estimated from cardinality sketches; see `Overlap.estimated`.
public struct EstimatedOverlap: Sendable, Equatable, Codable {
    public var shared: BoundedEstimate
    public var sensorOnly: BoundedEstimate
    public var feedOnly: BoundedEstimate
    public var jaccard: BoundedEstimate?
    /// The number of standard errors the bounds were built with.
    public var z: Double

    enum CodingKeys: String, CodingKey {
        case shared, jaccard, z
        case sensorOnly = "sensor_only"
        case feedOnly = "feed_only"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(shared, forKey: .shared)
        try c.encode(sensorOnly, forKey: .sensorOnly)
        try c.encode(feedOnly, forKey: .feedOnly)
        try c.encode(jaccard, forKey: .jaccard)
        try c.encode(z, forKey: .z)
    }
}

public enum Overlap {
    /// Exact overlap of two sets.
    public static func exact<T: Hashable>(sensor: Set<T>, feed: Set<T>) -> SetOverlap {
        let shared = sensor.count <= feed.count
            ? sensor.reduce(0) { $0 + (feed.contains($1) ? 1 : 0) }
            : feed.reduce(0) { $0 + (sensor.contains($1) ? 1 : 0) }
        return SetOverlap(shared: shared, sensorOnly: sensor.count - shared, feedOnly: feed.count - shared)
    }

    /// Exact overlap of the distinct elements of two sequences.
    public static func exact<S: Sequence, F: Sequence>(sensor: S, feed: F) -> SetOverlap
    where S.Element: Hashable, F.Element == S.Element {
        exact(sensor: Set(sensor), feed: Set(feed))
    }

    /// Overlap from three cardinality estimates: |A| (sensor), |B| (feed) and |A ∪ B|
    /// (e.g. the merge of the two sketches), by inclusion–exclusion:
    ///
    ///     shared      |A ∩ B| = |A| + |B| − |A ∪ B|      bound ± (hA + hB + hU)
    ///     sensor-only |A \ B| = |A ∪ B| − |B|             bound ± (hU + hB)
    ///     feed-only   |B \ A| = |A ∪ B| − |A|             bound ± (hU + hA)
    ///     Jaccard     J = |A ∩ B| / |A ∪ B|               [shared.lower / (Û + hU),
    ///                                                      shared.upper / (Û − hU)]
    ///
    /// Assumption: each estimate X̂ is within z standard errors of its truth X, the
    /// standard error being relative to the truth: |X̂ − X| ≤ z·rse·X. Then
    /// X ≤ X̂ / (1 − z·rse), so |X̂ − X| ≤ hX with
    ///
    ///     hX = z · rse · X̂ / (1 − z · rse)          (requires z · rse < 1)
    ///
    /// which is computable from the estimate alone (using z·rse·X̂ instead would be too
    /// narrow whenever X̂ underestimates). Under that assumption the intervals above hold
    /// deterministically, whatever the correlation between the three errors (the union
    /// sketch is built from the same elements, so they are correlated; the triangle
    /// inequality |eA + eB − eU| ≤ |eA| + |eB| + |eU| does not care). Coverage is therefore
    /// at least the probability that all three estimates are within z·σ (for HyperLogLog's
    /// near-normal errors and z = 3: ≥ 1 − 3·0.0027 ≈ 99.2%).
    ///
    /// Each interval is then clipped to what the truth must satisfy under the same
    /// assumption: 0 ≤ |A ∩ B| ≤ min(Â + hA, B̂ + hB), 0 ≤ |A \ B| ≤ Â + hA,
    /// 0 ≤ |B \ A| ≤ B̂ + hB, Jaccard within [0, 1]; point estimates are clipped into
    /// their intervals. The Jaccard entry is nil when Û − hU ≤ 0 (the union might be empty).
    public static func estimated(
        sensor a: CardinalityEstimate, feed b: CardinalityEstimate, union u: CardinalityEstimate,
        z: Double = 3
    ) -> EstimatedOverlap {
        precondition(z.isFinite && z >= 0, "z must be finite and non-negative")
        let ha = halfWidth(a, z: z), hb = halfWidth(b, z: z), hu = halfWidth(u, z: z)

        let sharedUpperCap = min(a.value + ha, b.value + hb)
        let shared = bounded(a.value + b.value - u.value, halfWidth: ha + hb + hu,
                             floor: 0, cap: sharedUpperCap)
        let sensorOnly = bounded(u.value - b.value, halfWidth: hu + hb,
                                 floor: 0, cap: a.value + ha)
        let feedOnly = bounded(u.value - a.value, halfWidth: hu + ha,
                               floor: 0, cap: b.value + hb)

        var jaccard: BoundedEstimate? = nil
        let unionLow = u.value - hu, unionHigh = u.value + hu
        if unionLow > 0 {
            let point = u.value > 0 ? shared.estimate / u.value : 0
            let lower = min(1, max(0, shared.lower / unionHigh))
            let upper = min(1, max(0, shared.upper / unionLow))
            jaccard = BoundedEstimate(estimate: min(upper, max(lower, point)), lower: lower, upper: upper)
        }
        return EstimatedOverlap(shared: shared, sensorOnly: sensorOnly, feedOnly: feedOnly,
                                jaccard: jaccard, z: z)
    }

    /// hX = z·rse·X̂ / (1 − z·rse): the largest |X̂ − X| when |X̂ − X| ≤ z·rse·X.
    public static func halfWidth(_ e: CardinalityEstimate, z: Double) -> Double {
        let k = z * e.relativeStandardError
        precondition(k < 1, "z × relative standard error must be below 1 for a finite bound")
        return k * e.value / (1 - k)
    }

    private static func bounded(_ point: Double, halfWidth: Double, floor: Double, cap: Double) -> BoundedEstimate {
        let lower = max(floor, point - halfWidth)
        let upper = max(lower, min(cap, point + halfWidth))
        return BoundedEstimate(estimate: min(upper, max(lower, point)), lower: lower, upper: upper)
    }
}
