import CoreMetrics
import TetherReactor

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The plugin runtime's metrics for one plugin (`tether_plugin_*`, dimension `plugin`: the
/// configuration's `name` or the executable's file name, as in the log metadata). docs/guide.md lists them.
///
/// Made once per ``PluginClient/start(_:on:)``, and only when a backend is there (a factory
/// other than swift-metrics' no-op one); a plugin's start and exit are one event each, so each
/// metric is updated when its event happens.
struct PluginMetrics: Sendable {
    private let factory: any MetricsFactory
    private let dimensions: [(String, String)]

    /// The metrics of the plugin `configuration` starts: with its factory, or the bootstrapped
    /// one; nil when that is the no-op factory.
    init?(_ configuration: PluginClientConfiguration) {
        let factory = configuration.metricsFactory ?? MetricsSystem.factory
        guard !factory.isNoOp else { return nil }
        self.factory = factory
        self.dimensions = [("plugin", configuration.displayName)]
    }

    /// The plugin process was spawned.
    func launched() {
        Counter(label: "tether_plugin_launches", dimensions: dimensions, factory: factory).increment()
    }

    /// The plugin was ready (spawn to a session with its first streams) after `duration`.
    func started(after duration: Duration) {
        CoreMetrics.Timer(label: "tether_plugin_start_duration", dimensions: dimensions, factory: factory)
            .recordNanoseconds(Int64(clamping: duration.clampedNanoseconds))
    }

    /// The start failed with `error`: counted by its ``PluginError`` code, `other` for any other
    /// error (a cancellation, say).
    func startFailed(_ error: any Error) {
        let code = (error as? PluginError)?.code.name ?? "other"
        Counter(label: "tether_plugin_start_failures", dimensions: dimensions + [("code", code)], factory: factory)
            .increment()
    }

    /// The plugin process ended with `status`; `signalledByHost` when the host had sent it
    /// SIGTERM or SIGKILL (its stop escalation, or a failed start), `expected` when the host had
    /// asked it to stop.
    func exited(_ status: ExitStatus, signalledByHost: Bool, expected: Bool) {
        let kind: String
        switch status {
        case .exited(code: 0): kind = "clean"
        case .exited: kind = "failed"
        case .signaled: kind = signalledByHost ? "killed" : "signal"
        }
        let exitDimensions = dimensions + [("kind", kind), ("expected", expected ? "true" : "false")]
        Counter(label: "tether_plugin_exits", dimensions: exitDimensions, factory: factory).increment()
    }

    /// A supervised plugin was started again (``SupervisedPlugin``).
    func restarted() {
        Counter(label: "tether_plugin_restarts", dimensions: dimensions, factory: factory).increment()
    }

    /// A supervisor spent its restart budget and leaves the plugin down.
    func gaveUpRestarting() {
        Counter(label: "tether_plugin_restart_giveups", dimensions: dimensions, factory: factory).increment()
    }
}
