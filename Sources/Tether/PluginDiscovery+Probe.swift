import TetherReactor

extension PluginDiscovery {
    /// How ``probe(_:template:on:options:)`` runs its probes.
    public struct ProbeOptions: Sendable {
        /// The most candidates launched at once (at least 1). Each probe holds a process, its
        /// pipes and a socket until it is reaped, so this bounds what probing costs at a time.
        public var maxConcurrentProbes = 4
        /// The start deadline of each candidate (it replaces the template's
        /// ``PluginClientConfiguration/startTimeout``): a plugin answers within milliseconds, and
        /// an executable that is not one may never print anything.
        public var startTimeout: Duration = .seconds(5)
        /// Called as a probe begins, before its candidate is spawned (on the reactor's thread):
        /// for progress logs. Keep it short.
        public var onProbeBegin: @Sendable (DiscoveredPlugin) -> Void = { _ in }
        /// Called when a probe has ended, its candidate reaped and everything of it released.
        public var onProbeEnd: @Sendable (DiscoveredPlugin) -> Void = { _ in }

        /// The defaults: four at a time, five seconds each.
        public init() {}
    }

    /// Launches each candidate as a plugin of this host and keeps those that complete the
    /// handshake: the second half of go-plugin's discovery ("if it can communicate, set it up").
    ///
    /// Each candidate is started with ``PluginClient/start(_:on:)`` from `template` (its
    /// handshake above all: the cookie and the application versions this host speaks; its
    /// environment, arguments and sinks too) with the candidate's path as the executable and
    /// ``ProbeOptions/startTimeout`` as its start deadline, then stopped again with
    /// ``PluginClient/stop()``. A candidate is accepted when the start succeeds: it printed a
    /// handshake line with a version this host supports, listened where it said, and the
    /// session with its first streams opened. Anything else rejects it with the
    /// ``PluginError`` that `start` threw: `exitedBeforeHandshake` for a program that is not a
    /// plugin, `cookieMismatch` for a Tether plugin of another host (whose cookie it refused),
    /// `startTimeout` for one
    /// that prints nothing, `malformedHandshake` for garbage that looks like a handshake,
    /// `noCommonVersion`, and so on.
    ///
    /// At most ``ProbeOptions/maxConcurrentProbes`` candidates run at once; the next starts when
    /// one has been reaped. Whatever a candidate does, nothing of it is left when this returns:
    /// each is reaped, its descriptors closed, its socket directory removed (a start that fails
    /// kills its process; an accepted one is stopped with `stop()`'s escalation, bounded by the
    /// template's ``PluginClientConfiguration/shutdownGrace``). Probing n candidates takes at
    /// most about ⌈n / maxConcurrentProbes⌉ × (startTimeout + 3 × shutdownGrace).
    ///
    /// A plugin accepted here is not kept running: start it again with the same configuration
    /// when you use it. Probing runs code you did not choose to run: see
    /// ``defaultDirectories(application:environment:)`` about the current directory.
    ///
    /// - Returns: the accepted and the rejected candidates, each in the order of `candidates`.
    /// - Throws: `CancellationError` when the calling task is cancelled before every candidate
    ///   was probed (no new probe starts then; those under way end, and are released, first).
    public static func probe(
        _ candidates: [DiscoveredPlugin], template: PluginClientConfiguration, on reactor: Reactor,
        options: ProbeOptions = ProbeOptions()
    ) async throws(CancellationError) -> ProbeReport {
        let limit = max(1, options.maxConcurrentProbes)
        var outcomes = [ProbeOutcome?](repeating: nil, count: candidates.count)
        await withTaskGroup(of: (Int, ProbeOutcome).self) { group in
            var next = 0
            func launchNext() {
                let index = next
                next += 1
                let candidate = candidates[index]
                group.addTask(executorPreference: reactor) {
                    options.onProbeBegin(candidate)
                    let outcome = await probeOne(
                        candidate, template: template, startTimeout: options.startTimeout, on: reactor)
                    options.onProbeEnd(candidate)
                    return (index, outcome)
                }
            }
            while next < min(limit, candidates.count) { launchNext() }
            while let (index, outcome) = await group.next() {
                outcomes[index] = outcome
                if next < candidates.count, !Task.isCancelled { launchNext() }
            }
        }
        var report = ProbeReport()
        for (candidate, outcome) in zip(candidates, outcomes) {
            switch outcome {
            case .accepted(let accepted): report.accepted.append(accepted)
            case .rejected(let error): report.rejected.append(ProbeReport.Rejected(plugin: candidate, error: error))
            case .cancelled, nil: throw CancellationError()
            }
        }
        return report
    }

    /// How one probe ended.
    private enum ProbeOutcome: Sendable {
        case accepted(ProbeReport.Accepted)
        case rejected(PluginError)
        case cancelled
    }

    /// Starts and stops one candidate. `start` itself releases everything when it fails, and
    /// `stop` returns once the plugin is reaped, so nothing is left either way.
    private static func probeOne(
        _ candidate: DiscoveredPlugin, template: PluginClientConfiguration, startTimeout: Duration,
        on reactor: Reactor
    ) async -> ProbeOutcome {
        var configuration = template
        configuration.executable = candidate.path
        configuration.startTimeout = startTimeout
        do {
            let client = try await PluginClient.start(configuration, on: reactor)
            let accepted = ProbeReport.Accepted(
                plugin: candidate, appVersion: client.appVersion, handshake: client.handshake)
            await client.stop()
            return .accepted(accepted)
        } catch {
            if Task.isCancelled || error is CancellationError { return .cancelled }
            if let error = error as? PluginError { return .rejected(error) }
            // `start` documents only `PluginError`s; anything else still rejects the candidate.
            return .rejected(PluginError(.launchFailed, "\(candidate.path): \(error)"))
        }
    }
}

/// What ``PluginDiscovery/probe(_:template:on:options:)`` found: the candidates that completed
/// the handshake with this host and those that did not, with the reason.
public struct ProbeReport: Sendable {
    /// A candidate that started as a plugin of this host.
    public struct Accepted: Sendable, Equatable {
        /// The candidate.
        public var plugin: DiscoveredPlugin
        /// The application protocol version host and plugin agreed on.
        public var appVersion: Int
        /// The handshake line the plugin printed.
        public var handshake: HandshakeLine

        /// Creates a record of an accepted candidate.
        public init(plugin: DiscoveredPlugin, appVersion: Int, handshake: HandshakeLine) {
            self.plugin = plugin
            self.appVersion = appVersion
            self.handshake = handshake
        }
    }

    /// A candidate that did not start as a plugin of this host.
    public struct Rejected: Sendable, Hashable, CustomStringConvertible {
        /// The candidate.
        public var plugin: DiscoveredPlugin
        /// Why: what ``PluginClient/start(_:on:)`` threw.
        public var error: PluginError

        /// Creates a record of a rejected candidate.
        public init(plugin: DiscoveredPlugin, error: PluginError) {
            self.plugin = plugin
            self.error = error
        }

        /// `<path>: rejected: <error>`, for logs.
        public var description: String { "\(plugin.path): rejected: \(error)" }
    }

    /// The candidates that completed the handshake, in the order they were given.
    public var accepted: [Accepted] = []
    /// The others, in the order they were given.
    public var rejected: [Rejected] = []

    /// An empty report.
    public init() {}
}
