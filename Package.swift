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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
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
        .target(name: "Capture", dependencies: ["CPcap", "Decoding", "Ring"]),
        // Classes, per-bucket state, sketches, windows.
        .target(name: "Aggregation", dependencies: ["Decoding", "GeoIP"]),
        // Country of an address: the only importer of CMaxMindDB, plus a per-packet cache.
        .target(name: "GeoIP", dependencies: ["CMaxMindDB", "Decoding"]),
        // Packet builders and pcap/pcapng writers: test fixtures, demo and benchmark captures.
        .target(name: "Synth", dependencies: ["Decoding"]),
        // Pipeline wiring and reports shared by the executables.
        .target(name: "Service", dependencies: ["Capture", "Decoding", "Ring", "Aggregation"]),
        .executableTarget(
            name: "darknetd",
            dependencies: [
                "Service", "Capture", "Synth", "GeoIP", "Aggregation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "darknetctl",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "DecodingTests", dependencies: ["Decoding", "Synth"]),
        .testTarget(name: "RingTests", dependencies: ["Ring"]),
        .testTarget(name: "CaptureTests", dependencies: ["Capture", "Decoding", "Synth", "Service"]),
        .testTarget(name: "AggregationTests", dependencies: ["Aggregation", "Decoding", "Synth", "GeoIP"]),
        .testTarget(name: "EndToEndTests", dependencies: ["Service", "Synth", "Decoding"]),
        .testTarget(name: "SynthTests", dependencies: ["Synth", "Decoding"]),
        .testTarget(name: "GeoIPTests", dependencies: ["GeoIP", "Decoding", "Synth"]),
    ],
    swiftLanguageModes: [.v6]
)
