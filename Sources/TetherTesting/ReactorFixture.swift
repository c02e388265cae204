import CoreMetrics
import TetherReactor

/// Runs `body` on a fresh reactor's thread and shuts the reactor down afterwards, also when
/// `body` throws, so a failing test leaks no thread or ring. The reactor reports its metrics to
/// `metricsFactory`.
public func withReactor<Result: Sendable>(
    configuration: ReactorConfiguration = .init(),
    metricsFactory: any MetricsFactory = MetricsSystem.factory,
    _ body: @Sendable (Reactor) async throws -> Result
) async throws -> Result {
    let reactor = try Reactor.start(configuration: configuration, metricsFactory: metricsFactory)
    do {
        let result = try await withTaskExecutorPreference(reactor) { try await body(reactor) }
        await reactor.shutdown()
        return result
    } catch {
        await reactor.shutdown()
        throw error
    }
}

/// Transports a test can run over.
public enum Transport: String, CaseIterable, Sendable, CustomStringConvertible {
    case socketpair, unix, tcp

    public var description: String { rawValue }

    /// A connected pair over this transport: (the side that connected or the first of the pair,
    /// the side that accepted or the second). Listeners are closed before returning.
    public func connectedPair(on reactor: Reactor) async throws -> (StreamSocket, StreamSocket) {
        switch self {
        case .socketpair:
            return try StreamSocket.makePair(on: reactor)
        case .unix:
            let path = "/tmp/tether-test-\(UInt64.random(in: 0...UInt64.max)).sock"
            return try await pair(listeningOn: .unix(path: path), reactor: reactor)
        case .tcp:
            return try await pair(listeningOn: .tcp(host: "127.0.0.1", port: 0), reactor: reactor)
        }
    }

    private func pair(listeningOn address: SocketAddress, reactor: Reactor) async throws -> (StreamSocket, StreamSocket)
    {
        let listener = try Listener.listen(on: address, reactor: reactor)
        async let accepted = listener.accept()
        let client = try await StreamSocket.connect(to: listener.address, on: reactor)
        let server = try await accepted
        try await listener.close()
        return (client, server)
    }
}
