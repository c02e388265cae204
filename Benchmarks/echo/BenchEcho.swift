import Tether
import TetherRPC

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

// What `@PluginInterface` generates for
//
//     protocol BenchEcho { func echo(_ payload: Data) async throws -> Data }
//
// written out here: the release bench must not build swift-syntax (docs/benchmarks.md), and
// these are exactly the runtime calls the macro's client and service make.

public struct BenchEchoClient: RPCClientStub {
    public let channel: RPCChannel

    public init(channel: RPCChannel) { self.channel = channel }

    public func echo(_ payload: Data) async throws -> Data {
        try await channel.unary("BenchEcho.echo(_:)", returning: Data.self) { arguments in
            try arguments.encode(payload)
        }
    }
}

public struct BenchEchoService: RPCService {
    public init() {}

    public static var interfaceName: String { "BenchEcho" }
    public static var methodNames: [String] { ["BenchEcho.echo(_:)"] }

    public func handle(_ call: RPCIncomingCall) async throws {
        switch call.method {
        case "BenchEcho.echo(_:)":
            var arguments = try call.arguments(count: 1)
            let payload = try arguments.decode(Data.self)
            try await call.respond(payload)
        default:
            throw RPCError(.unknownMethod, call.method)
        }
    }
}

/// The handshake between `bench launch` and its plugins (`bench-plugin`, or the bench binary
/// itself as `bench plugin-serve`).
public let benchPluginHandshake = HandshakeConfiguration(
    cookieKey: "TETHER_BENCH_PLUGIN", cookieValue: "9c2e5b7a41d06f38", appVersions: [1])
