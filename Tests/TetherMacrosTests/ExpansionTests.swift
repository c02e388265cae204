import Testing

/// What `@PluginInterface` writes for valid protocols. Expected sources are complete: names, call
/// shapes and wire ids are the contract with the TetherRPC runtime.
@Suite struct ExpansionTests {
    @Test func keyValueExampleWithEveryCallShape() {
        assertPluginInterface(
            """
            @PluginInterface
            public protocol KeyValue {
                func get(_ key: String) async throws -> Data?
                func put(_ key: String, value: Data) async throws
                func watch(prefix: String) async throws -> RPCStream<Change>  // server streaming
                func load(_ rows: RPCStream<Row>) async throws -> Int  // client streaming
                func chat(room: String, _ messages: RPCStream<Message>) async throws -> RPCStream<Message>  // both
            }
            """,
            expandsTo: """
                public protocol KeyValue {
                    func get(_ key: String) async throws -> Data?
                    func put(_ key: String, value: Data) async throws
                    func watch(prefix: String) async throws -> RPCStream<Change>  // server streaming
                    func load(_ rows: RPCStream<Row>) async throws -> Int  // client streaming
                    func chat(room: String, _ messages: RPCStream<Message>) async throws -> RPCStream<Message>  // both
                }

                /// Calls a remote `KeyValue` over `channel`: each method is one RPC.
                public struct KeyValueClient: KeyValue, RPCClientStub {
                    public let channel: RPCChannel

                    public init(channel: RPCChannel) {
                        self.channel = channel
                    }

                    public func get(_ key: String) async throws -> Data? {
                        try await channel.unary("KeyValue.get(_:)", returning: Data?.self) { arguments in
                            try arguments.encode(key)
                        }
                    }

                    public func put(_ key: String, value: Data) async throws {
                        try await channel.unary("KeyValue.put(_:value:)") { arguments in
                            try arguments.encode(key)
                            try arguments.encode(value)
                        }
                    }

                    public func watch(prefix: String) async throws -> RPCStream<Change> {
                        try await channel.serverStreaming("KeyValue.watch(prefix:)", of: Change.self) { arguments in
                            try arguments.encode(prefix)
                        }
                    }

                    public func load(_ rows: RPCStream<Row>) async throws -> Int {
                        try await channel.clientStreaming("KeyValue.load(_:)", sending: rows, returning: Int.self) { _ in
                        }
                    }

                    public func chat(room: String, _ messages: RPCStream<Message>) async throws -> RPCStream<Message> {
                        try await channel.bidirectional("KeyValue.chat(room:_:)", sending: messages, of: Message.self) { arguments in
                            try arguments.encode(room)
                        }
                    }
                }

                /// Serves an implementation of `KeyValue` to remote callers.
                public struct KeyValueService<Implementation: KeyValue & Sendable>: RPCService {
                    public let implementation: Implementation

                    public init(_ implementation: Implementation) {
                        self.implementation = implementation
                    }

                    public static var interfaceName: String {
                        "KeyValue"
                    }

                    public static var methodNames: [String] {
                        ["KeyValue.get(_:)", "KeyValue.put(_:value:)", "KeyValue.watch(prefix:)", "KeyValue.load(_:)", "KeyValue.chat(room:_:)"]
                    }

                    public func handle(_ call: RPCIncomingCall) async throws {
                        switch call.method {
                        case "KeyValue.get(_:)":
                            var arguments = try call.arguments(count: 1)
                            let argument0 = try arguments.decode(String.self)
                            try await call.respond(try await self.implementation.get(argument0))
                        case "KeyValue.put(_:value:)":
                            var arguments = try call.arguments(count: 2)
                            let argument0 = try arguments.decode(String.self)
                            let argument1 = try arguments.decode(Data.self)
                            try await self.implementation.put(argument0, value: argument1)
                            try await call.respond()
                        case "KeyValue.watch(prefix:)":
                            var arguments = try call.arguments(count: 1)
                            let argument0 = try arguments.decode(String.self)
                            try await call.respondStreaming(try await self.implementation.watch(prefix: argument0))
                        case "KeyValue.load(_:)":
                            _ = try call.arguments(count: 0)
                            let stream = call.incomingStream(of: Row.self)
                            try await call.respond(try await self.implementation.load(stream))
                        case "KeyValue.chat(room:_:)":
                            var arguments = try call.arguments(count: 1)
                            let argument0 = try arguments.decode(String.self)
                            let stream = call.incomingStream(of: Message.self)
                            try await call.respondStreaming(try await self.implementation.chat(room: argument0, stream))
                        default:
                            throw RPCError(.unknownMethod, call.method)
                        }
                    }
                }
                """
        )
    }

