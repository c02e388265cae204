import SwiftSyntaxMacroExpansion
import SwiftSyntaxMacrosGenericTestSupport
import Testing

@testable import TetherMacros

let pluginInterfaceMacros: [String: MacroSpec] = ["PluginInterface": MacroSpec(type: PluginInterfaceMacro.self)]

/// `assertMacroExpansion` for `@PluginInterface`, reporting mismatches as Swift Testing issues at
/// the caller's line.
func assertPluginInterface(
    _ source: String,
    expandsTo expanded: String,
    diagnostics: [DiagnosticSpec] = [],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    assertMacroExpansion(
        source,
        expandedSource: expanded,
        diagnostics: diagnostics,
        macroSpecs: pluginInterfaceMacros,
        failureHandler: { failure in
            Issue.record(Comment(rawValue: failure.message), sourceLocation: sourceLocation)
        }
    )
}
