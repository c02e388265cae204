// kv-plugin: serves an in-memory KeyValueStore to the Tether host that starts it (kv-host).
// Run by hand, it explains that it is a plugin and exits with status 78.
import Glibc
import KeyValueExample
import KeyValueMemoryStore
import Logging
import Tether

// Every Logger of the plugin writes hclog JSON lines to stderr, which the host logs as records.
LoggingSystem.bootstrap(PluginLogHandler.init(label:))

let handshake = HandshakeConfiguration(
    cookieKey: KeyValuePlugin.cookieKey, cookieValue: KeyValuePlugin.cookieValue,
    appVersions: [KeyValuePlugin.appVersion])

let status = await PluginServer.serve(
    handshake: handshake,
    services: [KeyValuePlugin.appVersion: [KeyValuePlugin.serviceName: KeyValueStoreService(MemoryStore())]])
exit(status)
