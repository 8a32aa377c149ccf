import Decoding

// The alert stage's learned state, Codable for the daemon's snapshots (`SnapshotStore` in
// Daemon): surge baselines, remembered scanners, correlation state, and each gate's dedup
// table and rate window.
//
// Each type encodes its configuration with its state, so a decoded value is exactly the one
// encoded. To restart with a changed configuration (SIGHUP, new thresholds) while keeping
// what was learned, decode the old value and pass it to `restoring(state:config:)`, which
// applies the new configuration and re-establishes its bounds.
//
// Dictionaries are encoded as arrays sorted by key, so equal states encode to equal bytes.
// Decoding validates: bounded tables within their bounds, counters consistent, baselines
// finite; anything else is a `DecodingError`.

private func corrupt(_ path: [any CodingKey], _ what: String) -> DecodingError {
    DecodingError.dataCorrupted(DecodingError.Context(codingPath: path, debugDescription: what))
}

extension Baseline {
    /// Finite, non-negative mean and deviation, a non-negative sample count, and nothing
    /// learned before the first sample: what `learn` can produce.
    var isConsistentState: Bool {
        mean.isFinite && deviation.isFinite && mean >= 0 && deviation >= 0 && samples >= 0
            && (samples > 0 || (mean == 0 && deviation == 0))
    }
}

/// `x` clamped into Int64 without trapping (configuration values may be extreme).
private func saturatingInt64(_ x: Int) -> Int64 { Int64(clamping: x) }

// MARK: - Plain values

extension PortKey: Codable {
    private enum StateKeys: String, CodingKey { case ipProtocol = "proto", port }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: StateKeys.self)
        self.init(try c.decode(UInt8.self, forKey: .ipProtocol), try c.decode(UInt16.self, forKey: .port))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: StateKeys.self)
        try c.encode(ipProtocol, forKey: .ipProtocol)
        try c.encode(port, forKey: .port)
    }
}

extension SurgeFinding: Codable {
    private enum StateKeys: String, CodingKey {
        case rule, severity, bucketIndex, startNs, ipProtocol = "proto", port, packets, sources
        case packetBaseline, packetDeviation, sourceBaseline, topSources
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: StateKeys.self)
        self.init(rule: try c.decode(AlertRuleID.self, forKey: .rule), severity: try c.decode(Severity.self, forKey: .severity),
                  bucketIndex: try c.decode(Int64.self, forKey: .bucketIndex), startNs: try c.decode(Int64.self, forKey: .startNs),
                  ipProtocol: try c.decode(UInt8.self, forKey: .ipProtocol), port: try c.decode(UInt16.self, forKey: .port),
                  packets: try c.decode(UInt64.self, forKey: .packets), sources: try c.decode(UInt64.self, forKey: .sources),
                  packetBaseline: try c.decode(Double.self, forKey: .packetBaseline),
                  packetDeviation: try c.decode(Double.self, forKey: .packetDeviation),
                  sourceBaseline: try c.decode(Double.self, forKey: .sourceBaseline),
                  topSources: try c.decode([SourceContribution].self, forKey: .topSources))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: StateKeys.self)
        try c.encode(rule, forKey: .rule)
        try c.encode(severity, forKey: .severity)
        try c.encode(bucketIndex, forKey: .bucketIndex)
        try c.encode(startNs, forKey: .startNs)
        try c.encode(ipProtocol, forKey: .ipProtocol)
        try c.encode(port, forKey: .port)
        try c.encode(packets, forKey: .packets)
        try c.encode(sources, forKey: .sources)
        try c.encode(packetBaseline, forKey: .packetBaseline)
        try c.encode(packetDeviation, forKey: .packetDeviation)
        try c.encode(sourceBaseline, forKey: .sourceBaseline)
        try c.encode(topSources, forKey: .topSources)
    }
}

extension FeedFigure: Codable {
    private enum StateKeys: String, CodingKey { case events, baseline, deviation, surge }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: StateKeys.self)
        self.init(events: try c.decode(UInt64.self, forKey: .events), baseline: try c.decode(Double.self, forKey: .baseline),
                  deviation: try c.decode(Double.self, forKey: .deviation), surge: try c.decode(Bool.self, forKey: .surge))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: StateKeys.self)
        try c.encode(events, forKey: .events)
        try c.encode(baseline, forKey: .baseline)
        try c.encode(deviation, forKey: .deviation)
        try c.encode(surge, forKey: .surge)
    }
}

