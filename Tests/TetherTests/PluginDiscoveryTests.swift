import Foundation
import Synchronization
import Testing
import Tether
import TetherReactor
import TetherTesting

// Discovery on real directories (made afresh in the temporary directory for each test), probing
// with real processes: the test plugin as the good candidate, shell scripts as the bad ones.

/// Its leak checks count this process's descriptors and children, which tests running at the
/// same time would change: run it with `swift test --no-parallel` (as `make test` does).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct PluginDiscoveryTests {
    @Test func findsExecutablesAndReportsWhatItSkipsAndWhy() async throws {
        try await withScratchDirectory { root in
            let plugins = try root.directory("plugins")
            let elsewhere = try root.directory("elsewhere")
            try plugins.executable("plugin-a")
            try plugins.file("plugin-b", mode: 0o644)
            _ = try plugins.directory("plugin-c")
            try elsewhere.executable("real")
            try plugins.link("plugin-d", to: "../elsewhere/real")
            try plugins.link("plugin-e", to: "plugin-a")  // a second path to plugin-a
            try plugins.link("plugin-f", to: "missing")
            try plugins.link("plugin-g", to: "plugin-h")
            try plugins.link("plugin-h", to: "plugin-g")
            try plugins.link("plugin-i", to: "plugin-i")
            try plugins.link("plugin-j", to: "plugin-c")
            try await plugins.fifo("plugin-k")
            try plugins.link("plugin-l", to: "plugin-b")
            try plugins.executable("other")  // not matched: neither found nor skipped
            try plugins.executable(".plugin-hidden")  // `*` does not match a leading period

            let report = PluginDiscovery(pattern: try GlobPattern("plugin-*"), directories: [plugins.path]).discover()

            #expect(
                report.plugins == [
                    DiscoveredPlugin(path: plugins / "plugin-a", directory: plugins.path, name: "plugin-a"),
                    DiscoveredPlugin(
                        path: plugins / "plugin-d", directory: plugins.path, name: "plugin-d",
                        resolvedPath: plugins / "../elsewhere/real"),
                ])
            #expect(
                report.skipped.map { [$0.path, $0.reason.name] } == [
                    [plugins / "plugin-b", "notExecutable"],
                    [plugins / "plugin-c", "directory"],
                    [plugins / "plugin-e", "duplicate"],
                    [plugins / "plugin-f", "danglingSymlink"],
                    [plugins / "plugin-g", "symlinkLoop"],
                    [plugins / "plugin-h", "symlinkLoop"],
                    [plugins / "plugin-i", "symlinkLoop"],
                    [plugins / "plugin-j", "directory"],
                    [plugins / "plugin-k", "notRegularFile"],
                    [plugins / "plugin-l", "notExecutable"],
                ])
            let details = Dictionary(uniqueKeysWithValues: report.skipped.map { ($0.path, $0.detail) })
            #expect(details[plugins / "plugin-e"] == "the same file as \(plugins / "plugin-a")")
            #expect(details[plugins / "plugin-f"] == "a symbolic link to \(plugins / "missing"), which does not exist")
            #expect(details[plugins / "plugin-j"] == "a symbolic link to \(plugins / "plugin-c"), which is a directory")
            #expect(
                report.skipped.first?.description
                    == "\(plugins / "plugin-b"): skipped (notExecutable): a regular file this process may not execute"
                    + " (no execute permission)")
        }
    }

    /// Directories in the order given; names within each by their UTF-8 bytes (upper case before
    /// lower, `10` before `2`, non-ASCII last), whatever order the directory lists them in.
    @Test func ordersByDirectoryThenNameBytewise() throws {
        try withScratchDirectory { root in
            let first = try root.directory("first")
            let second = try root.directory("second")
            for name in ["émile", "beta", "Zeta", "alpha", "plugin-2", "plugin-10"] { try first.executable(name) }
            for name in ["b", "a"] { try second.executable(name) }

            let report = PluginDiscovery(pattern: try GlobPattern("*"), directories: [second.path, first.path])
                .discover()

            #expect(
                report.plugins.map(\.path) == [
                    second / "a", second / "b",
                    first / "Zeta", first / "alpha", first / "beta", first / "plugin-10", first / "plugin-2",
                    first / "émile",
                ])
            #expect(report.skipped.isEmpty)
        }
    }

    /// A directory listed twice (by the same path or another) is read once; a file reached twice
    /// (a hard link in another directory) is reported once; a missing directory, a file listed as
    /// a directory and links to nothing are skipped, not errors; relative directories are taken
    /// from the current directory and reported absolute.
    @Test func readsEachDirectoryAndFileOnceAndSkipsMissingOnes() throws {
        try withScratchDirectory { root in
            let plugins = try root.directory("plugins")
            let other = try root.directory("other")
            try plugins.executable("kv")
            try FileManager.default.linkItem(atPath: plugins / "kv", toPath: other / "kv")
            try other.executable("kv2")
            try root.link("plugins-link", to: "plugins")
            try root.link("nowhere-link", to: "nowhere")
            try root.link("loop-link", to: "loop-link")
            try root.file("a-file", mode: 0o755)
            let relative = "../other/"
            let previous = FileManager.default.currentDirectoryPath
            #expect(FileManager.default.changeCurrentDirectoryPath(plugins.path))
            defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }

            let report = PluginDiscovery(
                pattern: try GlobPattern("kv*"),
                directories: [
                    plugins.path, plugins.path + "/", root / "plugins-link", root / "missing", root / "nowhere-link",
                    root / "loop-link", root / "a-file", relative,
                ]
            ).discover()

            let relativeDirectory = plugins.path + "/" + relative
            #expect(
                report.plugins.map(\.path) == [plugins / "kv", relativeDirectory + "kv2"])
            #expect(report.plugins.last?.directory == relativeDirectory)
            #expect(
                report.skipped.map { [$0.path, $0.reason.name] } == [
                    [plugins.path + "/", "duplicateDirectory"],
                    [root / "plugins-link", "duplicateDirectory"],
                    [root / "missing", "missingDirectory"],
                    [root / "nowhere-link", "missingDirectory"],
                    [root / "loop-link", "symlinkLoop"],
                    [root / "a-file", "notADirectory"],
                    [relativeDirectory + "kv", "duplicate"],
                ])
            #expect(report.skipped.first?.detail == "the same directory as \(plugins.path), listed before")
        }
    }

    /// Root may list any directory, so this runs only for another user.
    @Test(.enabled(if: getuid() != 0, "root reads every directory"))
    func skipsADirectoryItCannotRead() throws {
        try withScratchDirectory { root in
            let locked = try root.directory("locked")
            try locked.executable("kv")
            try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: locked.path)
            defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: locked.path) }
            let report = PluginDiscovery(pattern: try GlobPattern("kv"), directories: [locked.path]).discover()
            #expect(report.plugins.isEmpty)
            #expect(report.skipped.map(\.reason) == [.unreadableDirectory])
        }
    }

    @Test func defaultDirectoriesAreTheUsersTheBinarysAndTheCurrentOne() throws {
        let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let binaryDirectory = URL(fileURLWithPath: binary).deletingLastPathComponent().path
        let current = FileManager.default.currentDirectoryPath
        #expect(
            PluginDiscovery.defaultDirectories(application: "kvstore", environment: ["HOME": "/home/ann"])
                == ["/home/ann/.local/share/kvstore/plugins", binaryDirectory, current])
        #expect(
            PluginDiscovery.defaultDirectories(
                application: "kvstore", environment: ["HOME": "/home/ann", "XDG_DATA_HOME": "/data/ann"])
                == ["/data/ann/kvstore/plugins", binaryDirectory, current])
        // A relative XDG_DATA_HOME is ignored, as the XDG specification asks; no home, no user directory.
        #expect(
            PluginDiscovery.defaultDirectories(
                application: "kvstore", environment: ["HOME": "/home/ann", "XDG_DATA_HOME": "data"])
                == ["/home/ann/.local/share/kvstore/plugins", binaryDirectory, current])
        #expect(
            PluginDiscovery.defaultDirectories(application: "kvstore", environment: [:]) == [binaryDirectory, current])
    }

    // MARK: Probing

    /// The test plugin (reached through a link) completes the handshake; a program that is not a
    /// plugin, one that prints garbage and one that exits are rejected with the start's error,
    /// and each is reaped with its descriptors and socket directory.
    @Test func probeKeepsThePluginAndRejectsTheRest() async throws {
        try await withScratchDirectory { root in
            let plugins = try root.directory("plugins")
            try plugins.link("plugin-1-good", to: pluginPath)
            try plugins.link("plugin-2-true", to: "/bin/true")
            try plugins.script("plugin-3-garbage", "echo 'hello, I am not a plugin'\necho '7|garbage'\nexec sleep 600")
            try plugins.script("plugin-4-exits", "echo 'cannot run here' >&2\nexit 4")
            let found = PluginDiscovery(pattern: try GlobPattern("plugin-*"), directories: [plugins.path]).discover()
            #expect(found.plugins.count == 4)
            // The good plugin must start whatever the load.
            let options = probeOptions(startTimeout: .seconds(20))

            let directoriesBefore = socketDirectories()
            try await withoutLeaks { reactor in
                let report = try await PluginDiscovery.probe(
                    found.plugins, template: configuration(), on: reactor, options: options)
                // Every probe was stopped and reaped before `probe` returned.
                #expect(ProcessResources.childProcessIDs().isEmpty, "a probed plugin is still running")

                #expect(report.accepted.map(\.plugin.name) == ["plugin-1-good"])
                #expect(report.accepted.first?.appVersion == 1)
                #expect(report.accepted.first?.plugin.resolvedPath == pluginPath)
                #expect(report.rejected.map(\.plugin.name) == ["plugin-2-true", "plugin-3-garbage", "plugin-4-exits"])
                #expect(
                    report.rejected.map(\.error.code) == [
                        .exitedBeforeHandshake, .malformedHandshake, .exitedBeforeHandshake,
                    ])
                #expect(
                    report.rejected.last?.error.message
                        == "\(plugins / "plugin-4-exits") exited with status 4 before its handshake; stderr: cannot run here"
                )
            }
            #expect(socketDirectories() == directoriesBefore)
        }
    }

    /// A plugin of another host (another cookie: it refuses to serve) and one that shares no
    /// version with this host are rejected with the handshake's own error.
    @Test(arguments: [
        ("someone-else", [1], PluginError.Code.cookieMismatch),
        ("plugin", [3, 4], .noCommonVersion),
    ])
    func probeRejectsAPluginOfAnotherHost(cookie: String, hostVersions: [Int], code: PluginError.Code) async throws {
        let candidate = DiscoveredPlugin(
            path: pluginPath, directory: URL(fileURLWithPath: pluginPath).deletingLastPathComponent().path,
            name: URL(fileURLWithPath: pluginPath).lastPathComponent)
        let template = {
            var template = configuration(hostVersions: hostVersions)
            template.handshake.cookieValue = cookie
            return template
        }()
        let options = probeOptions(startTimeout: .seconds(20))
        try await withoutLeaks { reactor in
            let report = try await PluginDiscovery.probe([candidate], template: template, on: reactor, options: options)
            #expect(report.accepted.isEmpty)
            #expect(report.rejected.map(\.error.code) == [code], "\(report.rejected)")
        }
    }

    /// A plugin that completes the handshake but ignores the quit and SIGTERM is accepted and then
    /// killed by `stop()`'s escalation before `probe` returns.
    @Test func probeStopsAStubbornPlugin() async throws {
        let candidate = DiscoveredPlugin(
            path: pluginPath, directory: URL(fileURLWithPath: pluginPath).deletingLastPathComponent().path,
            name: URL(fileURLWithPath: pluginPath).lastPathComponent)
        let template = {
            var template = configuration(mode: "stubborn")
            template.shutdownGrace = .milliseconds(200)
            return template
        }()
        let options = probeOptions(startTimeout: .seconds(20))
        try await withoutLeaks { reactor in
            let report = try await PluginDiscovery.probe([candidate], template: template, on: reactor, options: options)
            #expect(report.accepted.map(\.plugin) == [candidate])
            #expect(ProcessResources.childProcessIDs().isEmpty, "the stubborn plugin is still running")
        }
    }

    /// A candidate that never prints a handshake is killed at the probe's start timeout, with its
    /// process group (the `sleep` it started in the background too); so is one that floods its
    /// stdout with lines that are not a handshake.
    @Test func probeTimesOutACandidateThatHangs() async throws {
        try await withScratchDirectory { root in
            let plugins = try root.directory("plugins")
            try plugins.script("plugin-floods", "tr -dc 'a-z \\n' </dev/urandom | head -c 1000000\nexec sleep 600")
            try plugins.script("plugin-hangs", "sleep 600 &\necho \"helper $!\" >&2\nexec sleep 600")
            let found = PluginDiscovery(pattern: try GlobPattern("plugin-*"), directories: [plugins.path]).discover()
            let options = probeOptions(startTimeout: .seconds(2))
            let helper = Mutex<Int32?>(nil)
            let template = {
                var template = configuration()
                template.stderrSink = { line in
                    if line.hasPrefix("helper ") { helper.withLock { $0 = Int32(line.dropFirst("helper ".count)) } }
                }
                return template
            }()
            try await withoutLeaks { reactor in
                let report = try await PluginDiscovery.probe(
                    found.plugins, template: template, on: reactor, options: options)
                #expect(report.accepted.isEmpty)
                #expect(report.rejected.map(\.error.code) == [.startTimeout, .startTimeout])
                // The probe's deadline, not the template's (20 s).
                #expect(report.rejected.allSatisfy { $0.error.message.contains("within 2.0 seconds") })
            }
            let pid = try #require(helper.withLock { $0 })
            #expect(try await eventually { !ProcessResources.isRunning(pid) }, "the candidate's helper survived")
        }
    }

    /// No more than `maxConcurrentProbes` candidates run at once. Each candidate blocks until the
    /// test releases them, which it does once the bound is reached: if probing started more at
    /// once, they would all be running by then.
    @Test func probeRunsAtMostTheBoundAtOnce() async throws {
        try await withScratchDirectory { root in
            let plugins = try root.directory("plugins")
            let started = try root.directory("started")
            let release = root / "release"
            for index in 1...6 {
                try plugins.script(
                    "plugin-\(index)",
                    "touch '\(started.path)'/$$\nwhile [ ! -e '\(release)' ]; do sleep 0.02; done\nexit 0")
            }
            let found = PluginDiscovery(pattern: try GlobPattern("plugin-*"), directories: [plugins.path]).discover()
            let counts = Mutex((running: 0, most: 0, begun: 0))
            let options = probeOptions(startTimeout: .seconds(60), maxConcurrentProbes: 2) { _ in
                counts.withLock {
                    $0.running += 1
                    $0.begun += 1
                    $0.most = max($0.most, $0.running)
                }
            } onProbeEnd: { _ in
                counts.withLock { $0.running -= 1 }
            }
            try await withoutLeaks { reactor in
                let probing = Task(executorPreference: reactor) {
                    try await PluginDiscovery.probe(
                        found.plugins, template: configuration(), on: reactor, options: options)
                }
                // Both running scripts have started (each spawned and in its loop).
                #expect(
                    try await eventually(on: reactor) {
                        ((try? FileManager.default.contentsOfDirectory(atPath: started.path).count) ?? 0) >= 2
                    })
                #expect(FileManager.default.createFile(atPath: release, contents: nil))
                let report = try await probing.value
                #expect(report.rejected.map(\.error.code) == Array(repeating: .exitedBeforeHandshake, count: 6))
            }
            #expect(counts.withLock { $0.begun } == 6)
            #expect(counts.withLock { $0.most } == 2)
            #expect(try FileManager.default.contentsOfDirectory(atPath: started.path).count == 6)
        }
    }

    /// Cancelling the probing task stops the probes under way (each candidate killed and reaped),
    /// starts no new one, and throws `CancellationError`.
    @Test func cancellingAProbeReleasesEverything() async throws {
        try await withScratchDirectory { root in
            let plugins = try root.directory("plugins")
            for index in 1...3 { try plugins.script("plugin-\(index)", "exec sleep 600") }
            let found = PluginDiscovery(pattern: try GlobPattern("plugin-*"), directories: [plugins.path]).discover()
            let begun = Mutex(0)
            let options = probeOptions(startTimeout: .seconds(600), maxConcurrentProbes: 2) { _ in
                begun.withLock { $0 += 1 }
            }
            try await withoutLeaks { reactor in
                let probing = Task(executorPreference: reactor) {
                    try await PluginDiscovery.probe(
                        found.plugins, template: configuration(), on: reactor, options: options)
                }
                let bothRunning = try await eventually(on: reactor) { ProcessResources.childProcessIDs().count == 2 }
                #expect(bothRunning)
                probing.cancel()
                await #expect(throws: CancellationError.self) { _ = try await probing.value }
                #expect(ProcessResources.childProcessIDs().isEmpty)
            }
            #expect(begun.withLock { $0 } == 2)
        }
    }
}

