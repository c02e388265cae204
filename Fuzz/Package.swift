// swift-tools-version: 6.2
import PackageDescription

// libFuzzer targets for Tether, a package of their own so that `swift build` and `make test` of the
// root package never see an executable without `main` (libFuzzer supplies it only when linked
// with `-sanitize=fuzzer`). Built by `make fuzz` / `make fuzz-ci`; see docs/fuzzing.md.

/// The root package's identity is its directory's name, which differs between clones and worktrees.
let rootPackage = String(#filePath.split(separator: "/").dropLast(2).last ?? "tether")

let strictSafe: [SwiftSetting] = [
    .strictMemorySafety(),
    .treatWarning("StrictMemorySafety", as: .error),
]

let package = Package(
    name: "TetherFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "..")
    ],
    targets: [
        // The targets proper: pure, strict-memory-safe code that takes an input as `[UInt8]`.
        // `@testable import` reaches the RPC envelope and the line splitter, which are internal;
        // the build passes `-enable-testing` for that.
        .target(
            name: "TetherFuzzTargets",
            dependencies: [
                .product(name: "TetherYamux", package: rootPackage),
                .product(name: "TetherMessagePack", package: rootPackage),
                .product(name: "TetherRPC", package: rootPackage),
                .product(name: "Tether", package: rootPackage),
            ],
            swiftSettings: strictSafe
        ),
        // libFuzzer's entry point: the one file with a pointer, which it copies into an array.
        .executableTarget(
            name: "tether-fuzz",
            dependencies: ["TetherFuzzTargets"],
            swiftSettings: [.strictMemorySafety()]
        ),
    ]
)
