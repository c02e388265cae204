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

/// Asserts that `@PluginInterface` rejects `source` with exactly `diagnostics` and generates
/// nothing: the expansion is the source without the attribute's line.
func assertRejected(
    _ source: String,
    _ diagnostics: [DiagnosticSpec],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let withoutAttribute = source.split(separator: "\n", omittingEmptySubsequences: false)
        .filter { $0 != "@PluginInterface" }
        .joined(separator: "\n")
    assertPluginInterface(source, expandsTo: withoutAttribute, diagnostics: diagnostics, sourceLocation: sourceLocation)
}
