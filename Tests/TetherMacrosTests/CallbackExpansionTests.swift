import SwiftSyntaxMacrosGenericTestSupport
import Testing

/// Interfaces as arguments (callbacks): `any P & Sendable` parameters.
@Suite struct CallbackExpansionTests {
    /// The client serves each callback for the call's duration and sends its reference; the
    /// service makes a client of the reference. Either order of the composition, qualified names.
    @Test func callbackParametersAreServedByTheCallerAndCalledByTheCallee() {
        assertPluginInterface(
            """
            @PluginInterface
            protocol Jobs {
                func run(_ steps: Int, progress: any ProgressSink & Sendable, log: any Sendable & Logs.Sink) async throws -> String
            }
            """,
            expandsTo: """
                protocol Jobs {
                    func run(_ steps: Int, progress: any ProgressSink & Sendable, log: any Sendable & Logs.Sink) async throws -> String
                }

                /// Calls a remote `Jobs` over `channel`: each method is one RPC.
                struct JobsClient: Jobs, RPCClientStub {
                    let channel: RPCChannel

                    init(channel: RPCChannel) {
                        self.channel = channel
                    }

                    func run(_ steps: Int, progress: any ProgressSink & Sendable, log: any Sendable & Logs.Sink) async throws -> String {
                        func callbackService0<TetherCallback: ProgressSink & Sendable>(_ value: TetherCallback) -> any RPCService {
                            ProgressSinkService(value)
                        }
                        func callbackService1<TetherCallback: Logs.Sink & Sendable>(_ value: TetherCallback) -> any RPCService {
                            Logs.SinkService(value)
                        }
                        return try await channel.withCallback(callbackService0(progress)) { callback0 in
                            try await channel.withCallback(callbackService1(log)) { callback1 in
                                try await channel.unary("Jobs.run(_:progress:log:)", returning: String.self) { arguments in
                                    try arguments.encode(steps)
                                    try arguments.encode(callback0)
                                    try arguments.encode(callback1)
                                }
                            }
                        }
                    }
                }

                /// Serves an implementation of `Jobs` to remote callers.
                struct JobsService<Implementation: Jobs & Sendable>: RPCService {
                    let implementation: Implementation

                    init(_ implementation: Implementation) {
                        self.implementation = implementation
                    }

                    static var interfaceName: String {
                        "Jobs"
                    }

                    static var methodNames: [String] {
                        ["Jobs.run(_:progress:log:)"]
                    }

                    func handle(_ call: RPCIncomingCall) async throws {
                        switch call.method {
                        case "Jobs.run(_:progress:log:)":
                            var arguments = try call.arguments(count: 3)
                            let argument0 = try arguments.decode(Int.self)
                            let argument1 = ProgressSinkClient(channel: call.channel(to: try arguments.decode(RPCCallbackReference.self)))
                            let argument2 = Logs.SinkClient(channel: call.channel(to: try arguments.decode(RPCCallbackReference.self)))
                            try await call.respond(try await self.implementation.run(argument0, progress: argument1, log: argument2))
                        default:
                            throw RPCError(.unknownMethod, call.method)
                        }
                    }
                }
                """
        )
    }

    @Test func aCallbackMustBeSendable() {
        assertRejected(
            """
            @PluginInterface
            protocol Jobs {
                func run(progress: any ProgressSink) async throws
            }
            """,
            [
                DiagnosticSpec(
                    message:
                        "a callback parameter must be 'any P & Sendable': the object is called from the peer's calls, concurrently with the caller",
                    line: 3, column: 24, highlights: ["any ProgressSink"])
            ]
        )
    }

    @Test(arguments: ["RPCStream<Int>", "ByteStream"])
    func aMethodReturningAStreamCannotTakeACallback(result: String) {
        assertRejected(
            """
            @PluginInterface
            protocol Jobs {
                func run(progress: any ProgressSink & Sendable) async throws -> \(result)
            }
            """,
            [
                DiagnosticSpec(
                    message:
                        "a method returning a stream ('RPCStream' or 'ByteStream') cannot take a callback: a callback lives until its call returns, before the stream is read",
                    line: 3, column: 24, highlights: ["any ProgressSink & Sendable"])
            ]
        )
    }

    /// A result cannot be a callback, nor can a callback be part of another type.
    @Test func callbacksAreWholeParameterTypesOnly() {
        assertRejected(
            """
            @PluginInterface
            protocol Jobs {
                func sink() async throws -> any ProgressSink & Sendable
                func all(_ sinks: [any ProgressSink & Sendable]) async throws
            }
            """,
            [
                DiagnosticSpec(
                    message:
                        "'any' types are not supported in a plugin interface: the receiver must know the concrete type to decode it",
                    line: 3, column: 33, highlights: ["any ProgressSink & Sendable"]),
                DiagnosticSpec(
                    message:
                        "'any' types are not supported in a plugin interface: the receiver must know the concrete type to decode it",
                    line: 4, column: 24, highlights: ["any ProgressSink & Sendable"]),
            ]
        )
    }
}
