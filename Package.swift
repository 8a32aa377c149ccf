// swift-tools-version: 6.0
import PackageDescription

// One module per responsibility; see docs/ARCHITECTURE.md.
let package = Package(
    name: "darknet-sensor",
    targets: [
        // Bytes -> fixed-size PacketRecord. Safe Swift over Span<UInt8>.
        .target(name: "Decoding"),
        // Packet builders and pcap/pcapng writers: test fixtures, demo and benchmark captures.
        .target(name: "Synth", dependencies: ["Decoding"]),
        // Streaming sketches and bounded exact state: seeded hashing, HyperLogLog,
        // Space-Saving heavy hitters, fixed-capacity tables. See docs/sketches.md.
        .target(name: "Aggregation", dependencies: ["Decoding"]),
        .testTarget(name: "DecodingTests", dependencies: ["Decoding", "Synth"]),
        .testTarget(name: "SynthTests", dependencies: ["Synth", "Decoding"]),
        .testTarget(name: "AggregationTests", dependencies: ["Aggregation", "Decoding", "Synth"]),
    ],
    swiftLanguageModes: [.v6]
)
