import SwiftSyntaxMacrosGenericTestSupport
import Testing

/// One requirement that `@PluginInterface` must reject, and where and why.
struct RejectedRequirement: Sendable, CustomTestStringConvertible {
    struct Problem: Sendable {
        var message: String
        /// The source text the diagnostic must point at; its column is where this text first
        /// appears in the requirement.
        var highlight: String
    }

    var requirement: String
    var problems: [Problem]

    init(_ requirement: String, _ problems: Problem...) {
        self.requirement = requirement
        self.problems = problems
    }

    var testDescription: String { requirement }

    /// The requirement inside a protocol: it starts on line 3, column 5.
    var source: String {
        """
        @PluginInterface
        protocol Store {
            \(requirement)
        }
        """
    }

    var diagnostics: [DiagnosticSpec] {
        problems.map { problem in
            let offset = requirement.firstRange(of: problem.highlight).map {
                requirement.distance(from: requirement.startIndex, to: $0.lowerBound)
            }
            return DiagnosticSpec(
                message: problem.message, line: 3, column: 5 + (offset ?? -1000), highlights: [problem.highlight])
        }
    }
}

private typealias Problem = RejectedRequirement.Problem

/// Every rule about a single requirement, each with the message the author sees and the node it
/// points at. Nothing is generated for any of them.
@Suite struct RequirementDiagnosticTests {
    static let notMethods: [RejectedRequirement] = [
        .init(
            "var count: Int { get }",
            Problem(
                message:
                    "a plugin interface cannot require a property: only 'async throws' methods can be called remotely",
                highlight: "var count: Int { get }")),
        .init(
            "subscript(key: String) -> Int { get }",
            Problem(
                message:
                    "a plugin interface cannot require a subscript: only 'async throws' methods can be called remotely",
                highlight: "subscript(key: String) -> Int { get }")),
        .init(
            "init(path: String)",
            Problem(
                message:
                    "a plugin interface cannot require an initializer: only 'async throws' methods can be called remotely",
                highlight: "init(path: String)")),
        .init(
            "associatedtype Key: Codable",
            Problem(
                message:
                    "a plugin interface cannot have associated types: the client and service need every type to be concrete",
                highlight: "associatedtype Key: Codable")),
        .init(
            "struct Entry: Codable {}",
            Problem(
                message:
                    "a plugin interface cannot require a nested type: only 'async throws' methods can be called remotely",
                highlight: "struct Entry: Codable {}")),
        .init(
            "typealias Key = String",
            Problem(
                message:
                    "a plugin interface cannot require a type alias: only 'async throws' methods can be called remotely",
                highlight: "typealias Key = String")),
        .init(
            "#if DEBUG\nfunc dump() async throws\n#endif",
            Problem(
                message:
                    "a plugin interface cannot require a conditional compilation block: only 'async throws' methods can be called remotely",
                highlight: "#if DEBUG\nfunc dump() async throws\n#endif")),
        .init(
            "static func open() async throws -> Int",
            Problem(
                message:
                    "'static' methods are not supported in a plugin interface: a remote call goes to one plugin instance",
                highlight: "static")),
        .init(
            "class func open() async throws -> Int",
            Problem(
                message:
                    "'class' methods are not supported in a plugin interface: a remote call goes to one plugin instance",
                highlight: "class")),
    ]

    static let effectsAndGenerics: [RejectedRequirement] = [
        .init(
            "func get() -> Int",
            Problem(
                message: "'get()' must be 'async throws' (add 'async throws'): a remote call suspends and can fail",
                highlight: "get")),
        .init(
            "func get(_ key: String, at index: Int) throws -> Int",
            Problem(
                message: "'get(_:at:)' must be 'async throws' (add 'async'): a remote call suspends and can fail",
                highlight: "get")),
        .init(
            "func get() async -> Int",
            Problem(
                message: "'get()' must be 'async throws' (add 'throws'): a remote call suspends and can fail",
                highlight: "get")),
        .init(
            "func get() async throws(StoreError) -> Int",
            Problem(
                message:
                    "typed throws is not supported in a plugin interface: the client must also throw transport errors (RPCError); use plain 'throws'",
                highlight: "throws(StoreError)")),
        .init(
            "func get() async rethrows -> Int",
            Problem(
                message:
                    "'rethrows' is not supported in a plugin interface: a remote call can fail whatever its arguments; use 'throws'",
                highlight: "rethrows")),
        .init(
            "func get<Value: Codable>(_ key: String) async throws -> Value",
            Problem(
                message:
                    "generic methods are not supported in a plugin interface: the service must know each argument's concrete type to decode it",
                highlight: "<Value: Codable>")),
        .init(
            "func get(_ key: String) async throws -> Int where Self: Sendable",
            Problem(
                message:
                    "'where' clauses are not supported on plugin interface methods: the service must know each type",
                highlight: "where Self: Sendable")),
        .init(
            "mutating func bump() async throws",
            Problem(
                message:
                    "'mutating' methods are not supported in a plugin interface: the service shares one implementation between concurrent calls",
                highlight: "mutating")),
    ]

