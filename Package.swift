// swift-tools-version: 6.2
import CompilerPluginSupport
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
        .library(name: "TetherYamux", targets: ["TetherYamux"]),
        .library(name: "TetherMux", targets: ["TetherMux"]),
        .library(name: "TetherMessagePack", targets: ["TetherMessagePack"]),
        .library(name: "TetherRPC", targets: ["TetherRPC"]),
        .library(name: "TetherPluginInterface", targets: ["TetherPluginInterface"]),
        .library(name: "Tether", targets: ["Tether"]),
        .library(name: "TetherSecurity", targets: ["TetherSecurity"]),
        .executable(name: "tether-sign", targets: ["tether-sign"]),
        .library(name: "TetherTesting", targets: ["TetherTesting"]),
        .executable(name: "bench", targets: ["bench"]),
        .executable(name: "bench-plugin", targets: ["bench-plugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Only the macro targets use swift-syntax; `bench` and the runtime modules do not, so a
        // release build of the benchmarks never compiles it (6.6 minutes cold on 2 cores).
        .package(url: "https://github.com/swiftlang/swift-syntax", exact: "603.0.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // Counters of the reactor, the sessions and the plugin runtime; no-ops until the
        // application bootstraps a metrics backend (docs/guide.md, "Metrics").
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // SHA-256 and Ed25519 for verified plugin binaries (TetherSecurity only: a plugin never
        // links it).
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        // `swift package generate-documentation` for the DocC catalogs; no target depends on it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // Property-based tests of the protocol (TetherYamuxTests only).
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibUring",
            pkgConfig: "liburing",
            providers: [.apt(["liburing-dev"])]
        ),
        // The one ring-buffer queue both the reactor and the protocol use: pure, generic.
        .target(
            name: "TetherCollections",
            swiftSettings: strictSafe
        ),
        .target(
            name: "TetherReactor",
            dependencies: [
                "CLibUring",
                "TetherCollections",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            // Strict memory safety as a warning: every unsafe expression here is marked `unsafe`
            // and justified, so the build stays free of warnings.
            swiftSettings: [.strictMemorySafety()]
        ),
        // The yamux protocol as pure values: frames, the session and stream state machines,
        // windows, limits. Imports nothing of the project, so no I/O can creep in.
        .target(
            name: "TetherYamux",
            dependencies: ["TetherCollections"],
            swiftSettings: strictSafe
        ),
        // The binding of the protocol to the reactor: the session actor, streams, the writer.
        .target(
            name: "TetherMux",
            dependencies: [
                "TetherCollections", "TetherYamux", "TetherReactor",
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSafe
        ),
        // MessagePack reader, writer and Codable coders: pure, imports nothing of the project.
        .target(
            name: "TetherMessagePack",
            swiftSettings: strictSafe
        ),
        .target(
            name: "TetherRPC",
            dependencies: ["TetherMessagePack", "TetherMux", "TetherReactor"],
            swiftSettings: strictSafe
        ),
        // The plugin system: handshake, environment contract, launching and serving plugins.
        .target(
            name: "Tether",
            dependencies: [
                "TetherRPC", "TetherMux", "TetherReactor",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSafe
        ),
        // Verified plugin binaries: a SHA-256 digest, Ed25519 signatures and their file format.
        .target(
            name: "TetherSecurity",
            dependencies: ["Tether", "TetherReactor", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSafe
        ),
        // `tether-sign keygen | sign | verify`: the signature files TetherSecurity checks.
        .executableTarget(
            name: "tether-sign",
            dependencies: [
                "TetherSecurity", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strictSafe
        ),
        // The compiler plugin behind `@PluginInterface`: reads a protocol, writes its client and
        // its server dispatcher as calls into the TetherRPC runtime.
        .macro(
            name: "TetherMacros",
            dependencies: [
                .product(name: "SwiftSyntax", package: "swift-syntax"),
                .product(name: "SwiftSyntaxMacros", package: "swift-syntax"),
                .product(name: "SwiftSyntaxBuilder", package: "swift-syntax"),
                .product(name: "SwiftCompilerPlugin", package: "swift-syntax"),
                .product(name: "SwiftDiagnostics", package: "swift-syntax"),
            ]
        ),
        // What a plugin interface's author imports: the macro declaration plus the runtime.
        .target(
            name: "TetherPluginInterface",
            dependencies: ["TetherRPC", "TetherMacros"],
            swiftSettings: strictSafe
        ),
        .target(
            name: "TetherTesting",
            dependencies: [
                "TetherReactor",
                "TetherMux",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSafe
        ),
        // The echo interface of the RPC, launch and isolation benchmarks, and their handshake.
        .target(
            name: "BenchEcho",
            dependencies: ["Tether", "TetherRPC"],
            path: "Benchmarks/echo",
            swiftSettings: strictSafe
        ),
        // The plugin `bench launch` starts: small, no Foundation, the standard library linked in.
        .executableTarget(
            name: "bench-plugin",
            dependencies: ["BenchEcho", "Tether"],
            path: "Benchmarks/plugin",
            swiftSettings: strictSafe,
            linkerSettings: [
                .unsafeFlags(["-static-stdlib"]),
                .linkedLibrary("_FoundationCollections"), .linkedLibrary("_FoundationCShims"),
            ]
        ),
        .executableTarget(
            name: "bench",
            dependencies: [
                "BenchEcho",
                "Tether",
                "TetherReactor",
                "TetherMux",
                "TetherRPC",
                "TetherTesting",
                "TetherSecurity",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/bench",
            swiftSettings: strictSafe
        ),
        // Examples/KeyValue: an interface, a plugin serving it and a host CLI that drives it.
        .target(
            name: "KeyValueExample",
            dependencies: ["TetherPluginInterface"],
            path: "Examples/KeyValue/Interface",
            swiftSettings: strictSafe
        ),
        .target(
            name: "KeyValueMemoryStore",
            dependencies: ["KeyValueExample", .product(name: "Logging", package: "swift-log")],
            path: "Examples/KeyValue/MemoryStore",
            swiftSettings: strictSafe
        ),
        .executableTarget(
            name: "kv-plugin",
            dependencies: [
                "KeyValueExample", "KeyValueMemoryStore", "Tether", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Examples/KeyValue/Plugin",
            swiftSettings: strictSafe
        ),
        .executableTarget(
            name: "kv-host",
            dependencies: [
                "KeyValueExample", "KeyValueMemoryStore", "Tether",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Examples/KeyValue/Host",
            swiftSettings: strictSafe
        ),
        .testTarget(
            name: "TetherReactorTests",
            dependencies: [
                "TetherReactor",
                "TetherTesting",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strictSafe
        ),
        .testTarget(
            name: "TetherCollectionsTests",
            dependencies: ["TetherCollections"],
            swiftSettings: strictSafe
        ),
        // The protocol's tests: pure values, no I/O.
        .testTarget(
            name: "TetherYamuxTests",
            dependencies: ["TetherYamux", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: strictSafe
        ),
        .testTarget(
            name: "TetherMuxTests",
            dependencies: [
                "TetherMux", "TetherReactor", "TetherTesting",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strictSafe
        ),
        // A plugin interface and its implementation shared by the RPC tests and the test plugin.
        .target(
            name: "RPCFixtures",
            dependencies: ["TetherPluginInterface"],
            path: "Tests/Support/RPCFixtures",
            swiftSettings: strictSafe
        ),
        // The plugin process of the cross-process RPC tests (found beside the test binary).
        .executableTarget(
            name: "tether-rpc-test-plugin",
            dependencies: [
                "RPCFixtures", "TetherMux", "TetherReactor",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Tests/Support/RPCTestPlugin",
            swiftSettings: strictSafe
        ),
        .testTarget(
            name: "TetherRPCTests",
            dependencies: [
                "TetherRPC", "TetherMessagePack", "TetherPluginInterface", "TetherMux", "TetherReactor",
                "TetherTesting",
                "RPCFixtures",
                "tether-rpc-test-plugin",
            ],
            swiftSettings: strictSafe
        ),
        .testTarget(
            name: "TetherMessagePackTests",
            dependencies: ["TetherMessagePack", "TetherTesting"],
            // The msgpack-python script the MessagePack cross-check runs; not a resource.
            exclude: ["Python"],
            swiftSettings: strictSafe
        ),
        // The plugin executable of the plugin-runtime tests.
        .executableTarget(
            name: "tether-test-plugin",
            dependencies: ["RPCFixtures", "Tether", "TetherReactor"],
            path: "Tests/Support/TestPlugin",
            swiftSettings: strictSafe
        ),
        .testTarget(
            name: "TetherTests",
            dependencies: [
                "Tether", "TetherRPC", "TetherMux", "TetherReactor", "TetherTesting", "RPCFixtures", "TetherSecurity",
                "tether-test-plugin", "kv-plugin", "kv-host", "tether-sign",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strictSafe
        ),
        .testTarget(
            name: "TetherMacrosTests",
            dependencies: [
                "TetherMacros",
                .product(name: "SwiftSyntaxMacrosGenericTestSupport", package: "swift-syntax"),
                .product(name: "SwiftSyntaxMacroExpansion", package: "swift-syntax"),
            ]
        ),
    ]
)
