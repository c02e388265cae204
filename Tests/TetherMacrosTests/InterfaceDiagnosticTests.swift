import SwiftSyntaxMacrosGenericTestSupport
import Testing

/// Rules about the protocol as a whole, and how several problems are reported together.
@Suite struct InterfaceDiagnosticTests {
    @Test(arguments: ["struct Store {}", "enum Store {}", "final class Store {}", "actor Store {}", "func store() {}"])
    func attachedToSomethingElseThanAProtocol(_ declaration: String) {
        assertRejected(
            """
            @PluginInterface
            \(declaration)
            """,
            [
                DiagnosticSpec(
                    message: "'@PluginInterface' can only be attached to a protocol", line: 1, column: 1,
                    highlights: ["@PluginInterface"])
            ]
        )
    }

    @Test func primaryAssociatedTypesAndAssociatedTypes() {
        assertRejected(
            """
            @PluginInterface
            protocol Store<Key> {
                associatedtype Key: Codable
                func get(_ key: Key) async throws -> Int
            }
            """,
            [
                DiagnosticSpec(
                    message:
                        "a plugin interface cannot have primary associated types: its client and service are concrete types",
                    line: 2, column: 15, highlights: ["<Key>"]),
                DiagnosticSpec(
                    message:
                        "a plugin interface cannot have associated types: the client and service need every type to be concrete",
                    line: 3, column: 5, highlights: ["associatedtype Key: Codable"]),
            ]
        )
    }

    @Test func protocolWhereClause() {
        assertRejected(
            """
            @PluginInterface
            protocol Store where Self: Sendable {
                func count() async throws -> Int
            }
            """,
            [
                DiagnosticSpec(
                    message:
                        "a plugin interface cannot have a 'where' clause: its client and service are concrete types",
                    line: 2, column: 16, highlights: ["where Self: Sendable"])
            ]
        )
    }

    /// `Sendable` (however spelled) is the only protocol the generated client can satisfy without
    /// seeing its requirements.
    @Test func inheritanceOtherThanSendable() {
        assertRejected(
            """
            @PluginInterface
            protocol Store: Swift.Sendable, AnyObject, Sendable, Codable {
                func count() async throws -> Int
            }
            """,
            [
                DiagnosticSpec(
                    message:
                        "a plugin interface can only inherit from 'Sendable': the generated client cannot implement the requirements of 'AnyObject'",
                    line: 2, column: 33, highlights: ["AnyObject"]),
                DiagnosticSpec(
                    message:
                        "a plugin interface can only inherit from 'Sendable': the generated client cannot implement the requirements of 'Codable'",
                    line: 2, column: 54, highlights: ["Codable"]),
            ]
        )
    }

    /// Overloads that differ only in types (parameter or result) or internal names have one wire
    /// id; each later one is reported with a note at the first. Different labels are fine.
    @Test func sameWireIDTwice() {
        let firstGet = NoteSpec(message: "the method id is first used here", line: 3, column: 10)
        assertRejected(
            """
            @PluginInterface
            protocol Store {
                func get(_ key: String) async throws -> Int
                func get(_ key: Int) async throws -> Int
                func get(_ id: String) async throws -> String
                func get(key: String) async throws -> Int
            }
            """,
            [
                DiagnosticSpec(
                    message:
                        "method id 'Store.get(_:)' is already used by another method: methods cannot be overloaded by type alone; change the name or an argument label",
                    line: 4, column: 10, highlights: ["get"], notes: [firstGet]),
                DiagnosticSpec(
                    message:
                        "method id 'Store.get(_:)' is already used by another method: methods cannot be overloaded by type alone; change the name or an argument label",
                    line: 5, column: 10, highlights: ["get"], notes: [firstGet]),
            ]
        )
    }

    /// One expansion reports every problem, one diagnostic per offending node, in source order
    /// (not in the order the checks run), and generates nothing even for the valid method.
    @Test func everyProblemAtOnceInSourceOrder() {
        assertRejected(
            """
            @PluginInterface
            public protocol Store: AnyObject {
                var size: Int { get }
                func get(_ key: some Hashable) -> Int
                func put(_ value: inout Int, _ more: RPCStream<Int>, _ extra: RPCStream<Int>) async throws
                func fine() async throws -> Int
                func put(_ value: inout Int, _ more: RPCStream<Int>, _ other: RPCStream<Int>) async throws
            }
            """,
            [
                DiagnosticSpec(
                    message:
                        "a plugin interface can only inherit from 'Sendable': the generated client cannot implement the requirements of 'AnyObject'",
                    line: 2, column: 24),
                DiagnosticSpec(
                    message:
                        "a plugin interface cannot require a property: only 'async throws' methods can be called remotely",
                    line: 3, column: 5),
                DiagnosticSpec(
                    message:
                        "'get(_:)' must be 'async throws' (add 'async throws'): a remote call suspends and can fail",
                    line: 4, column: 10),
                DiagnosticSpec(
                    message:
                        "'some' types are not supported in a plugin interface: the receiver must know the concrete type to decode it",
                    line: 4, column: 21),
                DiagnosticSpec(
                    message:
                        "'inout' parameters are not supported in a plugin interface: a remote call cannot write back to the caller's variable",
                    line: 5, column: 23),
                DiagnosticSpec(
                    message:
                        "a plugin interface method can take at most one 'RPCStream' or 'ByteStream' parameter: a call carries one stream each way",
                    line: 5, column: 58),
                DiagnosticSpec(
                    message:
                        "method id 'Store.put(_:_:_:)' is already used by another method: methods cannot be overloaded by type alone; change the name or an argument label",
                    line: 7, column: 10,
                    notes: [NoteSpec(message: "the method id is first used here", line: 5, column: 10)]),
                DiagnosticSpec(
                    message:
                        "'inout' parameters are not supported in a plugin interface: a remote call cannot write back to the caller's variable",
                    line: 7, column: 23),
                DiagnosticSpec(
                    message:
                        "a plugin interface method can take at most one 'RPCStream' or 'ByteStream' parameter: a call carries one stream each way",
                    line: 7, column: 58),
            ]
        )
    }
}
