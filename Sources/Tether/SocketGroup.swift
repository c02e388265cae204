#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Gives a plugin's unix socket to the group the host named in `PLUGIN_UNIX_SOCKET_GROUP`
/// (go-plugin's `UnixSocketConfig.Group`) and makes it group read-write, so a host running as
/// another user of that group can connect; the host does the same for the socket directory
/// (mode 0770), so a plugin running as another user of the group can create its socket there.
enum SocketGroup {
    /// Gives `path` to `group`; the error when that fails, nil when it worked.
    static func problemGranting(_ path: String, to group: String, mode: Int = 0o660) -> PluginError? {
        do {
            try grant(path: path, to: group, mode: mode)
            return nil
        } catch {
            return error
        }
    }

    static func grant(path: String, to group: String, mode: Int = 0o660) throws(PluginError) {
        let gid: Int
        if let numeric = Int(group) {
            gid = numeric
        } else {
            guard
                let entry = try? String(contentsOfFile: "/etc/group", encoding: .utf8)
                    .split(separator: "\n").map({ $0.split(separator: ":", omittingEmptySubsequences: false) })
                    .first(where: { $0.count >= 3 && $0[0] == group }),
                let number = Int(entry[2])
            else { throw PluginError(.invalidEnvironment, "no group named \(group)") }
            gid = number
        }
        do {
            try FileManager.default.setAttributes(
                [.groupOwnerAccountID: gid, .posixPermissions: mode],
                ofItemAtPath: path)
        } catch {
            throw PluginError(.launchFailed, "giving \(path) to group \(group): \(error)")
        }
    }
}