// MARK: - SurgeRules

extension SurgeRules: Codable {
    /// One port's (packets, sources) baselines.
    struct PortBaselines: Codable {
        var key: PortKey
        var packets: Baseline
        var sources: Baseline
    }

    private enum StateKeys: String, CodingKey {
        case config, fixed, tracked, lastBucketIndex, bucketLengthNs, buckets, rejectedBuckets, evictions
    }

    /// Rejects fixed baselines other than the configuration's (UDP/53 and the reflection
    /// ports), tracked ports that are fixed, listed twice or beyond `maxTrackedPorts`,
    /// inconsistent baselines, and a bucket clock that is half set or non-positive.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: StateKeys.self)
        self.init(config: try c.decode(SurgeRulesConfig.self, forKey: .config))
        let fixedList = try c.decode([PortBaselines].self, forKey: .fixed)
        let trackedList = try c.decode([PortBaselines].self, forKey: .tracked)
        var fixedState: [PortKey: SeriesPair] = [:]
        for entry in fixedList {
            guard fixed[entry.key] != nil, fixedState[entry.key] == nil else {
                throw DecodingError.dataCorruptedError(forKey: .fixed, in: c,
                                                       debugDescription: "unexpected or repeated fixed port \(entry.key)")
            }
            guard entry.packets.isConsistentState, entry.sources.isConsistentState else {
                throw DecodingError.dataCorruptedError(forKey: .fixed, in: c, debugDescription: "inconsistent baseline of \(entry.key)")
            }
            fixedState[entry.key] = SeriesPair(packets: entry.packets, sources: entry.sources)
        }
        guard fixedState.count == fixed.count else {
            throw DecodingError.dataCorruptedError(forKey: .fixed, in: c, debugDescription: "fixed ports missing")
        }
        guard trackedList.count <= max(0, config.maxTrackedPorts) else {
            throw DecodingError.dataCorruptedError(
                forKey: .tracked, in: c,
                debugDescription: "\(trackedList.count) tracked ports, at most \(max(0, config.maxTrackedPorts))")
        }
        var trackedState: [PortKey: SeriesPair] = [:]
        for entry in trackedList {
            guard fixed[entry.key] == nil, trackedState[entry.key] == nil else {
                throw DecodingError.dataCorruptedError(forKey: .tracked, in: c,
                                                       debugDescription: "fixed or repeated tracked port \(entry.key)")
            }
            guard entry.packets.isConsistentState, entry.sources.isConsistentState else {
                throw DecodingError.dataCorruptedError(forKey: .tracked, in: c, debugDescription: "inconsistent baseline of \(entry.key)")
            }
            trackedState[entry.key] = SeriesPair(packets: entry.packets, sources: entry.sources)
        }
        fixed = fixedState
        tracked = trackedState
        lastBucketIndex = try c.decodeIfPresent(Int64.self, forKey: .lastBucketIndex)
        bucketLengthNs = try c.decodeIfPresent(Int64.self, forKey: .bucketLengthNs)
        buckets = try c.decode(Int.self, forKey: .buckets)
        rejectedBuckets = try c.decode(UInt64.self, forKey: .rejectedBuckets)
        evictions = try c.decode(UInt64.self, forKey: .evictions)
        guard (lastBucketIndex == nil) == (bucketLengthNs == nil), (bucketLengthNs ?? 1) > 0, buckets >= 0,
              (buckets == 0) == (lastBucketIndex == nil) else {
            throw corrupt(c.codingPath, "inconsistent surge bucket clock")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: StateKeys.self)
        try c.encode(config, forKey: .config)
        func list(_ d: [PortKey: SeriesPair]) -> [PortBaselines] {
            d.keys.sorted().map { PortBaselines(key: $0, packets: d[$0]!.packets, sources: d[$0]!.sources) }
        }
        try c.encode(list(fixed), forKey: .fixed)
        try c.encode(list(tracked), forKey: .tracked)
        try c.encodeIfPresent(lastBucketIndex, forKey: .lastBucketIndex)
        try c.encodeIfPresent(bucketLengthNs, forKey: .bucketLengthNs)
        try c.encode(buckets, forKey: .buckets)
        try c.encode(rejectedBuckets, forKey: .rejectedBuckets)
        try c.encode(evictions, forKey: .evictions)
    }

    /// `state`'s baselines and bucket clock under `config`: every port keeps its learned
    /// baselines whichever rule now owns it (a port added to `reflectionPorts` takes its
    /// `port-surge` baselines along); `port-surge` baselines beyond the new
    /// `maxTrackedPorts` are evicted least active first (counted in `evictions`), and all of
    /// them are dropped when `portSurgeEnabled` is now false.
    public static func restoring(state: SurgeRules, config: SurgeRulesConfig) -> SurgeRules {
        var r = SurgeRules(config: config)
        r.lastBucketIndex = state.lastBucketIndex
        r.bucketLengthNs = state.bucketLengthNs
        r.buckets = state.buckets
        r.rejectedBuckets = state.rejectedBuckets
        r.evictions = state.evictions
        let learned = state.fixed.merging(state.tracked) { fixed, _ in fixed }
        for key in r.fixed.keys {
            if let pair = learned[key] { r.fixed[key] = pair }
        }
        guard config.portSurgeEnabled else { return r }
        for (key, pair) in learned where r.fixed[key] == nil { r.tracked[key] = pair }
        let excess = r.tracked.count - max(0, config.maxTrackedPorts)
        if excess > 0 {
            // The order `observe` evicts in: lowest packet mean, then fewest samples, then key.
            let victims = r.tracked
                .sorted { a, b in
                    if a.value.packets.mean != b.value.packets.mean { return a.value.packets.mean < b.value.packets.mean }
                    if a.value.packets.samples != b.value.packets.samples { return a.value.packets.samples < b.value.packets.samples }
                    return a.key < b.key
                }
                .prefix(excess)
            for v in victims { r.tracked[v.key] = nil }
            r.evictions += UInt64(excess)
        }
        return r
    }
}

