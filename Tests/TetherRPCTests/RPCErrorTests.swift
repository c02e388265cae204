import Testing
import TetherMessagePack

@testable import TetherRPC

@Suite struct RPCErrorTests {
    @Test func descriptionNamesCodeAndMessage() {
        let error = RPCError(.unknownMethod, "KeyValue.get(_:)")
        #expect(error.description == "RPC unknownMethod: KeyValue.get(_:)")
        #expect(error != RPCError(.badArguments, "KeyValue.get(_:)"))
    }

    /// The code travels as its name: a peer of a newer version may send one this side has no
    /// static member for, and it stays that code, equal to none of the known ones, when passed on.
    @Test func aCodeThisSideDoesNotKnowKeepsItsName() throws {
        struct Wire: Codable {
            var code: String
            var message: String
        }
        let bytes = try MessagePackEncoder().encode(Wire(code: "quotaExceeded", message: "over quota"))
        let error = try MessagePackDecoder().decode(RPCError.self, from: bytes)
        #expect(error.code.name == "quotaExceeded")
        #expect(error.code != .resourceExhausted)
        #expect(error.description == "RPC quotaExceeded: over quota")
        #expect(try MessagePackEncoder().encode(error) == bytes)
        let known = try MessagePackDecoder().decode(
            RPCError.self, from: MessagePackEncoder().encode(Wire(code: "deadlineExceeded", message: "")))
        #expect(known.code == .deadlineExceeded)
    }
}