    static let parameterAndResultTypes: [RejectedRequirement] = [
        .init(
            "func bump(_ value: inout Int) async throws",
            Problem(
                message:
                    "'inout' parameters are not supported in a plugin interface: a remote call cannot write back to the caller's variable",
                highlight: "inout")),
        .init(
            "func sum(_ values: Int...) async throws -> Int",
            Problem(
                message: "variadic parameters are not supported in a plugin interface: use an array",
                highlight: "...")),
        .init(
            "func put(_ value: sending Data) async throws",
            Problem(
                message:
                    "'sending' is not supported in a plugin interface: arguments and results are copied over the wire",
                highlight: "sending")),
        .init(
            "func put(_ value: borrowing Data) async throws",
            Problem(
                message:
                    "'borrowing' is not supported in a plugin interface: arguments and results are copied over the wire",
                highlight: "borrowing")),
        .init(
            "func put(_ value: some Codable) async throws",
            Problem(
                message:
                    "'some' types are not supported in a plugin interface: the receiver must know the concrete type to decode it",
                highlight: "some Codable")),
        .init(
            "func get() async throws -> any Codable",
            Problem(
                message:
                    "'any' types are not supported in a plugin interface: the receiver must know the concrete type to decode it",
                highlight: "any Codable")),
        .init(
            "func put(_ values: [String: any Codable]) async throws",
            Problem(
                message:
                    "'any' types are not supported in a plugin interface: the receiver must know the concrete type to decode it",
                highlight: "any Codable")),
        .init(
            "func put(_ value: Codable & Sendable) async throws",
            Problem(
                message:
                    "protocol composition types are not supported in a plugin interface: the receiver must know the concrete type to decode it",
                highlight: "Codable & Sendable")),
        .init(
            "func observe(_ handler: @escaping @Sendable (Int) -> Void) async throws",
            Problem(
                message:
                    "function types are not supported in a plugin interface: a closure cannot be sent to another process",
                highlight: "(Int) -> Void")),
        .init(
            "func get() async throws -> () -> Int",
            Problem(
                message:
                    "function types are not supported in a plugin interface: a closure cannot be sent to another process",
                highlight: "() -> Int")),
        .init(
            "func get() async throws -> (Int, String)",
            Problem(
                message: "tuple types are not supported in a plugin interface: tuples are not Codable; use a struct",
                highlight: "(Int, String)")),
        .init(
            "func put(_ pairs: [(key: String, value: Int)]) async throws",
            Problem(
                message: "tuple types are not supported in a plugin interface: tuples are not Codable; use a struct",
                highlight: "(key: String, value: Int)")),
        .init(
            "func copy() async throws -> Self",
            Problem(
                message:
                    "'Self' is not supported in a plugin interface: the client and the implementation are different types",
                highlight: "Self")),
        .init(
            "func merge(_ others: [Self.Entry]) async throws",
            Problem(
                message:
                    "'Self' is not supported in a plugin interface: the client and the implementation are different types",
                highlight: "Self")),
        .init(
            "func put(_ value: Int!) async throws",
            Problem(
                message:
                    "implicitly unwrapped optionals are not supported in a plugin interface: use an optional ('?')",
                highlight: "Int!")),
    ]