    /// `ByteStream` as the streamed argument, the result, or both: the client calls the byte
    /// overloads of the runtime, the service reads `incomingBytes()` and answers `respondBytes`.
    @Test func byteStreamsInEveryPosition() {
        assertPluginInterface(
            """
            @PluginInterface
            public protocol Files {
                func upload(_ data: ByteStream, name: String) async throws -> Digest
                func store(_ data: TetherRPC.ByteStream) async throws
                func download(name: String) async throws -> ByteStream
                func compress(_ data: ByteStream, level: Int) async throws -> ByteStream
            }
            """,
            expandsTo: """
                public protocol Files {
                    func upload(_ data: ByteStream, name: String) async throws -> Digest
                    func store(_ data: TetherRPC.ByteStream) async throws
                    func download(name: String) async throws -> ByteStream
                    func compress(_ data: ByteStream, level: Int) async throws -> ByteStream
                }

                /// Calls a remote `Files` over `channel`: each method is one RPC.
                public struct FilesClient: Files, RPCClientStub {
                    public let channel: RPCChannel

                    public init(channel: RPCChannel) {
                        self.channel = channel
                    }

                    public func upload(_ data: ByteStream, name: String) async throws -> Digest {
                        try await channel.clientStreaming("Files.upload(_:name:)", sending: data, returning: Digest.self) { arguments in
                            try arguments.encode(name)
                        }
                    }

                    public func store(_ data: TetherRPC.ByteStream) async throws {
                        try await channel.clientStreaming("Files.store(_:)", sending: data) { _ in
                        }
                    }

                    public func download(name: String) async throws -> ByteStream {
                        try await channel.serverStreamingBytes("Files.download(name:)") { arguments in
                            try arguments.encode(name)
                        }
                    }

                    public func compress(_ data: ByteStream, level: Int) async throws -> ByteStream {
                        try await channel.bidirectionalBytes("Files.compress(_:level:)", sending: data) { arguments in
                            try arguments.encode(level)
                        }
                    }
                }

                /// Serves an implementation of `Files` to remote callers.
                public struct FilesService<Implementation: Files & Sendable>: RPCService {
                    public let implementation: Implementation

                    public init(_ implementation: Implementation) {
                        self.implementation = implementation
                    }

                    public static var interfaceName: String {
                        "Files"
                    }

                    public static var methodNames: [String] {
                        ["Files.upload(_:name:)", "Files.store(_:)", "Files.download(name:)", "Files.compress(_:level:)"]
                    }

                    public func handle(_ call: RPCIncomingCall) async throws {
                        switch call.method {
                        case "Files.upload(_:name:)":
                            var arguments = try call.arguments(count: 1)
                            let argument0 = try arguments.decode(String.self)
                            let stream = call.incomingBytes()
                            try await call.respond(try await self.implementation.upload(stream, name: argument0))
                        case "Files.store(_:)":
                            _ = try call.arguments(count: 0)
                            let stream = call.incomingBytes()
                            try await self.implementation.store(stream)
                            try await call.respond()
                        case "Files.download(name:)":
                            var arguments = try call.arguments(count: 1)
                            let argument0 = try arguments.decode(String.self)
                            try await call.respondBytes(try await self.implementation.download(name: argument0))
                        case "Files.compress(_:level:)":
                            var arguments = try call.arguments(count: 1)
                            let argument0 = try arguments.decode(Int.self)
                            let stream = call.incomingBytes()
                            try await call.respondBytes(try await self.implementation.compress(stream, level: argument0))
                        default:
                            throw RPCError(.unknownMethod, call.method)
                        }
                    }
                }
                """
        )
    }

    @Test func internalProtocolGetsInternalPeers() {
        assertPluginInterface(
            """
            @PluginInterface
            protocol Counter {
                func add(_ amount: Int, to name: String) async throws -> Int
            }
            """,
            expandsTo: """
                protocol Counter {
                    func add(_ amount: Int, to name: String) async throws -> Int
                }

                /// Calls a remote `Counter` over `channel`: each method is one RPC.
                struct CounterClient: Counter, RPCClientStub {
                    let channel: RPCChannel

                    init(channel: RPCChannel) {
                        self.channel = channel
                    }

                    func add(_ amount: Int, to name: String) async throws -> Int {
                        try await channel.unary("Counter.add(_:to:)", returning: Int.self) { arguments in
                            try arguments.encode(amount)
                            try arguments.encode(name)
                        }
                    }
                }

                /// Serves an implementation of `Counter` to remote callers.
                struct CounterService<Implementation: Counter & Sendable>: RPCService {
                    let implementation: Implementation

                    init(_ implementation: Implementation) {
                        self.implementation = implementation
                    }

                    static var interfaceName: String {
                        "Counter"
                    }

                    static var methodNames: [String] {
                        ["Counter.add(_:to:)"]
                    }

                    func handle(_ call: RPCIncomingCall) async throws {
                        switch call.method {
                        case "Counter.add(_:to:)":
                            var arguments = try call.arguments(count: 2)
                            let argument0 = try arguments.decode(Int.self)
                            let argument1 = try arguments.decode(String.self)
                            try await call.respond(try await self.implementation.add(argument0, to: argument1))
                        default:
                            throw RPCError(.unknownMethod, call.method)
                        }
                    }
                }
                """
        )
    }

