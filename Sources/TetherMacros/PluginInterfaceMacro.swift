import SwiftSyntax
import SwiftSyntaxMacros

/// Placeholder until the generator lands: refuses every expansion with a clear error.
public struct PluginInterfaceMacro: PeerMacro {
    public static func expansion(
        of node: AttributeSyntax,
        providingPeersOf declaration: some DeclSyntaxProtocol,
        in context: some MacroExpansionContext
    ) throws -> [DeclSyntax] {
        struct NotBuilt: Error, CustomStringConvertible {
            var description: String { "@PluginInterface is not implemented yet" }
        }
        throw NotBuilt()
    }
}
