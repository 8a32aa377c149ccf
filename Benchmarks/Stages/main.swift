// darknet-stages: times the two halves of `darknetd analyze` separately, so
// docs/benchmarks.md can say where the time goes without a profiler.
//
//   darknet-stages FILE [RUNS]
//
// 1. read + decode: the capture thread's work (libpcap, decoder, ring) with a
//    consumer that only counts, i.e. the pipeline's ceiling whatever the
//    aggregation costs;
// 2. aggregate: `Aggregator.consume` alone, over records decoded beforehand
//    into memory, in runs of 4096 (the pipeline's drain limit), default
//    configuration; then the bucket close at the end.
//
// Each stage runs RUNS times (default 3); the median is printed as packets/s.
import Aggregation
import Capture
import Decoding
import Foundation
import Service

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
    FileHandle.standardError.write(Data("usage: darknet-stages FILE [RUNS]\n".utf8))
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
for _ in 0..<runs {
    var counters = PacketCounters()
    readTimes.append(seconds { _ = Pipeline().run(source: open(), consumer: &counters) })
    packets = Int(counters.total)
}

var collector = Collector()
collector.records.reserveCapacity(packets)
_ = Pipeline().run(source: open(), consumer: &collector)
let records = collector.records

var aggregateTimes: [Double] = []
var closeTimes: [Double] = []
for _ in 0..<runs {
    var aggregator = Aggregator()
    aggregateTimes.append(seconds {
        records.withUnsafeBufferPointer { all in
            var start = 0
            while start < all.count {
                let end = min(start + 4096, all.count)
                aggregator.consume(UnsafeBufferPointer(rebasing: all[start..<end]).span)
                start = end
            }
        }
    })
    closeTimes.append(seconds { aggregator.finish() })
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
print("close\t\(String(format: "%.3f", median(closeTimes))) s")
