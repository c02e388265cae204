import TetherReactor

extension ReactorConfiguration {
    /// The default configuration with `injector` making the reactor's operations fail or fall
    /// short as the kernel could (see `FaultInjector`; for tests only).
    package static func injectingFaults(_ injector: FaultInjector) -> ReactorConfiguration {
        var configuration = ReactorConfiguration()
        configuration.faultInjector = injector
        return configuration
    }
}
