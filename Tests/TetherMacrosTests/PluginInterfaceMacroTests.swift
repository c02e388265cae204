import Testing

@testable import TetherMacros

@Suite struct PluginInterfaceMacroTests {
    @Test func macroTypeExists() {
        #expect(String(describing: PluginInterfaceMacro.self) == "PluginInterfaceMacro")
    }
}
