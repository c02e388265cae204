import ArgumentParser
import Foundation
import Tether
import TetherMux
import TetherReactor
import TetherTesting

/// `bench fds`: the host's file descriptors per running plugin (1, 10, 100 and 500 plugins on
/// one reactor, each `bench-plugin`) and per stream (100,000 streams
/// opened and closed on one plugin's session), beside go-plugin's host, which holds three per
/// plugin: the connection and the pipes of the plugin's stdout and stderr (`exec.Cmd`), read for
/// the plugin's whole life.
struct FdsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fds", abstract: "Host file descriptors per plugin and per stream, beside go-plugin's.")

    @Option(help: "Plugins started at once, one row each.") var plugins: [Int] = [1, 10, 100, 500]
    @Option(help: "Streams opened and closed on one plugin's session.") var streams = 100_000
    @OptionGroup var output: ResultOptions

    /// go-plugin's host: the connection (yamux or gRPC) and the stdout and stderr pipes.
    static let goPluginPerPlugin = 3

    func run() async throws {
        // 500 plugins hold 1,500 descriptors, and a start a few more for a moment.
        let limit = try ProcessControl.openFileLimit()
        if limit.soft < limit.hard { try ProcessControl.setOpenFileLimit(soft: limit.hard) }
        let soft = try ProcessControl.openFileLimit().soft
        let reactor = try Reactor.start(configuration: benchReactorConfiguration)
        let plugin = BenchPlugin.locate()
        let title = "bench fds: host file descriptors per plugin and per stream (RLIMIT_NOFILE \(soft))"
        let tables = try await withTaskExecutorPreference(reactor) {
            print("## \(title)\n")
            print(
                padded("plugins", 10) + padded("host fds", 10) + padded("per plugin", 12)
                    + padded("sockets/pipes/pidfds per plugin", 33) + padded("go-plugin per plugin", 22)
                    + "after stop: fds, children")
            var pluginRows: [ResultRow] = []
            for count in plugins {
                let (text, row) = try await Self.pluginRow(count: count, plugin: plugin, reactor: reactor)
                print(text)
                pluginRows.append(row)
            }
            print("")
            print(
                padded("streams", 10) + padded("host fds before", 17) + padded("with streams open (max)", 25)
                    + padded("after", 8) + "per stream")
            let (text, streamRow) = try await Self.streamRow(count: streams, plugin: plugin, reactor: reactor)
            print(text)
            print("")
            return [
                ResultTable(
                    id: "fds", title: title,
                    subtitle: "plugins started at once, each called once; host descriptors while they run and after",
                    labelHeader: "plugins", seriesHeader: "host", ratioHeader: "per plugin / go-plugin",
                    chart: ChartSpec(metric: "fds per plugin", higherIsBetter: false), rows: pluginRows),
                ResultTable(
                    id: "fds-streams", title: "bench fds: \(streams) streams opened and closed on one plugin's session",
                    labelHeader: "streams", seriesHeader: "host", rows: [streamRow]),
            ]
        }
        await reactor.shutdown()
        try output.write(
            scenario: "fds", parameters: ["plugins": .ints(plugins), "streams": .int(streams)], tables: tables)
    }

    /// `count` plugins started at once, each called once (by then it forwards its output over
    /// streams 3 and 5), their descriptors counted once the host has closed the stdout pipes it
    /// read to the end; then all stopped.
    private static func pluginRow(count: Int, plugin: BenchPlugin, reactor: Reactor) async throws -> (
        String, ResultRow
    ) {
        let before = HostDescriptors.now()
        let host = PluginHost(reactor: reactor)
        let clients = try await startBenchPlugins(
            count, plugin: plugin, startTimeout: .seconds(60), host: host, reactor: reactor)
        try await echoOnceEach(clients, reactor: reactor)
        // The stdout pipes end as the plugins move fd 1 to stream 3; wait (at most 2 s) for it.
        var during = HostDescriptors.now()
        for _ in 0..<200 where during.total - before.total > 3 * count {
            try await reactor.sleep(for: .milliseconds(10))
            during = HostDescriptors.now()
        }
        await host.shutdown()
        let after = HostDescriptors.now()
        let perPlugin = Double(during.total - before.total) / Double(count)
        let kinds = [during.sockets - before.sockets, during.pipes - before.pipes, during.pidfds - before.pidfds]
            .map { format(Double($0) / Double(count), 2) }.joined(separator: "/")
        let children = ProcessResources.childProcessIDs().count
        let text =
            padded("\(count)", 10) + padded("\(during.total - before.total)", 10) + padded(format(perPlugin, 2), 12)
            + padded(kinds, 33) + padded("\(goPluginPerPlugin)", 22)
            + "\(after.total - before.total >= 0 ? "+" : "")\(after.total - before.total), \(children)"
        func per(_ value: Int) -> Double { Double(value) / Double(count) }
        let row = ResultRow(
            label: "\(count) plugin\(count == 1 ? "" : "s")",
            tether: [
                Series(
                    "Tether",
                    [
                        .single("fds per plugin", "", perPlugin, digits: 2),
                        .single("host fds", "", Double(during.total - before.total)),
                        .single("sockets per plugin", "", per(during.sockets - before.sockets), digits: 2),
                        .single("pipes per plugin", "", per(during.pipes - before.pipes), digits: 2),
                        .single("pidfds per plugin", "", per(during.pidfds - before.pidfds), digits: 2),
                        .single("fds after stop", "", Double(after.total - before.total)),
                        .single("children after stop", "", Double(children)),
                    ], ratio: perPlugin / Double(goPluginPerPlugin))
            ],
            baselines: [
                Series(
                    "go-plugin", [.single("fds per plugin", "", Double(goPluginPerPlugin))],
                    note: "from go-plugin's design, not measured: the connection and the plugin's stdout and stderr"
                        + " pipes (exec.Cmd)")
            ])
        return (text, row)
    }

    /// One plugin; `count` streams opened on its session a thousand at a time and closed; the
    /// host's descriptors before, the most seen while streams were open, and after.
    private static func streamRow(count: Int, plugin: BenchPlugin, reactor: Reactor) async throws -> (
        String, ResultRow
    ) {
        let client = try await PluginClient.start(
            plugin.configuration(startTimeout: .seconds(60)), on: reactor)
        _ = try await client.ping()
        var before = HostDescriptors.now().total
        for _ in 0..<200 {  // the stdout pipe closing, as above
            try await reactor.sleep(for: .milliseconds(10))
            let now = HostDescriptors.now().total
            if now == before { break }
            before = now
        }
        var most = before
        var opened = 0
        while opened < count {
            var batch: [MuxStream] = []
            for _ in 0..<min(1_000, count - opened) { batch.append(try await client.session.openStream()) }
            opened += batch.count
            most = max(most, HostDescriptors.now().total)
            for stream in batch { await stream.close() }
        }
        let after = HostDescriptors.now().total
        await client.stop()
        let text =
            padded("\(count)", 10) + padded("\(before)", 17) + padded("\(most)", 25) + padded("\(after)", 8)
            + format(Double(most - before) / Double(count), 6)
        let row = ResultRow(
            label: "\(count) streams",
            tether: [
                Series(
                    "Tether",
                    [
                        .single("host fds before", "", Double(before)),
                        .single("with streams open (max)", "", Double(most)),
                        .single("after", "", Double(after)),
                        .single("fds per stream", "", Double(most - before) / Double(count), digits: 6),
                    ])
            ], baselines: [])
        return (text, row)
    }
}

/// The descriptors a plugin can cost its host, by kind, from `/proc/self/fd`. The run loops of
/// the runtime's worker threads (an epoll, a timerfd, an eventfd each, closed when an idle
/// thread exits) are left out: they come and go with the thread pool, not with plugins.
struct HostDescriptors {
    var sockets = 0
    var pipes = 0
    var pidfds = 0
    var others = 0
    var total: Int { sockets + pipes + pidfds + others }

    static func now() -> HostDescriptors {
        var count = HostDescriptors()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for name in names {
            let path = "/proc/self/fd/\(name)"
            // The directory's own descriptor is closed by now: it has no target.
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) else { continue }
            if target.hasPrefix("socket:") {
                count.sockets += 1
            } else if target.hasPrefix("pipe:") {
                count.pipes += 1
            } else if target == "anon_inode:[pidfd]" {
                count.pidfds += 1
            } else if !ProcessResources.runLoopDescriptorKinds.contains(target) {
                count.others += 1
            }
        }
        return count
    }
}
