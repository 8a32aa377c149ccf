// swift-tools-version: 6.0
import PackageDescription

// libFuzzer harnesses for darknet-sensor. A separate package so that the
// sensor's own `swift build` / `swift test` never see fuzzer flags; it
// depends on the sensor through the library products of ../Package.swift.
//
// Harness executables are only meaningful when built with
//     swift build --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address
// (scripts/fuzz.sh does it; `--sanitize=address` as a second option would
// silently drop the coverage instrumentation, docs/fuzzing.md): libFuzzer then provides `main` and calls each
// harness's `LLVMFuzzerTestOneInput`. `FuzzSeeds` is an ordinary executable
// built WITHOUT sanitizers (its own scratch path) that writes the seed corpora.
//
// Adding a target: docs/fuzzing.md, "Adding a target".
let package = Package(
    name: "darknet-sensor-fuzz",
    dependencies: [
        // `name:` pins the package name used below whatever the checkout
        // directory is called (a path dependency's identity is its directory).
        .package(name: "darknet-sensor", path: ".."),
        // EmbeddedChannel, to drive the stats socket's line decoder without sockets
        // (the same package the sensor resolves; no new dependency).
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
    ],
    targets: [
        // Input splitting and invariant checks shared by every harness.
        .target(
            name: "FuzzSupport",
            dependencies: [.product(name: "DarknetDecoding", package: "darknet-sensor")]
        ),
        // Packet decoder: link-type selector byte + captured bytes.
        .executableTarget(
            name: "FuzzDecoder",
            dependencies: [
                "FuzzSupport",
                .product(name: "DarknetDecoding", package: "darknet-sensor"),
            ]
        ),
        // Input formats and checks of the Configuration and Daemon targets (snapshot framing,
        // configuration round trip), shared with the seed writer.
        .target(
            name: "FuzzServiceSupport",
            dependencies: [
                "FuzzSupport",
                .product(name: "DarknetConfiguration", package: "darknet-sensor"),
                .product(name: "DarknetDaemon", package: "darknet-sensor"),
                .product(name: "DarknetAggregation", package: "darknet-sensor"),
            ]
        ),
        // NORSE feed lines (JSON and Python-dict form): the whole input is one line.
        .executableTarget(
            name: "FuzzFeedNorse",
            dependencies: [
                "FuzzSupport",
                .product(name: "DarknetDecoding", package: "darknet-sensor"),
                .product(name: "DarknetFeed", package: "darknet-sensor"),
                .product(name: "DarknetGeoIP", package: "darknet-sensor"),
            ]
        ),
        // CSV feed: header line, then rows; and format detection over the same lines.
        .executableTarget(
            name: "FuzzFeedCSV",
            dependencies: [
                "FuzzSupport",
                .product(name: "DarknetDecoding", package: "darknet-sensor"),
                .product(name: "DarknetFeed", package: "darknet-sensor"),
                .product(name: "DarknetGeoIP", package: "darknet-sensor"),
            ]
        ),
        // YAML configuration loader (Yams / libyaml underneath).
        .executableTarget(
            name: "FuzzConfig",
            dependencies: [
                "FuzzSupport",
                "FuzzServiceSupport",
                .product(name: "DarknetConfiguration", package: "darknet-sensor"),
            ]
        ),
        // Stats socket: request line parser and the bounded line decoder.
        .executableTarget(
            name: "FuzzStatsRequest",
            dependencies: [
                "FuzzSupport",
                .product(name: "DarknetStatsWire", package: "darknet-sensor"),
                .product(name: "DarknetDaemon", package: "darknet-sensor"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        // State snapshots: SnapshotStore<DaemonSnapshot>.decode, then what the daemon does
        // with a restored payload.
        .executableTarget(
            name: "FuzzSnapshot",
            dependencies: [
                "FuzzSupport",
                "FuzzServiceSupport",
                .product(name: "DarknetConfiguration", package: "darknet-sensor"),
                .product(name: "DarknetDaemon", package: "darknet-sensor"),
                .product(name: "DarknetAggregation", package: "darknet-sensor"),
                .product(name: "DarknetAlerts", package: "darknet-sensor"),
                .product(name: "DarknetDecoding", package: "darknet-sensor"),
            ]
        ),
        // Seed corpora for every target, built with the project's packet builders
        // and the modules' own writers.
        .executableTarget(
            name: "FuzzSeeds",
            dependencies: [
                "FuzzSupport",
                "FuzzServiceSupport",
                .product(name: "DarknetDecoding", package: "darknet-sensor"),
                .product(name: "DarknetSynth", package: "darknet-sensor"),
                .product(name: "DarknetAggregation", package: "darknet-sensor"),
                .product(name: "DarknetAlerts", package: "darknet-sensor"),
                .product(name: "DarknetFeed", package: "darknet-sensor"),
                .product(name: "DarknetStatsWire", package: "darknet-sensor"),
                .product(name: "DarknetConfiguration", package: "darknet-sensor"),
                .product(name: "DarknetDaemon", package: "darknet-sensor"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
