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
        .testTarget(name: "DecodingTests", dependencies: ["Decoding", "Synth"]),
        .testTarget(name: "SynthTests", dependencies: ["Synth", "Decoding"]),
    ],
    swiftLanguageModes: [.v6]
)
