// fleet-load: many simulated sensors writing closed buckets into one
// PostgreSQL at once, for docs/fleet.md's "how many sensors one server
// sustains" (scripts/fleet-load.sh starts the server and runs this).
//
//   fleet-load --db URL --db-password-file FILE --pcap FILE --sensors N --buckets M [--pace SECONDS]
//
// The buckets are real: the capture is aggregated once (one shard, default
// configuration) and its closed buckets are the templates. Sensor i's bucket
// j is template j mod T moved to start j bucket lengths after a fixed day,
// so every sensor writes M distinct buckets under its own name (`load-i`),
// each in its own transaction through `BucketStore.write`, on its own
// connection, as a live sensor would.
//
// Without --pace every sensor writes its M buckets back to back: the total
// rate is what the server sustains with N writers at once, and N sensors with
// 60 s buckets need N / 60 buckets a second. With --pace S every sensor
// writes one bucket every S seconds (starts spread over the first S): the
// latency of a write at that offered load.
import Aggregation
import Capture
import Fleet
import Foundation
import Pipeline
import Synchronization

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("fleet-load: \(message)\n".utf8))
    exit(2)
}

var options: [String: String] = [:]
var rest = Array(CommandLine.arguments.dropFirst())
while !rest.isEmpty {
    let key = rest.removeFirst()
    guard key.hasPrefix("--"), !rest.isEmpty else { fail("usage: fleet-load --db URL --db-password-file FILE --pcap FILE --sensors N --buckets M [--pace SECONDS]") }
    options[String(key.dropFirst(2))] = rest.removeFirst()
}
guard let url = options["db"], let pcap = options["pcap"] else { fail("--db and --pcap are required") }
let sensors = Int(options["sensors"] ?? "100") ?? 0
let bucketCount = Int(options["buckets"] ?? "60") ?? 0
let pace = options["pace"].flatMap(Double.init)
guard sensors > 0, bucketCount > 0 else { fail("--sensors and --buckets must be positive") }

var settings: ConnectionSettings
do {
    settings = try ConnectionSettings(url: url)
    settings.password = try PasswordSource.read(file: options["db-password-file"])
} catch {
    fail("\(error)")
}

// The templates: the capture's closed buckets.
let source: PacketSource
do {
    source = try PacketSource.openFiles([pcap])
} catch {
    fail("\(error)")
}
let templates = Mutex<[BucketSummary]>([])
_ = ShardedPipeline(shards: 1).run(source: source, config: AggregationConfig(), geoip: nil,
                                   onBucket: { summary in templates.withLock { $0.append(summary) } })
let buckets = templates.withLock { $0 }
guard let lengthNs = buckets.first?.lengthNs else { fail("\(pcap) closed no bucket") }
// 2030-01-01T00:00:00Z: far from any real bucket, one day of partitions per 1,440 minutes.
let baseNs: Int64 = 1_893_456_000 * 1_000_000_000

func bucket(_ j: Int) -> BucketSummary {
    var b = buckets[j % buckets.count]
    b.startNs = baseNs + Int64(j) * lengthNs
    return b
}

struct SensorResult: Sendable {
    var latencies: [Double] = []
    var written = 0
    var alreadyStored = 0
    var error: String?
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

let clock = ContinuousClock()
let outcome = Mutex<[SensorResult]>([])
let done = DispatchSemaphore(value: 0)
let started = clock.now
let immutableSettings = settings
// Detached: top-level code runs on the main actor, whose thread waits below.
Task.detached {
    let results = await withTaskGroup(of: SensorResult.self) { group in
        for i in 0..<sensors {
            group.addTask {
                var result = SensorResult()
                do {
                    try await BucketStore.withStore(immutableSettings) { store in
                        let name = "load-\(i)"
                        _ = try await store.sensorID(name)
                        if let pace { try await Task.sleep(for: .seconds(pace * Double(i) / Double(sensors))) }
                        var next = clock.now
                        for j in 0..<bucketCount {
                            if let pace {
                                try await Task.sleep(until: next, clock: clock)
                                next = next + .seconds(pace)
                            }
                            let t0 = clock.now
                            let isNew = try await store.write(sensor: name, bucket: bucket(j))
                            result.latencies.append(seconds(clock.now - t0))
                            if isNew { result.written += 1 } else { result.alreadyStored += 1 }
                        }
                    }
                } catch {
                    result.error = "\(error)"
                }
                return result
            }
        }
        var all: [SensorResult] = []
        for await r in group { all.append(r) }
        return all
    }
    outcome.withLock { $0 = results }
    done.signal()
}
done.wait()
let wall = seconds(clock.now - started)
let results = outcome.withLock { $0 }
let latencies = results.flatMap(\.latencies).sorted()
let written = results.reduce(0) { $0 + $1.written }
let already = results.reduce(0) { $0 + $1.alreadyStored }
let errors = results.compactMap(\.error)
func percentile(_ p: Double) -> Double {
    latencies.isEmpty ? .nan : latencies[min(latencies.count - 1, Int((Double(latencies.count) * p).rounded(.down)))] * 1000
}
let rate = Double(latencies.count) / wall
print("sensors\t\(sensors)\t(\(errors.count) failed)")
print("buckets\t\(latencies.count)\t(\(written) new, \(already) already stored; templates \(buckets.count) of \(lengthNs / 1_000_000_000) s)")
print("mode\t\(pace.map { "paced: one bucket every \($0) s per sensor" } ?? "back to back")")
print(String(format: "wall\t%.2f s\t%.1f buckets/s", wall, rate))
print(String(format: "latency ms\tp50 %.1f\tp90 %.1f\tp99 %.1f\tmax %.1f", percentile(0.5), percentile(0.9), percentile(0.99),
             (latencies.last ?? .nan) * 1000))
if pace == nil {
    print(String(format: "capacity\t%.0f sensors' worth of %lld s buckets (buckets/s x bucket length; each sensor holds a connection)", rate * Double(lengthNs / 1_000_000_000),
                 lengthNs / 1_000_000_000))
}
for error in Set(errors).sorted() { print("error\t\(error)") }
exit(errors.isEmpty ? 0 : 1)
