// swift-tools-version: 6.0
import PackageDescription

// libFuzzer harnesses for darknet-sensor. A separate package so that the
// sensor's own `swift build` / `swift test` never see fuzzer flags; it
// depends on the sensor through the library products of ../Package.swift.
//
// Harness executables are only meaningful when built with
//     swift build --sanitize=fuzzer --sanitize=address
// (scripts/fuzz.sh does it): libFuzzer then provides `main` and calls each
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
        // Seed corpora for every target, built with the project's packet builders.
        .executableTarget(
            name: "FuzzSeeds",
            dependencies: [
                "FuzzSupport",
                .product(name: "DarknetDecoding", package: "darknet-sensor"),
                .product(name: "DarknetSynth", package: "darknet-sensor"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
