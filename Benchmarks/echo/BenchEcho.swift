import Foundation
import TetherRPC

// What `@PluginInterface` generates for
//
//     protocol BenchEcho { func echo(_ payload: Data) async throws -> Data }
//
// written out here: the release bench must not build swift-syntax (docs/benchmarks.md), and
// these are exactly the runtime calls the macro's client and service make.

struct BenchEchoClient: RPCClientStub {
    let channel: RPCChannel

    func echo(_ payload: Data) async throws -> Data {
        try await channel.unary("BenchEcho.echo(_:)", returning: Data.self) { arguments in
            try arguments.encode(payload)
        }
    }
}

struct BenchEchoService: RPCService {
    static var interfaceName: String { "BenchEcho" }
    static var methodNames: [String] { ["BenchEcho.echo(_:)"] }

    func handle(_ call: RPCIncomingCall) async throws {
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
