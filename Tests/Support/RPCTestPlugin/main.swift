// A plugin process for cross-process RPC tests: serves `KeyValue` (a fresh `Store`), `StoreProbe`
// (that store's counters), `GivesUp` and `Blobs` (a fresh `BlobStore`) on the yamux session over its fd 3
// until the host closes the session.
import RPCFixtures
import SystemPackage
import TetherMux
import TetherReactor

let reactor = try Reactor.start()
try await withTaskExecutorPreference(reactor) {
    let socket = StreamSocket.adopting(FileDescriptor(rawValue: 3), on: reactor)
    let session = try await MuxSession(socket: socket, role: .server)
    let server = RPCServer()
    let store = Store()
    server.register(KeyValueService(store))
    server.register(StoreProbeService(StoreCounters(store)))
    server.register(GivesUpService(GivingUp()))
    server.register(BlobsService(BlobStore()))
    await server.serve(session)
    await session.close()
}
await reactor.shutdown()
