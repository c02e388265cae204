import TetherMux

/// The streams every plugin session starts with, opened by the host in this order (go-plugin's
/// netrpc layout, docs/wire-protocol.md §10): 1 control, 3 the plugin's stdout, 5 its stderr.
/// RPC calls use the streams after them.
struct PluginStreams: Sendable {
    static let controlID: UInt32 = 1
    static let standardOutputID: UInt32 = 3
    static let standardErrorID: UInt32 = 5

    let control: MuxStream
    let standardOutput: MuxStream
    let standardError: MuxStream

    /// Host side: opens them. Each open sends its SYN, so the plugin sees them in this order.
    static func open(on session: MuxSession) async throws -> PluginStreams {
        try checked(try await session.openStream(), try await session.openStream(), try await session.openStream())
    }

    /// Plugin side: accepts them.
    static func accept(on session: MuxSession) async throws -> PluginStreams {
        try checked(
            try await session.acceptStream(), try await session.acceptStream(), try await session.acceptStream())
    }

    private static func checked(_ control: MuxStream, _ output: MuxStream, _ error: MuxStream) throws -> PluginStreams {
        guard control.id == controlID, output.id == standardOutputID, error.id == standardErrorID else {
            throw PluginError(
                .launchFailed, "the session's first streams are \(control.id), \(output.id), \(error.id), not 1, 3, 5")
        }
        return PluginStreams(control: control, standardOutput: output, standardError: error)
    }
}