// MARK: - EventRules

extension EventRules: Codable {
    struct FingerprintState: Codable {
        var tool: String
        var proto: UInt8
        var port: UInt16
    }

    struct TallyState: Codable {
        struct Tool: Codable {
            var tool: String
            var scanners: UInt64
        }
        var proto: UInt8
        var port: UInt16
        var scanners: UInt64
        var packets: UInt64
        var tools: [Tool]
        var top: [SourceContribution]
    }

    // `scanners` (per-source memory of an earlier version) is no longer read: such a
    // state restores with no remembered fingerprints rather than being refused.
    private enum StateKeys: String, CodingKey { case backscatter, scanCampaign, fingerprints, window, tallies, untrackedScans }

    /// Rejects a fingerprint listed twice, more fingerprints than `rememberedFingerprints`,
    /// a port tallied twice, more ports than `maxWindowPorts`, and tallies without a window.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: StateKeys.self)
        self.init(backscatter: try c.decode(BackscatterRuleConfig.self, forKey: .backscatter),
                  scanCampaign: try c.decode(ScanCampaignRuleConfig.self, forKey: .scanCampaign))
        let fingerprints = try c.decodeIfPresent([FingerprintState].self, forKey: .fingerprints) ?? []
        guard fingerprints.count <= max(1, scanCampaign.rememberedFingerprints) else {
            throw DecodingError.dataCorruptedError(
                forKey: .fingerprints, in: c,
                debugDescription: "\(fingerprints.count) remembered fingerprints, at most \(max(1, scanCampaign.rememberedFingerprints))")
        }
        for f in fingerprints {
            let fingerprint = Fingerprint(tool: f.tool, ipProtocol: f.proto, port: f.port)
            guard known.insert(fingerprint).inserted else {
                throw DecodingError.dataCorruptedError(forKey: .fingerprints, in: c, debugDescription: "fingerprint listed twice")
            }
            knownOrder.append(fingerprint)
        }
        window = try c.decodeIfPresent(Int64.self, forKey: .window)
        let tallies = try c.decodeIfPresent([TallyState].self, forKey: .tallies) ?? []
        guard tallies.count <= max(1, scanCampaign.maxWindowPorts), tallies.isEmpty || window != nil else {
            throw DecodingError.dataCorruptedError(forKey: .tallies, in: c, debugDescription: "inconsistent scan window")
        }
        for t in tallies {
            let tally = PortScanTally(scanners: t.scanners, packets: t.packets,
                                      tools: Dictionary(t.tools.map { ($0.tool, $0.scanners) }, uniquingKeysWith: +),
                                      top: Array(t.top.prefix(5)))
            guard self.tallies.updateValue(tally, forKey: PortKey(t.proto, t.port)) == nil else {
                throw DecodingError.dataCorruptedError(forKey: .tallies, in: c, debugDescription: "port tallied twice")
            }
        }
        untrackedScans = try c.decodeIfPresent(UInt64.self, forKey: .untrackedScans) ?? 0
    }

    /// The remembered fingerprints, oldest first (the order they are forgotten in), and the
    /// open window's tallies.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: StateKeys.self)
        try c.encode(backscatter, forKey: .backscatter)
        try c.encode(scanCampaign, forKey: .scanCampaign)
        let live = knownOrder[knownHead...].filter { known.contains($0) }
        try c.encode(live.map { FingerprintState(tool: $0.tool, proto: $0.ipProtocol, port: $0.port) }, forKey: .fingerprints)
        try c.encodeIfPresent(window, forKey: .window)
        try c.encode(tallyStates(), forKey: .tallies)
        try c.encode(untrackedScans, forKey: .untrackedScans)
    }

    func tallyStates() -> [TallyState] {
        tallies.keys.sorted().map { key in
            let t = tallies[key]!
            return TallyState(proto: key.ipProtocol, port: key.port, scanners: t.scanners, packets: t.packets,
                              tools: t.tools.sorted { $0.key < $1.key }.map { .init(tool: $0.key, scanners: $0.value) },
                              top: t.top)
        }
    }

    /// `state`'s remembered fingerprints and open window under new rule configurations: the
    /// oldest fingerprints beyond the new `rememberedFingerprints` are forgotten; a changed
    /// window length closes the open window without a summary.
    public static func restoring(state: EventRules, backscatter: BackscatterRuleConfig,
                                 scanCampaign: ScanCampaignRuleConfig) -> EventRules {
        var r = EventRules(backscatter: backscatter, scanCampaign: scanCampaign)
        let live = state.knownOrder[state.knownHead...].filter { state.known.contains($0) }
        for s in live.suffix(max(1, scanCampaign.rememberedFingerprints)) {
            r.known.insert(s)
            r.knownOrder.append(s)
        }
        if state.scanCampaign.windowNs == scanCampaign.windowNs {
            r.window = state.window
            for key in state.tallies.keys.sorted().prefix(max(1, scanCampaign.maxWindowPorts)) { r.tallies[key] = state.tallies[key] }
        }
        r.untrackedScans = state.untrackedScans
        return r
    }

    /// Forgets the open window if it starts at or before `startNs`: its summaries were
    /// already sent (by a process that ended after the snapshot it was restored from).
    /// Episodes still to come count in the next window, as any late episode does.
    mutating func dropWindow(ifStartingAtOrBefore startNs: Int64) {
        let windowNs = scanCampaign.windowNs
        guard let current = window, current.multipliedReportingOverflow(by: windowNs).partialValue <= startNs else { return }
        window = max(current, bucketIndex(startNs, windowNs)) + 1
        tallies = [:]
    }
}

