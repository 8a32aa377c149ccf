import Aggregation
import Capture
import Decoding
import Feed
import GeoIP
import Pipeline
import Sketches

/// `darknetd analyze` without its arguments: capture files through the pipeline (one
/// aggregator, or shards by source), the alert stage run offline on every closed bucket,
/// and the comparison with a feed when one is given. The command parses its options into
/// this, prints what comes back and writes the export; nothing here prints.
public struct OfflineAnalysis {
    /// A feed read whole, on the sensor's clock.
    public struct FeedInput: Sendable {
        public var events: [FeedEvent]
        public var status: FeedStatus
        /// Events without a time of their own that `FeedTimeSource.event` left out.
        public var undated: UInt64

        /// Reads the whole feed at `path`; `format` as `FeedFormat.named` takes it ("auto", …).
        public static func read(path: String, format: String, time: FeedTimeSource) throws(FeedError) -> FeedInput {
            let read = try FeedReader.readAll(path: path, format: FeedFormat.named(format), clock: FeedTimeSource.undatedClock)
            let (events, undated) = time.resolve(read.events, arrivalNs: FeedReader.wallClockNs())
            return FeedInput(events: events, status: read.status, undated: undated)
        }
    }

    /// What the analysis gives back for printing.
    public struct Result {
        public var run: Pipeline.Run
        public var aggregator: Aggregator
        public var report: AnalysisReport
        public var alerts: AlertsSection
        /// Present when a feed was given.
        public var comparison: FeedComparison?
    }

    public var config: AggregationConfig
    /// Aggregation threads (shards); 1 runs one aggregator on the calling thread's pipeline.
    public var threads = 1
    /// Records that are not darknet traffic are counted, not aggregated.
    public var darknet = DarknetPrefixes.everything
    public var feed: FeedInput?
    /// The comparison's options (its `undatedEvents` is taken from `feed`).
    public var comparison = FeedComparison.Options()
    /// At most this many ports and top sources in the report (nil: every port, 100 sources).
    public var top: Int?
    /// Gets every closed bucket as it closes, oldest first, on the thread that runs the
    /// analysis (the fleet backfill, `analyze --db`).
    public var onClosedBucket: ((BucketSummary) -> Void)?

    public init(config: AggregationConfig) {
        self.config = config
    }

    public func run(source: PacketSource, geoip: GeoIPDatabase?) -> Result {
        var config = self.config
        if feed != nil {
            // The comparison reads per-source tables and every kept port of each bucket.
            config.exactSourceCap = 1_000_000
            config.seriesTopPorts = max(config.seriesTopPorts, config.bucketPorts)
        }
        config.closedBucketQueue = 1024  // drained after every batch by the alert stage
        var stage = AlertStage()
        var feedSeries: FeedSeries?
        if let feed {
            var series = FeedSeries(timeBuckets: TimeBuckets(lengthSeconds: config.bucketSeconds, utcOffsetSeconds: config.utcOffsetSeconds),
                                    hasher: config.hashSeed)
            series.add(feed.events)
            stage.setFeed(series)
            feedSeries = series
        }
        let run: Pipeline.Run
        let aggregator: Aggregator
        // One shard or several: the same drain loop (`ShardWorker`) and merge.
        var pipeline = ShardedPipeline(shards: max(1, threads))
        pipeline.darknet = darknet
        (run, aggregator) = pipeline.run(source: source, config: config, geoip: geoip, onBucket: { stage.process($0); onClosedBucket?($0) })
        stage.finish()
        var report = AnalysisReport(aggregator: aggregator, run: run, live: false, topPorts: top, topSources: top ?? 100)
        let alerts = AlertsSection(stage)
        report.extraMembers.append(("alerts", { StreamingJSON.writeArray(alerts.rows, to: $0) }))
        var comparison: FeedComparison?
        if let feed, let series = feedSeries {
            var options = self.comparison
            options.undatedEvents = feed.undated
            let result = FeedComparison(aggregator: aggregator, feed: series, status: feed.status, options: options)
            result.addMembers(to: &report)
            comparison = result
        }
        return Result(run: run, aggregator: aggregator, report: report, alerts: alerts, comparison: comparison)
    }
}
