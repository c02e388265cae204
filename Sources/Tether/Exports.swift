// A host or plugin imports `Tether` and gets the reactor (Reactor, ExitStatus, ChildProcess) and
// the RPC runtime (RPCStream, RPCError) its API uses, without naming those modules itself.
@_exported import TetherRPC
@_exported import TetherReactor
