import SwiftDiagnostics
import SwiftSyntax
import SwiftSyntaxMacros

/// `@PluginInterface`: reads a protocol whose requirements are `async throws` methods and writes
/// two peers, `<Name>Client` (implements the protocol by calling a remote plugin through
/// `RPCChannel`) and `<Name>Service` (dispatches incoming calls to any implementation), both with
/// the protocol's access level.
///
/// Each method's wire id is `Interface.method(label:_:)`, from external labels only. An
/// `RPCStream<T>` parameter (at most one) is sent as the call's stream instead of an argument; an
/// `RPCStream<T>` result is received as one.
///
/// The checks are syntactic: a rule that syntax can show (no `some`/`any`, closures, tuples,
/// generics, `inout`, overloads by type, …) is an error here, reported for every offending node at
/// once, and nothing is generated until all are fixed. Whether an argument or result type is
/// `Codable` cannot be seen in syntax; a type that is not fails in the generated code with the
/// compiler's conformance error (for example "does not conform to protocol 'Decodable'").
public struct PluginInterfaceMacro: PeerMacro {
    public static func expansion(
        of node: AttributeSyntax,
        providingPeersOf declaration: some DeclSyntaxProtocol,
        in context: some MacroExpansionContext
    ) throws -> [DeclSyntax] {
        guard let protocolDecl = declaration.as(ProtocolDeclSyntax.self) else {
            context.diagnose(Diagnostic(node: node, message: PluginInterfaceDiagnostic.notAProtocol))
            return []
        }
        var reader = InterfaceReader()
        let model = reader.read(protocolDecl)
        guard reader.diagnostics.isEmpty else {
            // Source order, so the list reads top to bottom whatever order the checks ran in; ties
            // (two rules broken at one token) keep the order the checks found them.
            let ordered = reader.diagnostics.enumerated().sorted {
                ($0.element.position, $0.offset) < ($1.element.position, $1.offset)
            }
            for (_, diagnostic) in ordered {
                context.diagnose(diagnostic)
            }
            return []
        }
        return [ClientGenerator.declaration(for: model), ServiceGenerator.declaration(for: model)]
    }
}
