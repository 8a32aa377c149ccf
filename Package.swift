// swift-tools-version: 6.0
import PackageDescription

// One module per responsibility; see docs/ARCHITECTURE.md.
let package = Package(
    name: "darknet-sensor",
    products: [
        .executable(name: "darknetd", targets: ["darknetd"]),
        .executable(name: "darknetctl", targets: ["darknetctl"]),
        // Libraries for the fuzzing package in Fuzz/ (and other out-of-tree
        // harnesses); the sensor itself does not need them.
        .library(name: "DarknetDecoding", targets: ["Decoding"]),
        .library(name: "DarknetSynth", targets: ["Synth"]),
        .library(name: "DarknetSketches", targets: ["Sketches"]),
        .library(name: "DarknetAggregation", targets: ["Aggregation"]),
        .library(name: "DarknetAlerts", targets: ["Alerts"]),
        .library(name: "DarknetGeoIP", targets: ["GeoIP"]),
        .library(name: "DarknetFeed", targets: ["Feed"]),
        .library(name: "DarknetStatsWire", targets: ["StatsWire"]),
        .library(name: "DarknetConfiguration", targets: ["Configuration"]),
        .library(name: "DarknetPipeline", targets: ["Pipeline"]),
        .library(name: "DarknetReporting", targets: ["Reporting"]),
        .library(name: "DarknetDaemon", targets: ["Daemon"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // YAML configuration (Node API, for line numbers in errors). Configuration only.
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        // The stats socket's server (Unix domain, bounded line framing, idle timeouts).
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        // The daemon's long-lived parts, signals and graceful shutdown; operational logging.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // The fleet database (PostgreSQL) and its TLS. Fleet only.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
    ],
    targets: [
        // libpcap headers, found by pkg-config. Only Capture imports it.
        .systemLibrary(
            name: "CPcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"])]
        ),
        // libmaxminddb headers, found by pkg-config. Only GeoIP imports it.
        .systemLibrary(
            name: "CMaxMindDB",
            pkgConfig: "libmaxminddb",
            providers: [.apt(["libmaxminddb-dev"])]
        ),
        // Bytes -> fixed-size PacketRecord. Safe Swift over Span<UInt8>.
        .target(name: "Decoding"),
        // Lock-free single-producer/single-consumer ring.
        .target(name: "Ring"),
        // The only importer of the C modules: pcap handles, sources, capture thread.
        .target(name: "Capture", dependencies: ["CPcap", "Decoding", "Ring", "Sketches"]),
        // Cache hints for the aggregation tables (prefetch, transparent huge pages);
        // neither reads nor writes through a pointer.
        .target(name: "CHotPath"),
        // Generic sketches and tables keyed by a seeded hash: HyperLogLog, Space-Saving,
        // bounded tables, distinct pairs, time buckets, cache hints. Knows no traffic class.
        // Its bodies are serialised for the modules above (cross-module optimisation), so
        // the per-packet calls into its generic tables are specialised and inlined there
        // as they were when the tables lived in Aggregation (docs/benchmarks.md).
        .target(
            name: "Sketches", dependencies: ["Decoding", "CHotPath"],
            swiftSettings: [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]
        ),
        // Classes, per-bucket state, detectors, windows; shards and their merge.
        .target(name: "Aggregation", dependencies: ["Decoding", "GeoIP", "Sketches"]),
        // Country of an address: the only importer of CMaxMindDB, plus a per-packet cache.
        .target(name: "GeoIP", dependencies: ["CMaxMindDB", "Decoding"]),
        // Packet builders and pcap/pcapng writers: test fixtures, demo and benchmark captures.
        .target(name: "Synth", dependencies: ["Decoding"]),
        // Text interchange shared by feeds, alerts and reports: RFC 3339 times,
        // calendar arithmetic, a schema-less JSON value.
        .target(name: "Interchange"),
        // Alert rules, baselines, dedup/rate limiting, delivery queues and sinks (syslog in the
        // local, journal or RFC 5424 format; JSON lines). Deliberately independent of
        // Aggregation: its inputs are its own neutral values. CSensorShims: memfd and SCM_RIGHTS.
        .target(name: "Alerts", dependencies: ["Decoding", "Interchange", "CSensorShims"]),
        // Pure math comparing the sensor's per-bucket series with an external feed's:
        // alignment, Pearson/Spearman with p-values, lagged correlation, overlap, locality.
        .target(name: "Correlation"),
        // External observation feeds (NORSE IPViking, CSV, another sensor's export, Cowrie):
        // line parsers, a tail -F follower, and per-bucket feed series for correlation; the
        // YAML-declared mapping for any JSON-lines or CSV feed (Yams) and the file scan that
        // `darknetd feed import` stores (docs/fleet.md).
        .target(
            name: "Feed",
            dependencies: ["Decoding", "GeoIP", "Sketches", "Aggregation", "Interchange", .product(name: "Yams", package: "Yams")]
        ),
        // C calls Swift cannot make directly (variadic prctl, raw capset, mallopt, malloc_trim,
        // memfd sealing, SCM_RIGHTS); every symbol prefixed csensor_.
        .target(name: "CSensorShims"),
        // The stats socket's wire: request/response lines, the client, text rendering of
        // replies, the version. All darknetctl links besides ArgumentParser: no libpcap,
        // no NIO, no Yams.
        .target(name: "StatsWire", dependencies: ["Interchange"]),
        // The configuration model, its YAML loader (the only user of Yams), the effective
        // YAML and thresholds check-config prints, and what a reload applies.
        .target(
            name: "Configuration",
            dependencies: [
                "Aggregation", "Alerts", "Capture", "Decoding", "Sketches",
                // The export's database URL is checked as `ConnectionSettings` parses it.
                "Fleet",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Capture -> ring(s) -> consumer(s), one thread or sharded, and the alert stage that
        // runs on closed buckets: shared by analyze, capture and the daemon.
        .target(
            name: "Pipeline",
            dependencies: ["Capture", "Decoding", "Ring", "Aggregation", "GeoIP", "Alerts", "Feed", "Interchange"]
        ),
        // The report's sections, JSON/text/HTML, feed comparison, the sensor export, the
        // offline analysis `analyze` wires up, and the fleet report.
        .target(
            name: "Reporting",
            dependencies: [
                "Pipeline", "StatsWire", "Capture", "Decoding", "Ring", "Sketches", "Aggregation", "Alerts", "Feed",
                "Correlation", "GeoIP", "Interchange",
                // The fleet report's input (FleetData): read by Fleet, computed and rendered here.
                "Fleet",
            ]
        ),
        // The daemon: lifecycle, live aggregation, state snapshots, the stats server (NIO, with
        // its line decoder) and provider, sd_notify, privilege drop, memory policy, the hash key file.
        .target(
            name: "Daemon",
            dependencies: [
                "StatsWire", "Configuration", "Pipeline", "Reporting",
                "Capture", "Decoding", "Ring", "Sketches", "Aggregation", "Feed", "Correlation", "GeoIP", "Alerts", "CSensorShims",
                "Interchange",
                // The live export's flusher writes through `BucketStore` (no PostgresNIO here).
                "Fleet",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The sensor fleet's PostgreSQL store: connection settings, versioned migrations,
        // idempotent bucket and alert writes, feed imports. The only importer of PostgresNIO (docs/fleet.md).
        .target(
            name: "Fleet",
            dependencies: [
                "Aggregation", "Alerts", "Sketches", "Decoding", "GeoIP", "Feed", "Interchange",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "darknetd",
            dependencies: [
                "Daemon", "Configuration", "Pipeline", "Reporting",
                "Capture", "Decoding", "Synth", "GeoIP", "Sketches", "Aggregation", "Interchange", "Fleet", "Feed",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Times read+decode and aggregation separately (docs/benchmarks.md).
        .executableTarget(
            name: "darknet-stages",
            dependencies: ["Daemon", "Pipeline", "Capture", "Decoding", "Sketches", "Aggregation"],
            path: "Benchmarks/Stages"
        ),
        // Many simulated sensors writing buckets into one PostgreSQL (docs/fleet.md).
        .executableTarget(
            name: "fleet-load",
            dependencies: ["Fleet", "Pipeline", "Capture", "Aggregation"],
            path: "Benchmarks/FleetLoad"
        ),
        .executableTarget(
            name: "darknetctl",
            dependencies: [
                "StatsWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Test helpers: child processes and executable paths for the tests that drive
        // darknetd/darknetctl, and a bound datagram socket standing in for syslog or systemd.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "DecodingTests", dependencies: ["Decoding", "Synth"]),
        .testTarget(name: "RingTests", dependencies: ["Ring"]),
        .testTarget(
            name: "CaptureTests",
            dependencies: ["Capture", "Decoding", "Synth", "Pipeline", "Configuration", "Reporting", "Sketches", "Ring"]
        ),
        .testTarget(name: "AggregationTests", dependencies: ["Aggregation", "Sketches", "Decoding", "Synth", "GeoIP"]),
        .testTarget(name: "EndToEndTests", dependencies: ["Pipeline", "Synth", "Decoding", "Capture", "Ring", "TestSupport"]),
        .testTarget(name: "SynthTests", dependencies: ["Synth", "Decoding"]),
        .testTarget(name: "GeoIPTests", dependencies: ["GeoIP", "Decoding", "Synth"]),
        .testTarget(name: "CorrelationTests", dependencies: ["Correlation", "Synth"]),
        .testTarget(name: "FeedTests", dependencies: ["Feed", "Decoding", "GeoIP", "Sketches", "Aggregation", "Interchange"]),
        // The configuration, reporting, pipeline and daemon modules' unit tests (the former Service).
        .testTarget(
            name: "ServiceTests",
            dependencies: [
                "Configuration", "Pipeline", "Reporting", "Daemon", "StatsWire",
                "Sketches", "Aggregation", "Alerts", "Capture", "Decoding", "Synth",
            ]
        ),
        .testTarget(name: "AlertsTests", dependencies: ["Alerts", "Decoding", "Interchange", "Synth", "TestSupport", "CSensorShims"]),
        .testTarget(name: "InterchangeTests", dependencies: ["Interchange"]),
        // Against a real PostgreSQL each test starts (Debian's postgresql; docs/fleet.md).
        .testTarget(
            name: "FleetTests",
            dependencies: [
                "Fleet", "Alerts", "Feed", "GeoIP", "Decoding", "Reporting", "Aggregation", "Capture", "Sketches", "Synth", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                // One test reaches a statement's deadline on the connection itself.
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "StatsSocketTests",
            dependencies: [
                "StatsWire", "Daemon", "Interchange", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
