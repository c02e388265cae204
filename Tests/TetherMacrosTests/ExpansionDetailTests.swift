import Testing

/// Details of the generated code: access levels, names, attributes, spellings of types.
@Suite struct ExpansionDetailTests {
    /// The peers get the protocol's access level; members of a `private` interface are
    /// `fileprivate`, because `private` members could not satisfy its requirements.
    @Test(arguments: [
        ("public", "public"), ("package", "package"), ("internal", "internal"),
        ("fileprivate", "fileprivate"), ("private", "fileprivate"),
    ])
    func accessLevelIsCopied(written: String, member: String) {
        assertPluginInterface(
            """
            @PluginInterface
            \(written) protocol Clock {
                func now() async throws -> Double
            }
            """,
            expandsTo: """
                \(written) protocol Clock {
                    func now() async throws -> Double
                }

                /// Calls a remote `Clock` over `channel`: each method is one RPC.
                \(written) struct ClockClient: Clock, RPCClientStub {
                    \(member) let channel: RPCChannel

                    \(member) init(channel: RPCChannel) {
                        self.channel = channel
                    }

                    \(member) func now() async throws -> Double {
                        try await channel.unary("Clock.now()", returning: Double.self) { _ in
                        }
                    }
                }

                /// Serves an implementation of `Clock` to remote callers.
                \(written) struct ClockService<Implementation: Clock & Sendable>: RPCService {
                    \(member) let implementation: Implementation

                    \(member) init(_ implementation: Implementation) {
                        self.implementation = implementation
                    }

                    \(member) static var interfaceName: String {
                        "Clock"
                    }

                    \(member) static var methodNames: [String] {
                        ["Clock.now()"]
                    }

                    \(member) func handle(_ call: RPCIncomingCall) async throws {
                        switch call.method {
                        case "Clock.now()":
                            _ = try call.arguments(count: 0)
                            try await call.respond(try await self.implementation.now())
                        default:
                            throw RPCError(.unknownMethod, call.method)
                        }
                    }
                }
                """
        )
    }

    /// Wire ids use external labels without backticks. The client renames parameters that have no
    /// internal name or would shadow `channel` and `arguments` in its body; the labels stay.
    @Test func labelsKeywordsAndShadowingNames() {
        assertPluginInterface(
            """
            @PluginInterface
            protocol Chat {
                func join(channel: String, _: Int, arguments: [String]) async throws
                func `default`(in scope: String) async throws -> [String: Int]?
            }
            """,
            expandsTo: """
                protocol Chat {
                    func join(channel: String, _: Int, arguments: [String]) async throws
                    func `default`(in scope: String) async throws -> [String: Int]?
                }

                /// Calls a remote `Chat` over `channel`: each method is one RPC.
                struct ChatClient: Chat, RPCClientStub {
                    let channel: RPCChannel

                    init(channel: RPCChannel) {
                        self.channel = channel
                    }

                    func join(channel argument0: String, _ argument1: Int, arguments argument2: [String]) async throws {
                        try await channel.unary("Chat.join(channel:_:arguments:)") { arguments in
                            try arguments.encode(argument0)
                            try arguments.encode(argument1)
                            try arguments.encode(argument2)
                        }
                    }

                    func `default`(in scope: String) async throws -> [String: Int]? {
                        try await channel.unary("Chat.default(in:)", returning: [String: Int]?.self) { arguments in
                            try arguments.encode(scope)
                        }
                    }
                }

                /// Serves an implementation of `Chat` to remote callers.
                struct ChatService<Implementation: Chat & Sendable>: RPCService {
                    let implementation: Implementation

                    init(_ implementation: Implementation) {
                        self.implementation = implementation
                    }

                    static var interfaceName: String {
                        "Chat"
                    }

                    static var methodNames: [String] {
                        ["Chat.join(channel:_:arguments:)", "Chat.default(in:)"]
                    }

                    func handle(_ call: RPCIncomingCall) async throws {
                        switch call.method {
                        case "Chat.join(channel:_:arguments:)":
                            var arguments = try call.arguments(count: 3)
                            let argument0 = try arguments.decode(String.self)
                            let argument1 = try arguments.decode(Int.self)
                            let argument2 = try arguments.decode([String].self)
                            try await self.implementation.join(channel: argument0, argument1, arguments: argument2)
                            try await call.respond()
                        case "Chat.default(in:)":
                            var arguments = try call.arguments(count: 1)
                            let argument0 = try arguments.decode(String.self)
                            try await call.respond(try await self.implementation.`default`(in: argument0))
                        default:
                            throw RPCError(.unknownMethod, call.method)
                        }
                    }
                }
                """
        )
    }