// MARK: - Correlator

extension Correlator: Codable {
    struct FeedBaselineState: Codable {
        var port: UInt16
        var baseline: Baseline
    }

    struct FeedHistoryState: Codable {
        struct Port: Codable {
            var port: UInt16
            var figure: FeedFigure
        }
        var index: Int64
        var ports: [Port]
    }

    struct SensorHistoryState: Codable {
        var index: Int64
        var ports: [UInt16]
    }

    struct PendingFeedState: Codable {
        var index: Int64
        var startNs: Int64
        var port: UInt16
        var figure: FeedFigure
    }

    private enum StateKeys: String, CodingKey {
        case config, feedBaselines, feedHistory, sensorHistory, pendingSensor, pendingFeed
        case gridNs, sensorLatest, feedLatest, sensorBuckets, feedBuckets
        case expired, overflow, undecided, rejectedFeedBuckets, feedEvictions
    }

    /// Rejects more feed baselines than `maxTrackedFeedPorts`, more pending verdicts than
    /// `maxPending`, repeated ports or buckets, history after the newest bucket or further
    /// back than pruning keeps, inconsistent baselines and a non-positive grid.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: StateKeys.self)
        self.init(config: try c.decode(CorrelationConfig.self, forKey: .config))
        func fail(_ key: StateKeys, _ what: String) -> DecodingError {
            DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: what)
        }

        let baselines = try c.decode([FeedBaselineState].self, forKey: .feedBaselines)
        guard baselines.count <= max(0, config.maxTrackedFeedPorts) else {
            throw fail(.feedBaselines, "\(baselines.count) feed baselines, at most \(max(0, config.maxTrackedFeedPorts))")
        }
        for b in baselines {
            guard feedBaselines[b.port] == nil else { throw fail(.feedBaselines, "feed port \(b.port) listed twice") }
            guard b.baseline.isConsistentState else { throw fail(.feedBaselines, "inconsistent baseline of feed port \(b.port)") }
            feedBaselines[b.port] = b.baseline
        }
        for h in try c.decode([FeedHistoryState].self, forKey: .feedHistory) {
            guard feedHistory[h.index] == nil else { throw fail(.feedHistory, "feed bucket \(h.index) listed twice") }
            var figures: [UInt16: FeedFigure] = [:]
            for p in h.ports {
                guard figures.updateValue(p.figure, forKey: p.port) == nil else {
                    throw fail(.feedHistory, "port \(p.port) listed twice in feed bucket \(h.index)")
                }
            }
            feedHistory[h.index] = figures
        }
        for h in try c.decode([SensorHistoryState].self, forKey: .sensorHistory) {
            guard sensorHistory[h.index] == nil else { throw fail(.sensorHistory, "sensor bucket \(h.index) listed twice") }
            sensorHistory[h.index] = Set(h.ports)
        }
        pendingSensor = try c.decode([SurgeFinding].self, forKey: .pendingSensor)
        pendingFeed = try c.decode([PendingFeedState].self, forKey: .pendingFeed).map { ($0.index, $0.startNs, $0.port, $0.figure) }
        guard pendingSensor.count <= max(1, config.maxPending), pendingFeed.count <= max(1, config.maxPending) else {
            throw fail(.pendingSensor, "more pending verdicts than max_pending \(max(1, config.maxPending))")
        }
        gridNs = try c.decodeIfPresent(Int64.self, forKey: .gridNs)
        sensorLatest = try c.decodeIfPresent(Int64.self, forKey: .sensorLatest)
        feedLatest = try c.decodeIfPresent(Int64.self, forKey: .feedLatest)
        sensorBuckets = try c.decode(Int.self, forKey: .sensorBuckets)
        feedBuckets = try c.decode(Int.self, forKey: .feedBuckets)
        expired = try c.decode(UInt64.self, forKey: .expired)
        overflow = try c.decode(UInt64.self, forKey: .overflow)
        undecided = try c.decode(UInt64.self, forKey: .undecided)
        rejectedFeedBuckets = try c.decode(UInt64.self, forKey: .rejectedFeedBuckets)
        feedEvictions = try c.decode(UInt64.self, forKey: .feedEvictions)

        guard (gridNs ?? 1) > 0 else { throw fail(.gridNs, "non-positive correlation grid") }
        guard sensorBuckets >= 0, feedBuckets >= 0,
              (sensorBuckets == 0) == (sensorLatest == nil), (feedBuckets == 0) == (feedLatest == nil),
              gridNs != nil || (sensorLatest == nil && feedLatest == nil) else {
            throw corrupt(c.codingPath, "inconsistent correlation bucket clock")
        }
        // History lies within [latest - 4·horizon, latest] (see `prune`); none without a clock.
        let latest = max(sensorLatest ?? Int64.min, feedLatest ?? Int64.min)
        let floor = latest.subtractingReportingOverflow(Self.historyReach(config) ?? Int64.max)
        let oldest = floor.overflow ? Int64.min : floor.partialValue
        let inRange = { (index: Int64) in latest != Int64.min && index <= latest && index >= oldest }
        guard feedHistory.keys.allSatisfy(inRange), sensorHistory.keys.allSatisfy(inRange) else {
            throw corrupt(c.codingPath, "correlation history outside the kept range")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: StateKeys.self)
        try c.encode(config, forKey: .config)
        try c.encode(feedBaselines.keys.sorted().map { FeedBaselineState(port: $0, baseline: feedBaselines[$0]!) },
                     forKey: .feedBaselines)
        try c.encode(feedHistory.keys.sorted().map { index in
            FeedHistoryState(index: index, ports: feedHistory[index]!.keys.sorted().map {
                FeedHistoryState.Port(port: $0, figure: feedHistory[index]![$0]!)
            })
        }, forKey: .feedHistory)
        try c.encode(sensorHistory.keys.sorted().map { SensorHistoryState(index: $0, ports: sensorHistory[$0]!.sorted()) },
                     forKey: .sensorHistory)
        try c.encode(pendingSensor, forKey: .pendingSensor)
        try c.encode(pendingFeed.map { PendingFeedState(index: $0.index, startNs: $0.startNs, port: $0.port, figure: $0.figure) },
                     forKey: .pendingFeed)
        try c.encodeIfPresent(gridNs, forKey: .gridNs)
        try c.encodeIfPresent(sensorLatest, forKey: .sensorLatest)
        try c.encodeIfPresent(feedLatest, forKey: .feedLatest)
        try c.encode(sensorBuckets, forKey: .sensorBuckets)
        try c.encode(feedBuckets, forKey: .feedBuckets)
        try c.encode(expired, forKey: .expired)
        try c.encode(overflow, forKey: .overflow)
        try c.encode(undecided, forKey: .undecided)
        try c.encode(rejectedFeedBuckets, forKey: .rejectedFeedBuckets)
        try c.encode(feedEvictions, forKey: .feedEvictions)
    }

    /// `state`'s baselines, history and pending verdicts under `config`: feed baselines
    /// beyond the new `maxTrackedFeedPorts` are evicted least active first (`feedEvictions`),
    /// pending verdicts beyond the new `maxPending` oldest first (`overflow`). History beyond
    /// a shorter new horizon is pruned by the next bucket.
    public static func restoring(state: Correlator, config: CorrelationConfig) -> Correlator {
        var r = Correlator(config: config)
        r.feedBaselines = state.feedBaselines
        r.feedHistory = state.feedHistory
        r.sensorHistory = state.sensorHistory
        r.pendingSensor = state.pendingSensor
        r.pendingFeed = state.pendingFeed
        r.gridNs = state.gridNs
        r.sensorLatest = state.sensorLatest
        r.feedLatest = state.feedLatest
        r.sensorBuckets = state.sensorBuckets
        r.feedBuckets = state.feedBuckets
        r.expired = state.expired
        r.overflow = state.overflow
        r.undecided = state.undecided
        r.rejectedFeedBuckets = state.rejectedFeedBuckets
        r.feedEvictions = state.feedEvictions
        let excess = r.feedBaselines.count - max(0, config.maxTrackedFeedPorts)
        if excess > 0 {
            // The order `observeFeed` evicts in.
            let victims = r.feedBaselines
                .sorted { a, b in
                    if a.value.mean != b.value.mean { return a.value.mean < b.value.mean }
                    if a.value.samples != b.value.samples { return a.value.samples < b.value.samples }
                    return a.key < b.key
                }
                .prefix(excess)
            for v in victims { r.feedBaselines[v.key] = nil }
            r.feedEvictions += UInt64(excess)
        }
        let cap = max(1, config.maxPending)
        if r.pendingSensor.count > cap {
            r.overflow += UInt64(r.pendingSensor.count - cap)
            r.pendingSensor.removeFirst(r.pendingSensor.count - cap)
        }
        if r.pendingFeed.count > cap {
            r.overflow += UInt64(r.pendingFeed.count - cap)
            r.pendingFeed.removeFirst(r.pendingFeed.count - cap)
        }
        // What `prune` keeps under the new lag and wait (it runs only when a bucket arrives).
        let latest = max(r.sensorLatest ?? Int64.min, r.feedLatest ?? Int64.min)
        if latest != Int64.min, let reach = Self.historyReach(config) {
            let lag = saturatingInt64(max(0, config.lagBuckets))
            var floor = latest.subtractingReportingOverflow(reach / 4).overflow ? Int64.min : latest - reach / 4
            for f in r.pendingSensor { floor = min(floor, f.bucketIndex &- lag) }
            for f in r.pendingFeed { floor = min(floor, f.index &- lag) }
            floor = max(floor, latest.subtractingReportingOverflow(reach).overflow ? Int64.min : latest - reach)
            for key in r.feedHistory.keys where key < floor { r.feedHistory[key] = nil }
            for key in r.sensorHistory.keys where key < floor { r.sensorHistory[key] = nil }
        }
        return r
    }

    /// `4 × horizon` (the furthest back `prune` ever keeps history), nil when it does not fit
    /// in an Int64 (then nothing is out of reach).
    static func historyReach(_ config: CorrelationConfig) -> Int64? {
        let lag = saturatingInt64(max(0, config.lagBuckets))
        let wait = saturatingInt64(max(0, config.maxWaitBuckets))
        let twiceLag = lag.multipliedReportingOverflow(by: 2)
        let horizon = twiceLag.partialValue.addingReportingOverflow(wait)
        guard !twiceLag.overflow, !horizon.overflow, horizon.partialValue <= Int64.max / 4 - 2 else { return nil }
        return 4 * (horizon.partialValue + 2)
    }
}

