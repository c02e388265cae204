import Foundation
import SystemPackage
import TetherReactor

/// The hashicorp/yamux peer program (`Benchmarks/peers/goyamux`, built by `make go-peer`) run as
/// a child process on one end of a socketpair, for interop tests and benchmarks.
public enum GoYamuxPeer {
    /// Where `make go-peer` puts the binary, or `TETHER_GO_PEER` if set.
    public static var executablePath: String {
        if let path = ProcessInfo.processInfo.environment["TETHER_GO_PEER"] { return path }
        // Sources/TetherTesting/GoYamuxPeer.swift → the package root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/go/goyamux-peer").path
    }

    /// True when the binary exists. Tests may skip without it only outside CI.
    public static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: executablePath) }

    /// True when interop tests must run (CI sets `CI`), or the peer is there to run them.
    public static var shouldRun: Bool { isAvailable || ProcessInfo.processInfo.environment["CI"] != nil }

    /// Starts the peer with `arguments` (role, scenario, options), connected to us by a socketpair.
    public static func start(_ arguments: [String], on reactor: Reactor) async throws -> SocketPeerProcess {
        try await SocketPeerProcess.start(
            executable: executablePath, arguments: arguments + ["-fd", "3", "-timeout", "60s"], on: reactor)
    }
}