    /// `Sendable` inheritance, other attributes, doc comments and `nonisolated` do not get in the
    /// way; `@available` is copied to the peers because they name the protocol.
    @Test func sendableAvailabilityAndNonisolated() {
        assertPluginInterface(
            """
            @available(macOS 15, *)
            @PluginInterface
            public protocol Echo: Sendable {
                /// Returns its argument.
                nonisolated func echo(_ text: String) async throws -> String
            }
            """,
            expandsTo: """
                @available(macOS 15, *)
                public protocol Echo: Sendable {
                    /// Returns its argument.
                    nonisolated func echo(_ text: String) async throws -> String
                }

                /// Calls a remote `Echo` over `channel`: each method is one RPC.
                @available(macOS 15, *)
                public struct EchoClient: Echo, RPCClientStub {
                    public let channel: RPCChannel

                    public init(channel: RPCChannel) {
                        self.channel = channel
                    }

                    public func echo(_ text: String) async throws -> String {
                        try await channel.unary("Echo.echo(_:)", returning: String.self) { arguments in
                            try arguments.encode(text)
                        }
                    }
                }

                /// Serves an implementation of `Echo` to remote callers.
                @available(macOS 15, *)
                public struct EchoService<Implementation: Echo & Sendable>: RPCService {
                    public let implementation: Implementation

                    public init(_ implementation: Implementation) {
                        self.implementation = implementation
                    }

                    public static var interfaceName: String {
                        "Echo"
                    }

                    public static var methodNames: [String] {
                        ["Echo.echo(_:)"]
                    }

                    public func handle(_ call: RPCIncomingCall) async throws {
                        switch call.method {
                        case "Echo.echo(_:)":
                            var arguments = try call.arguments(count: 1)
                            let argument0 = try arguments.decode(String.self)
                            try await call.respond(try await self.implementation.echo(argument0))
                        default:
                            throw RPCError(.unknownMethod, call.method)
                        }
                    }
                }
                """
        )
    }

    /// A type named `Implementation` in the interface would be shadowed by the service's generic
    /// parameter, so the parameter takes another name. A module-qualified `RPCStream` is a stream.
    @Test func genericParameterAvoidsInterfaceTypesAndQualifiedStream() {
        assertPluginInterface(
            """
            @PluginInterface
            protocol Registry {
                func lookup(_ name: String) async throws -> Implementation
                func follow(_ topic: String) async throws -> TetherRPC.RPCStream<Post>
            }
            """,
            expandsTo: """
                protocol Registry {
                    func lookup(_ name: String) async throws -> Implementation
                    func follow(_ topic: String) async throws -> TetherRPC.RPCStream<Post>
                }

                /// Calls a remote `Registry` over `channel`: each method is one RPC.
                struct RegistryClient: Registry, RPCClientStub {
                    let channel: RPCChannel

                    init(channel: RPCChannel) {
                        self.channel = channel
                    }

                    func lookup(_ name: String) async throws -> Implementation {
                        try await channel.unary("Registry.lookup(_:)", returning: Implementation.self) { arguments in
                            try arguments.encode(name)
                        }
                    }

                    func follow(_ topic: String) async throws -> TetherRPC.RPCStream<Post> {
                        try await channel.serverStreaming("Registry.follow(_:)", of: Post.self) { arguments in
                            try arguments.encode(topic)
                        }
                    }
                }

                /// Serves an implementation of `Registry` to remote callers.
                struct RegistryService<Implementation_: Registry & Sendable>: RPCService {
                    let implementation: Implementation_

                    init(_ implementation: Implementation_) {
                        self.implementation = implementation
                    }

                    static var interfaceName: String {
                        "Registry"
                    }

                    static var methodNames: [String] {
                        ["Registry.lookup(_:)", "Registry.follow(_:)"]
                    }

                    func handle(_ call: RPCIncomingCall) async throws {
                        switch call.method {
                        case "Registry.lookup(_:)":
                            var arguments = try call.arguments(count: 1)
                            let argument0 = try arguments.decode(String.self)
                            try await call.respond(try await self.implementation.lookup(argument0))
                        case "Registry.follow(_:)":
                            var arguments = try call.arguments(count: 1)
                            let argument0 = try arguments.decode(String.self)
                            try await call.respondStreaming(try await self.implementation.follow(argument0))
                        default:
                            throw RPCError(.unknownMethod, call.method)
                        }
                    }
                }
                """
        )
    }

    @Test func emptyInterfaceServesOnlyUnknownMethods() {
        assertPluginInterface(
            """
            @PluginInterface
            protocol Nothing {}
            """,
            expandsTo: """
                protocol Nothing {}

                /// Calls a remote `Nothing` over `channel`: each method is one RPC.
                struct NothingClient: Nothing, RPCClientStub {
                    let channel: RPCChannel

                    init(channel: RPCChannel) {
                        self.channel = channel
                    }
                }

                /// Serves an implementation of `Nothing` to remote callers.
                struct NothingService<Implementation: Nothing & Sendable>: RPCService {
                    let implementation: Implementation

                    init(_ implementation: Implementation) {
                        self.implementation = implementation
                    }

                    static var interfaceName: String {
                        "Nothing"
                    }

                    static var methodNames: [String] {
                        []
                    }

                    func handle(_ call: RPCIncomingCall) async throws {
                        switch call.method {
                        default:
                            throw RPCError(.unknownMethod, call.method)
                        }
                    }
                }
                """
        )
    }
}
