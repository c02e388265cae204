import Foundation
import Testing
import Tether
import TetherReactor
import TetherTesting

/// A plugin that dies in the middle of its handshake: the start fails with an error that says
/// so, within the start, and leaves no process, descriptor or socket directory behind.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct PluginFaultTests {
    /// The handshake line is cut short by the exit (no newline): the start reports the line it
    /// got as malformed, and the plugin is reaped.
    @Test func exitCuttingTheHandshakeLineShort() async throws {
        let directories = socketDirectories()
        try await withoutLeaks { reactor in
            var plugin = configuration(mode: "exit-mid-handshake")
            plugin.environment["TETHER_TEST_EXIT_AT"] = "line"
            let error = await expectStartFails(.malformedHandshake, plugin, on: reactor)
            #expect(error?.message.contains("1|1|unix|/tmp/tether-cut") == true, "\(String(describing: error))")
        }
        #expect(socketDirectories() == directories)
    }

    /// The plugin prints a valid handshake, accepts the host's connection and exits before it
    /// serves anything. The host may get as far as opening the session's streams (yamux needs no
    /// answer for that): then the first call fails as the plugin's exit, with its status. Either
    /// way it is not a start timeout, and nothing is left behind.
    @Test func exitRightAfterAcceptingTheHost() async throws {
        let directories = socketDirectories()
        try await withoutLeaks { reactor in
            var plugin = configuration(mode: "exit-mid-handshake")
            plugin.environment["TETHER_TEST_EXIT_AT"] = "after-accept"
            do {
                let client = try await PluginClient.start(plugin, on: reactor)
                let error = await #expect(throws: PluginError.self) { _ = try await client.ping() }
                #expect(error?.code == .pluginExited, "\(String(describing: error))")
                #expect(error?.message.contains("status 5") == true, "\(String(describing: error))")
                await client.stop()
                #expect(try await client.waitForExit() == .exited(code: 5))
            } catch let error as PluginError {
                #expect(error.code != .startTimeout, "\(error)")
                #expect(error.message.contains("status 5"), "\(error)")
            }
        }
        #expect(socketDirectories() == directories)
    }
}
