import SwiftCompilerPlugin
import SwiftSyntaxMacros

@main
struct TetherMacrosPlugin: CompilerPlugin {
    let providingMacros: [any Macro.Type] = [PluginInterfaceMacro.self]
}
