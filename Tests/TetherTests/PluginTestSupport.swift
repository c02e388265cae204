import Foundation
import Synchronization
import Testing
import Tether
import TetherReactor
import TetherTesting

// What the plugin-runtime tests share: the test plugin's configuration and the leak checks.

let pluginPath = TestExecutables.path("tether-test-plugin")

func configuration(
    mode: String = "serve", pluginVersions: String = "1", hostVersions: [Int] = [1]
) -> PluginClientConfiguration {
    var configuration = PluginClientConfiguration(
        executable: pluginPath,
        handshake: HandshakeConfiguration(
            cookieKey: "TETHER_TEST_COOKIE", cookieValue: "plugin", appVersions: hostVersions))
    configuration.environment = ["TETHER_TEST_PLUGIN_MODE": mode, "TETHER_TEST_PLUGIN_VERSIONS": pluginVersions]
    configuration.startTimeout = .seconds(20)
    return configuration
}

/// Runs `body` on a reactor and checks that it left no descriptor or child process behind
/// (descriptors of Foundation's run loops aside: they come and go with the pool's threads).
///
/// The check counts the whole process's descriptors and children: a test using it needs
/// `swift test --no-parallel` (as `make test` runs), or the tests running beside it are counted.
func withoutLeaks(_ body: @Sendable (Reactor) async throws -> Void) async throws {
    let descriptors = DescriptorSnapshot.ignoringRunLoops()
    try await withReactor { reactor in try await body(reactor) }
    #expect(ProcessResources.childProcessIDs().isEmpty, "a plugin process was left behind")
    #expect(descriptors.added == 0, "descriptors leaked")
}

/// Starts a plugin expecting `code`.
func expectStartFails(_ code: PluginError.Code, _ configuration: PluginClientConfiguration, on reactor: Reactor)
    async -> PluginError?
{
    let error = await #expect(throws: PluginError.self) { _ = try await PluginClient.start(configuration, on: reactor) }
    #expect(error?.code == code, "\(String(describing: error))")
    return error
}

/// Runs `work` in a task of its own and says whether it finished within `bound` (it is left
/// running when it did not: the test fails rather than hangs).
func finishes(within bound: Duration, on reactor: Reactor, _ work: @escaping @Sendable () async -> Void) async throws
    -> Bool
{
    let done = Flag()
    Task(executorPreference: reactor) {
        await work()
        done.set()
    }
    let attempts = Int(bound / .milliseconds(5))
    return try await eventually(on: reactor, attempts: attempts) { done.isSet }
}

/// The socket directories this process made (`tether-PID-…` in the temporary directory).
func socketDirectories() -> Set<String> {
    let prefix = "tether-\(getpid())-"
    let temporary = FileManager.default.temporaryDirectory.path
    let names = (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? []
    return Set(names.filter { $0.hasPrefix(prefix) })
}

/// Set once, read by a test's polling.
final class Flag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}

/// A group this process is not in (named in /etc/group, other than its own groups), for the
/// socket-group tests: giving a file to it proves the group was applied, which giving it to the
/// process's own group cannot. Only root may give a file to a group it is not in; CI runs as
/// root, so there `canGiveFilesToForeignGroups` holds and these tests run.
func foreignGroup() throws -> (name: String, gid: UInt32) {
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    let line: Substring = status.split(separator: "\n").first { $0.hasPrefix("Groups:") } ?? ""
    var own: Set<UInt32> = [getgid(), getegid()]
    for field in line.dropFirst("Groups:".count).split(whereSeparator: \.isWhitespace) {
        if let gid = UInt32(field) { own.insert(gid) }
    }
    let entries = try String(contentsOfFile: "/etc/group", encoding: .utf8).split(separator: "\n")
    for entry in entries {
        let fields = entry.split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count >= 3, let gid = UInt32(fields[2]), !own.contains(gid) else { continue }
        return (String(fields[0]), gid)
    }
    throw NoForeignGroup()
}

/// /etc/group names no group this process is not in.
struct NoForeignGroup: Error, CustomStringConvertible {
    var description: String { "no group in /etc/group that this process is not in" }
}

/// Whether the socket-group tests run: as root (needed to give a file to a group this process is
/// not in), or in CI, where not being root fails them rather than skipping them.
let canGiveFilesToForeignGroups = getuid() == 0 || ProcessInfo.processInfo.environment["CI"] != nil

/// Fails the test when it runs without root (only in CI, see ``canGiveFilesToForeignGroups``).
func requireRootForForeignGroups() throws {
    try #require(getuid() == 0, "giving a file to a group this process is not in needs root (CI runs as root)")
}

extension ChildRun {
    /// Makes a FIFO at `path` with `mkfifo(1)`, with `mode` (octal digits) when given.
    static func makeFIFO(_ path: String, mode: String? = nil) async throws {
        let made = try await run("/usr/bin/mkfifo", (mode.map { ["-m", $0] } ?? []) + [path])
        try #require(made.status == 0, "mkfifo \(path): \(made.stderr)")
    }
}
