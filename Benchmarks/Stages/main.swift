// darknet-stages: times the two halves of `darknetd analyze` separately, so
// docs/benchmarks.md can say where the time goes without a profiler.
//
//   darknet-stages FILE [RUNS [SNAPSHOT_DIR]]
//
// 1. read + decode: the capture thread's work (libpcap, decoder, ring) with a
//    consumer that only counts, i.e. the pipeline's ceiling whatever the
//    aggregation costs;
// 2. aggregate: `Aggregator.consume` alone, over records decoded beforehand
//    into memory, in runs of 4096 (the pipeline's drain limit), default
//    configuration (sketch mode); then the bucket close at the end. The same
//    with `exact` set (`analyze --exact`), alternating with it.
//    Then in 2 shards: the records dealt beforehand by `ShardRouter` into one
//    array per shard, each shard's `Aggregator` on its own thread (wall time
//    until both are done), then the merge of their buckets and tables
//    (`BucketMerger`, `Aggregator.merged`) timed apart.
//
// 3. snapshot: the daemon's state snapshot of the last run's aggregator
//    (its rolling windows, and an alert stage fed every bucket of the
//    longest window), timed in two parts: building the payload, which is
//    all the daemon's aggregation thread does, and encoding + writing it,
//    which the daemon's snapshot writer thread does. A capture that spans
//    24 hours fills the default 1,440-bucket window, as a long-running
//    daemon's is (`darknetd generate --rate 20 --packets 2000000`). With
//    SNAPSHOT_DIR the snapshot is left there as `darknetd.state`, for a daemon
//    to start from (`Benchmarks/soak.sh --state`).
//
// Each stage runs RUNS times (default 3); the median is printed as packets/s.
//
// With STAGES_ONLY=aggregate in the environment only the read into memory and
// the sketch-mode aggregation run (RUNS times), so a profiler (`perf stat`,
// `perf record`) sees the aggregation alone.
import Aggregation
import Capture
import Daemon
import Decoding
import Foundation
import Pipeline
import Synchronization