// MARK: - AlertEngine

extension AlertEngine: Codable {
    private enum StateKeys: String, CodingKey { case surges, events, correlator }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: StateKeys.self)
        self.init()
        surges = try c.decode(SurgeRules.self, forKey: .surges)
        events = try c.decode(EventRules.self, forKey: .events)
        correlator = try c.decode(Correlator.self, forKey: .correlator)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: StateKeys.self)
        try c.encode(surges, forKey: .surges)
        try c.encode(events, forKey: .events)
        try c.encode(correlator, forKey: .correlator)
    }

    /// The configuration the engine runs with (as encoded in its state).
    public var config: AlertEngineConfig {
        AlertEngineConfig(surges: surges.config, backscatter: events.backscatter, scanCampaign: events.scanCampaign,
                          correlation: correlator.config)
    }

    /// A decoded engine's learned state (baselines, remembered scanners, correlation
    /// history) under `config`, e.g. the thresholds of a configuration reloaded at restart:
    /// changed thresholds apply from the next bucket, nothing learned is lost beyond what
    /// the new bounds force out. See the `restoring` functions of each rule set.
    public static func restoring(state: AlertEngine, config: AlertEngineConfig) -> AlertEngine {
        var engine = AlertEngine(config: config)
        engine.surges = SurgeRules.restoring(state: state.surges, config: config.surges)
        engine.events = EventRules.restoring(state: state.events, backscatter: config.backscatter,
                                             scanCampaign: config.scanCampaign)
        engine.correlator = Correlator.restoring(state: state.correlator, config: config.correlation)
        return engine
    }
}

