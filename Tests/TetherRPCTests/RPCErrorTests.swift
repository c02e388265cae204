import Testing

@testable import TetherRPC

@Suite struct RPCErrorTests {
    @Test func descriptionNamesCodeAndMessage() {
        let error = RPCError(.unknownMethod, "KeyValue.get(_:)")
        #expect(error.description == "RPC unknownMethod: KeyValue.get(_:)")
        #expect(error != RPCError(.badArguments, "KeyValue.get(_:)"))
    }
}
