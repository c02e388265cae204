/// What host and plugin agree on before they meet: the magic cookie and the application protocol
/// versions each side supports.
///
/// The cookie (`cookieKey=cookieValue` in the plugin's environment) only tells a plugin binary
/// that a host started it, so that a user who runs it by hand gets an explanation instead of a
/// process waiting for a connection. It is not security.
public struct HandshakeConfiguration: Sendable, Equatable {
    public var cookieKey: String
    public var cookieValue: String
    /// The application protocol versions this side supports.
    public var appVersions: [Int]

    public init(cookieKey: String, cookieValue: String, appVersions: [Int] = [1]) {
        self.cookieKey = cookieKey
        self.cookieValue = cookieValue
        self.appVersions = appVersions.sorted()
    }
}
