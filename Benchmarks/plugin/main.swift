import BenchEcho
import Glibc
import Tether

// `bench-plugin`: the plugin `bench launch` starts, built as the guide recommends for plugins
// (the Swift standard library linked statically, no Foundation): one 64-byte echo service.
let status = await PluginServer.serve(handshake: benchPluginHandshake, services: [1: ["echo": BenchEchoService()]])
exit(status)