/// Probe options for a test.
private func probeOptions(
    startTimeout: Duration, maxConcurrentProbes: Int = 4,
    onProbeBegin: @escaping @Sendable (DiscoveredPlugin) -> Void = { _ in },
    onProbeEnd: @escaping @Sendable (DiscoveredPlugin) -> Void = { _ in }
) -> PluginDiscovery.ProbeOptions {
    var options = PluginDiscovery.ProbeOptions()
    options.startTimeout = startTimeout
    options.maxConcurrentProbes = maxConcurrentProbes
    options.onProbeBegin = onProbeBegin
    options.onProbeEnd = onProbeEnd
    return options
}

// MARK: Scratch directories

/// A directory the test writes into.
private struct Scratch {
    let path: String

    static func / (scratch: Scratch, name: String) -> String { scratch.path + "/" + name }

    func directory(_ name: String) throws -> Scratch {
        try FileManager.default.createDirectory(atPath: self / name, withIntermediateDirectories: false)
        return Scratch(path: self / name)
    }

    func file(_ name: String, mode: Int, contents: String = "") throws {
        #expect(FileManager.default.createFile(atPath: self / name, contents: Data(contents.utf8)))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: self / name)
    }

    func executable(_ name: String) throws { try file(name, mode: 0o755, contents: "#!/bin/sh\nexit 0\n") }

    /// A shell script (mode 0755).
    func script(_ name: String, _ body: String) throws {
        try file(name, mode: 0o755, contents: "#!/bin/sh\n\(body)\n")
    }

    func link(_ name: String, to destination: String) throws {
        try FileManager.default.createSymbolicLink(atPath: self / name, withDestinationPath: destination)
    }

    func fifo(_ name: String) async throws { try await ChildRun.makeFIFO(self / name) }
}

/// Runs `body` with a new directory in the temporary directory and removes it afterwards.
private func withScratchDirectory<Result>(_ body: (Scratch) async throws -> Result) async throws -> Result {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("tether-discovery-\(UUID().uuidString)")
        .path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(Scratch(path: path))
}

private func withScratchDirectory<Result>(_ body: (Scratch) throws -> Result) throws -> Result {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("tether-discovery-\(UUID().uuidString)")
        .path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(Scratch(path: path))
}