    @Test func methodWithoutArgumentsOrResult() {
        assertPluginInterface(
            """
            @PluginInterface
            public protocol Lifecycle {
                func shutdown() async throws
            }
            """,
            expandsTo: """
                public protocol Lifecycle {
                    func shutdown() async throws
                }

                /// Calls a remote `Lifecycle` over `channel`: each method is one RPC.
                public struct LifecycleClient: Lifecycle, RPCClientStub {
                    public let channel: RPCChannel

                    public init(channel: RPCChannel) {
                        self.channel = channel
                    }

                    public func shutdown() async throws {
                        try await channel.unary("Lifecycle.shutdown()") { _ in
                        }
                    }
                }

                /// Serves an implementation of `Lifecycle` to remote callers.
                public struct LifecycleService<Implementation: Lifecycle & Sendable>: RPCService {
                    public let implementation: Implementation

                    public init(_ implementation: Implementation) {
                        self.implementation = implementation
                    }

                    public static var interfaceName: String {
                        "Lifecycle"
                    }

                    public static var methodNames: [String] {
                        ["Lifecycle.shutdown()"]
                    }

                    public func handle(_ call: RPCIncomingCall) async throws {
                        switch call.method {
                        case "Lifecycle.shutdown()":
                            _ = try call.arguments(count: 0)
                            try await self.implementation.shutdown()
                            try await call.respond()
                        default:
                            throw RPCError(.unknownMethod, call.method)
                        }
                    }
                }
                """
        )
    }

    /// `Void`, `()` and no result are the same call; a void client stream uses the
    /// `clientStreaming` overload without `returning:`.
    @Test func voidSpellingsAndVoidClientStream() {
        assertPluginInterface(
            """
            @PluginInterface
            protocol Sink {
                func flush() async throws -> Void
                func reset() async throws -> ()
                func upload(_ chunks: RPCStream<Chunk>) async throws
            }
            """,
            expandsTo: """
                protocol Sink {
                    func flush() async throws -> Void
                    func reset() async throws -> ()
                    func upload(_ chunks: RPCStream<Chunk>) async throws
                }

                /// Calls a remote `Sink` over `channel`: each method is one RPC.
                struct SinkClient: Sink, RPCClientStub {
                    let channel: RPCChannel

                    init(channel: RPCChannel) {
                        self.channel = channel
                    }

                    func flush() async throws {
                        try await channel.unary("Sink.flush()") { _ in
                        }
                    }

                    func reset() async throws {
                        try await channel.unary("Sink.reset()") { _ in
                        }
                    }

                    func upload(_ chunks: RPCStream<Chunk>) async throws {
                        try await channel.clientStreaming("Sink.upload(_:)", sending: chunks) { _ in
                        }
                    }
                }

                /// Serves an implementation of `Sink` to remote callers.
                struct SinkService<Implementation: Sink & Sendable>: RPCService {
                    let implementation: Implementation

                    init(_ implementation: Implementation) {
                        self.implementation = implementation
                    }

                    static var interfaceName: String {
                        "Sink"
                    }

                    static var methodNames: [String] {
                        ["Sink.flush()", "Sink.reset()", "Sink.upload(_:)"]
                    }

                    func handle(_ call: RPCIncomingCall) async throws {
                        switch call.method {
                        case "Sink.flush()":
                            _ = try call.arguments(count: 0)
                            try await self.implementation.flush()
                            try await call.respond()
                        case "Sink.reset()":
                            _ = try call.arguments(count: 0)
                            try await self.implementation.reset()
                            try await call.respond()
                        case "Sink.upload(_:)":
                            _ = try call.arguments(count: 0)
                            let stream = call.incomingStream(of: Chunk.self)
                            try await self.implementation.upload(stream)
                            try await call.respond()
                        default:
                            throw RPCError(.unknownMethod, call.method)
                        }
                    }
                }
                """
        )
    }
}