// MARK: - AlertGate

extension AlertGate: Codable {
    /// One remembered (rule, key) with its last delivery time; encoded oldest first.
    struct DedupState: Codable {
        var rule: AlertRuleID
        var key: String
        var lastNs: Int64
        var sequence: UInt64
    }

    private enum StateKeys: String, CodingKey {
        case config, dedup, nextSequence, window, deliveredInWindow, suppressedInWindow
        case deliveredBySeverity, suppressedBySeverity
        case submitted, delivered, deduplicated, rateLimited, summaries, dedupEvictions
    }

    /// Rejects a dedup table over `maxDedupKeys`, repeated keys, sequence numbers out of
    /// order or ahead of the counter, a rate window over its limit or without a clock, and
    /// counters that do not add up (`submitted == delivered + deduplicated + rateLimited`).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: StateKeys.self)
        self.init(config: try c.decode(AlertGateConfig.self, forKey: .config))
        func fail(_ key: StateKeys, _ what: String) -> DecodingError {
            DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: what)
        }
        let entries = try c.decode([DedupState].self, forKey: .dedup)
        nextSequence = try c.decode(UInt64.self, forKey: .nextSequence)
        guard entries.count <= max(1, config.maxDedupKeys) else {
            throw fail(.dedup, "\(entries.count) dedup keys, at most \(max(1, config.maxDedupKeys))")
        }
        var previous: UInt64 = 0
        for e in entries {
            guard e.sequence > previous, e.sequence <= nextSequence else {
                throw fail(.dedup, "dedup sequence \(e.sequence) out of order")
            }
            previous = e.sequence
            let key = DedupKey(rule: e.rule, key: e.key)
            guard table.updateValue(Entry(lastNs: e.lastNs, sequence: e.sequence), forKey: key) == nil else {
                throw fail(.dedup, "dedup key listed twice")
            }
            order.append((key, e.sequence))
        }
        window = try c.decodeIfPresent(Int64.self, forKey: .window)
        if let byClass = try c.decodeIfPresent([Int].self, forKey: .deliveredBySeverity) {
            deliveredInWindow = byClass
            suppressedInWindow = try c.decode([UInt64].self, forKey: .suppressedBySeverity)
        } else {
            // A state from before the per-severity budgets: one count for all.
            deliveredInWindow = [0, 0, try c.decode(Int.self, forKey: .deliveredInWindow)]
            suppressedInWindow = [0, 0, try c.decode(UInt64.self, forKey: .suppressedInWindow)]
        }
        submitted = try c.decode(UInt64.self, forKey: .submitted)
        delivered = try c.decode(UInt64.self, forKey: .delivered)
        deduplicated = try c.decode(UInt64.self, forKey: .deduplicated)
        rateLimited = try c.decode(UInt64.self, forKey: .rateLimited)
        summaries = try c.decode(UInt64.self, forKey: .summaries)
        dedupEvictions = try c.decode(UInt64.self, forKey: .dedupEvictions)
        guard deliveredInWindow.count == SeverityClass.allCases.count, suppressedInWindow.count == SeverityClass.allCases.count,
              deliveredInWindow.allSatisfy({ $0 >= 0 && $0 <= max(0, config.maxAlertsPerWindow) }),
              window != nil || (deliveredInWindow.allSatisfy { $0 == 0 } && suppressedInWindow.allSatisfy { $0 == 0 }) else {
            throw fail(.deliveredInWindow, "inconsistent rate window")
        }
        guard submitted == delivered &+ deduplicated &+ rateLimited else {
            throw fail(.submitted, "submitted alerts do not add up")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: StateKeys.self)
        try c.encode(config, forKey: .config)
        try c.encode(dedupEntriesOldestFirst(), forKey: .dedup)
        try c.encode(nextSequence, forKey: .nextSequence)
        try c.encodeIfPresent(window, forKey: .window)
        try c.encode(deliveredInWindow, forKey: .deliveredBySeverity)
        try c.encode(suppressedInWindow, forKey: .suppressedBySeverity)
        try c.encode(submitted, forKey: .submitted)
        try c.encode(delivered, forKey: .delivered)
        try c.encode(deduplicated, forKey: .deduplicated)
        try c.encode(rateLimited, forKey: .rateLimited)
        try c.encode(summaries, forKey: .summaries)
        try c.encode(dedupEvictions, forKey: .dedupEvictions)
    }

    func dedupEntriesOldestFirst() -> [DedupState] {
        table.map { DedupState(rule: $0.key.rule, key: $0.key.key, lastNs: $0.value.lastNs, sequence: $0.value.sequence) }
            .sorted { $0.sequence < $1.sequence }
    }

    /// `state`'s dedup table, rate window and counters under `config`: the oldest
    /// remembered keys beyond the new `maxDedupKeys` are forgotten (`dedupEvictions`).
    public static func restoring(state: AlertGate, config: AlertGateConfig) -> AlertGate {
        var g = AlertGate(config: config)
        let entries = state.dedupEntriesOldestFirst()
        let kept = entries.suffix(max(1, config.maxDedupKeys))
        for e in kept {
            let key = DedupKey(rule: e.rule, key: e.key)
            g.table[key] = Entry(lastNs: e.lastNs, sequence: e.sequence)
            g.order.append((key, e.sequence))
        }
        g.nextSequence = state.nextSequence
        g.window = state.window
        // A window already full stays full under a lower limit (and passes decoding).
        g.deliveredInWindow = state.deliveredInWindow.map { min($0, max(0, config.maxAlertsPerWindow)) }
        g.suppressedInWindow = state.suppressedInWindow
        g.submitted = state.submitted
        g.delivered = state.delivered
        g.deduplicated = state.deduplicated
        g.rateLimited = state.rateLimited
        g.summaries = state.summaries
        g.dedupEvictions = state.dedupEvictions + UInt64(entries.count - kept.count)
        return g
    }
}