    static let streams: [RejectedRequirement] = [
        .init(
            "func merge(_ left: RPCStream<Int>, _ right: RPCStream<Int>) async throws -> Int",
            Problem(
                message:
                    "a plugin interface method can take at most one 'RPCStream' or 'ByteStream' parameter: a call carries one stream each way",
                highlight: "_ right: RPCStream<Int>")),
        .init(
            "func watch() async throws -> RPCStream<Int>?",
            Problem(
                message: "'RPCStream' must be the whole type of a parameter or of the result, not part of another type",
                highlight: "RPCStream<Int>")),
        .init(
            "func load(_ batches: [RPCStream<Int>]) async throws",
            Problem(
                message: "'RPCStream' must be the whole type of a parameter or of the result, not part of another type",
                highlight: "RPCStream<Int>")),
        .init(
            "func watch() async throws -> RPCStream<RPCStream<Int>>",
            Problem(
                message: "'RPCStream' must be the whole type of a parameter or of the result, not part of another type",
                highlight: "RPCStream<Int>")),
        .init(
            "func watch() async throws -> RPCStream<Int, String>",
            Problem(
                message: "'RPCStream' takes exactly one generic argument: the element type",
                highlight: "RPCStream<Int, String>")),
        .init(
            "func load(_ rows: RPCStream) async throws",
            Problem(
                message: "'RPCStream' takes exactly one generic argument: the element type",
                highlight: "RPCStream")),
    ]

    static let byteStreams: [RejectedRequirement] = [
        .init(
            "func merge(_ left: ByteStream, _ right: ByteStream) async throws -> Int",
            Problem(
                message:
                    "a plugin interface method can take at most one 'RPCStream' or 'ByteStream' parameter: a call carries one stream each way",
                highlight: "_ right: ByteStream")),
        .init(
            "func merge(_ rows: RPCStream<Int>, _ blob: ByteStream) async throws",
            Problem(
                message:
                    "a plugin interface method can take at most one 'RPCStream' or 'ByteStream' parameter: a call carries one stream each way",
                highlight: "_ blob: ByteStream")),
        .init(
            "func read() async throws -> ByteStream?",
            Problem(
                message:
                    "'ByteStream' must be the whole type of a parameter or of the result, not part of another type",
                highlight: "ByteStream")),
        .init(
            "func write(_ parts: [TetherRPC.ByteStream]) async throws",
            Problem(
                message:
                    "'ByteStream' must be the whole type of a parameter or of the result, not part of another type",
                highlight: "TetherRPC.ByteStream")),
        .init(
            "func read() async throws -> ByteStream<UInt8>",
            Problem(
                message: "'ByteStream' takes no generic argument: it carries raw bytes",
                highlight: "ByteStream<UInt8>")),
        .init(
            "func convert(_ rows: RPCStream<Int>) async throws -> ByteStream",
            Problem(
                message:
                    "a method cannot combine an 'RPCStream' and a 'ByteStream': a call's streams are both items or both raw bytes",
                highlight: "(_ rows: RPCStream<Int>) async throws -> ByteStream")),
        .init(
            "func convert(_ data: ByteStream) async throws -> RPCStream<Int>",
            Problem(
                message:
                    "a method cannot combine an 'RPCStream' and a 'ByteStream': a call's streams are both items or both raw bytes",
                highlight: "(_ data: ByteStream) async throws -> RPCStream<Int>")),
    ]

    @Test(arguments: notMethods)
    func onlyInstanceMethodsAreRequirements(_ rejected: RejectedRequirement) {
        assertRejected(rejected.source, rejected.diagnostics)
    }

    @Test(arguments: effectsAndGenerics)
    func methodsAreAsyncThrowsAndNotGeneric(_ rejected: RejectedRequirement) {
        assertRejected(rejected.source, rejected.diagnostics)
    }

    @Test(arguments: parameterAndResultTypes)
    func typesMustBeConcreteAndEncodable(_ rejected: RejectedRequirement) {
        assertRejected(rejected.source, rejected.diagnostics)
    }

    @Test(arguments: streams)
    func streamsAreWholeTypesAndAtMostOneEachWay(_ rejected: RejectedRequirement) {
        assertRejected(rejected.source, rejected.diagnostics)
    }

    @Test(arguments: byteStreams)
    func byteStreamsAreWholeTypesOneEachWayAndNotMixedWithItems(_ rejected: RejectedRequirement) {
        assertRejected(rejected.source, rejected.diagnostics)
    }
}