struct Collector: RecordConsumer {
    var records: [PacketRecord] = []
    mutating func consume(_ span: Span<PacketRecord>) {
        for i in span.indices { records.append(span[i]) }
    }
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

func seconds(_ body: () -> Void) -> Double {
    let start = ContinuousClock.now
    body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: darknet-stages FILE [RUNS [SNAPSHOT_DIR]]\n".utf8))
    exit(2)
}
let path = arguments[1]
let runs = arguments.count > 2 ? max(1, Int(arguments[2]) ?? 3) : 3

func open() -> PacketSource {
    do {
        return try PacketSource.openFiles([path])
    } catch {
        FileHandle.standardError.write(Data("darknet-stages: \(error)\n".utf8))
        exit(1)
    }
}

var packets = 0
var readTimes: [Double] = []
let aggregateOnly = ProcessInfo.processInfo.environment["STAGES_ONLY"] == "aggregate"
for _ in 0..<(aggregateOnly ? 0 : runs) {
    var counters = PacketCounters()
    readTimes.append(seconds { _ = Pipeline().run(source: open(), consumer: &counters) })
    packets = Int(counters.total)
}

var collector = Collector()
collector.records.reserveCapacity(packets)
_ = Pipeline().run(source: open(), consumer: &collector)
let records = collector.records

var aggregateTimes: [Double] = []
var exactTimes: [Double] = []
var closeTimes: [Double] = []
var daemonConfig = AggregationConfig()
daemonConfig.maxSeriesBuckets = daemonConfig.windowBuckets.max() ?? 1440  // as SensorDaemon sets it
var exactConfig = daemonConfig
exactConfig.exact = true
var last = Aggregator(config: daemonConfig)
/// Times `Aggregator.consume` over all records, in runs of 4096.
func aggregate(_ aggregator: inout Aggregator) -> Double {
    seconds {
        records.withUnsafeBufferPointer { all in
            var start = 0
            while start < all.count {
                let end = min(start + 4096, all.count)
                aggregator.consume(UnsafeBufferPointer(rebasing: all[start..<end]).span)
                start = end
            }
        }
    }
}
if aggregateOnly {
    for _ in 0..<runs {
        var aggregator = Aggregator(config: daemonConfig)
        aggregateTimes.append(aggregate(&aggregator))
        aggregator.finish()
    }
    print("packets\t\(records.count)")
    let time = median(aggregateTimes)
    print("aggregate\t\(String(format: "%.3f", time)) s\t\(String(format: "%.0f", time / Double(records.count) * 1e9)) ns/packet")
    exit(0)
}
for _ in 0..<runs {
    // Sketch mode (the default) and --exact alternate, so drift hits both alike.
    var exactAggregator = Aggregator(config: exactConfig)
    exactTimes.append(aggregate(&exactAggregator))
    var aggregator = Aggregator(config: daemonConfig)
    aggregateTimes.append(aggregate(&aggregator))
    closeTimes.append(seconds { aggregator.finish() })
    last = aggregator
}

// Two shards on pre-decoded records: each shard's records in its own array
// (as its ring would hand them), both shards started together.
let shardCount = 2
let router = ShardRouter(shards: shardCount, seed: daemonConfig.hashSeed, bySourcePrefix: daemonConfig.aggregateSourcePrefixes)
var dealt = Array(repeating: [PacketRecord](), count: shardCount)
for r in records { dealt[router.shard(of: r)].append(r) }
let shardConfig = daemonConfig.shardConfiguration(shards: shardCount)
final class ShardRun: @unchecked Sendable {
    // @unchecked: each thread writes only its own slot; read after the joins.
    var results: [Aggregator?]
    init(_ n: Int) { results = Array(repeating: nil, count: n) }
}
var shardTimes: [Double] = []
var mergeTimes: [Double] = []
for _ in 0..<runs {
    let run = ShardRun(shardCount)
    let ready = DispatchSemaphore(value: 0), go = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
    for shard in 0..<shardCount {
        let mine = dealt[shard]
        let thread = Thread {
            var aggregator = Aggregator(config: shardConfig)  // tables allocated before the clock starts
            ready.signal()
            go.wait()
            mine.withUnsafeBufferPointer { all in
                var start = 0
                while start < all.count {
                    let end = min(start + 4096, all.count)
                    aggregator.consume(UnsafeBufferPointer(rebasing: all[start..<end]).span)
                    start = end
                }
            }
            aggregator.finish()
            run.results[shard] = aggregator
            done.signal()
        }
        thread.start()
    }
    for _ in 0..<shardCount { ready.wait() }
    shardTimes.append(seconds {
        for _ in 0..<shardCount { go.signal() }
        for _ in 0..<shardCount { done.wait() }
    })
    mergeTimes.append(seconds {
        var merger = BucketMerger(shards: shardCount, config: daemonConfig)
        var shards: [Aggregator] = []
        for i in 0..<shardCount {
            var a = run.results[i].take()!
            merger.add(a.takeClosedBuckets(), shard: i)
            shards.append(a)
        }
        _ = Aggregator.merged(shards, summaries: merger.takeAll(), config: daemonConfig)
    })
}

var stage = AlertStage()
for summary in last.windows.max(by: { $0.capacity < $1.capacity })?.summaries ?? [] { stage.process(summary) }
let keep = arguments.count > 3
let directory = keep ? arguments[3] : FileManager.default.temporaryDirectory.appendingPathComponent("darknet-stages-\(getpid())").path
try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { if !keep { try? FileManager.default.removeItem(atPath: directory) } }
let store = SnapshotStore<DaemonSnapshot>(directory: directory, name: "darknetd.state", payloadVersion: DaemonSnapshot.payloadVersion)
var buildTimes: [Double] = []
var saveTimes: [Double] = []
var snapshotBytes = 0
for _ in 0..<runs {
    var payload: DaemonSnapshot?
    buildTimes.append(seconds { payload = DaemonSnapshot(savedNs: 0, windows: last.windows, alerts: stage.engine, gate: stage.gate) })
    var failure: SnapshotError?
    saveTimes.append(seconds {
        do throws(SnapshotError) { try store.save(payload!) } catch { failure = error }
    })
    if let failure {
        FileHandle.standardError.write(Data("darknet-stages: snapshot not saved: \(failure)\n".utf8))
        exit(1)
    }
    snapshotBytes = (try? FileManager.default.attributesOfItem(atPath: store.path)[.size] as? Int) ?? 0
}

/// The median run, and the fastest and slowest in ns a packet: the read
/// stage's runs on this VM fall into two groups (~95 and ~200 ns a packet,
/// see docs/benchmarks.md), which a median alone would hide.
func line(_ name: String, _ times: [Double]) -> String {
    let time = median(times)
    let rate = Double(records.count) / time
    let perPacket = { (t: Double) in String(format: "%.0f", t / Double(records.count) * 1e9) }
    return "\(name)\t\(String(format: "%.3f", time)) s\t\(String(format: "%.2f", rate / 1e6)) M packets/s\t\(perPacket(time)) ns/packet"
        + "\t(runs \(perPacket(times.min()!))–\(perPacket(times.max()!)))"
}
print("packets\t\(records.count)")
print(line("read+decode", readTimes))
print(line("aggregate", aggregateTimes))
print(line("aggregate --exact", exactTimes))
print(line("aggregate, \(shardCount) shards", shardTimes)
      + String(format: "\t(speed-up over one thread %.2f×; shards got %@ records)",
               median(aggregateTimes) / median(shardTimes), dealt.map { String($0.count) }.joined(separator: "/")))
print("merge of \(shardCount) shards\t\(String(format: "%.3f", median(mergeTimes))) s")
print("close\t\(String(format: "%.3f", median(closeTimes))) s")
let windowBuckets = last.windows.map { "\($0.summaries.count)" }.joined(separator: "+")
print("snapshot build\t\(String(format: "%.6f", median(buildTimes))) s\t(windows \(windowBuckets) buckets)")
print("snapshot save\t\(String(format: "%.3f", median(saveTimes))) s\t\(snapshotBytes) bytes"
      + "\t(runs \(String(format: "%.3f", saveTimes.min()!))–\(String(format: "%.3f", saveTimes.max()!)) s)")
