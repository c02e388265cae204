// kv-plugin: serves an in-memory KeyValueStore to the Tether host that starts it (kv-host).
// Run by hand, it explains that it is a plugin and exits with status 1.
import Foundation
import KeyValueExample
import Tether

let handshake = HandshakeConfiguration(
    cookieKey: KeyValuePlugin.cookieKey, cookieValue: KeyValuePlugin.cookieValue,
    appVersions: [KeyValuePlugin.appVersion])

let status = await PluginServer.serve(
    handshake: handshake,
    services: [KeyValuePlugin.appVersion: [KeyValuePlugin.serviceName: KeyValueStoreService(MemoryStore())]])
exit(status)
