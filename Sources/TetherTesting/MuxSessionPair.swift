import CoreMetrics
import TetherMux
import TetherReactor

/// Runs `body` with a client and a server session over a real connected pair on one fresh
/// reactor, then closes both sessions and shuts the reactor down (also when `body` throws). The
/// reactor and both sessions report their metrics to `metricsFactory`.
public func withMuxSessionPair<Result: Sendable>(
    over transport: Transport = .socketpair,
    reactor reactorConfiguration: ReactorConfiguration = ReactorConfiguration(),
    client clientConfiguration: MuxConfiguration = MuxConfiguration(),
    server serverConfiguration: MuxConfiguration = MuxConfiguration(),
    metricsFactory: any MetricsFactory = MetricsSystem.factory,
    _ body: @Sendable (MuxSession, MuxSession, Reactor) async throws -> Result
) async throws -> Result {
    try await withReactor(configuration: reactorConfiguration, metricsFactory: metricsFactory) { reactor in
        let (a, b) = try await transport.connectedPair(on: reactor)
        let client = try await MuxSession(
            socket: a, role: .client, configuration: clientConfiguration, metricsFactory: metricsFactory)
        let server = try await MuxSession(
            socket: b, role: .server, configuration: serverConfiguration, metricsFactory: metricsFactory)
        do {
            let result = try await body(client, server, reactor)
            await client.close()
            await server.close()
            return result
        } catch {
            await client.close()
            await server.close()
            throw error
        }
    }
}
