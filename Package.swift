// swift-tools-version: 6.2
import PackageDescription

/// Strict memory safety everywhere. Outside `TetherReactor` an unsafe construct is a build error:
/// pointer code and liburing are fenced into the reactor module (see docs/architecture.md).
let strictSafe: [SwiftSetting] = [
    .strictMemorySafety(),
    .treatWarning("StrictMemorySafety", as: .error),
]

let package = Package(
    name: "Tether",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "TetherReactor", targets: ["TetherReactor"]),
        .library(name: "TetherMux", targets: ["TetherMux"]),
        .library(name: "TetherTesting", targets: ["TetherTesting"]),
        .executable(name: "bench", targets: ["bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibUring",
            pkgConfig: "liburing",
            providers: [.apt(["liburing-dev"])]
        ),
        .target(
            name: "TetherReactor",
            dependencies: [
                "CLibUring",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            // Strict memory safety as a warning: every unsafe expression here is marked `unsafe`
            // and justified, so the build stays free of warnings.
            swiftSettings: [.strictMemorySafety()]
        ),
        .target(
            name: "TetherMux",
            dependencies: ["TetherReactor"],
            swiftSettings: strictSafe
        ),
        .target(
            name: "TetherTesting",
            dependencies: [
                "TetherReactor",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strictSafe
        ),
        .executableTarget(
            name: "bench",
            dependencies: [
                "TetherReactor",
                "TetherMux",
                "TetherTesting",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/bench",
            swiftSettings: strictSafe
        ),
        .testTarget(
            name: "TetherReactorTests",
            dependencies: [
                "TetherReactor",
                "TetherTesting",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strictSafe
        ),
        .testTarget(
            name: "TetherMuxTests",
            dependencies: ["TetherMux", "TetherReactor", "TetherTesting"],
            swiftSettings: strictSafe
        ),
    ]
)
