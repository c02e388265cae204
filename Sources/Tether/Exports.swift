// A host or plugin imports `Tether` and gets the RPC runtime (RPCStream, RPCError) and the few
// reactor types its API names: the reactor it runs on, its configuration and errors, and the
// plugin's process and exit status. The rest of the reactor (sockets, pipes, buffers) stays in
// `TetherReactor` for code that uses it directly.
@_exported import TetherRPC

@_exported import class TetherReactor.ChildProcess
@_exported import enum TetherReactor.ExitStatus
@_exported import class TetherReactor.Reactor
@_exported import struct TetherReactor.ReactorConfiguration
@_exported import struct TetherReactor.ReactorError
