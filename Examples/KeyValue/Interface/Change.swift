/// What ``KeyValueStore/watch(prefix:)`` reports: a key's new value, or nil when it was deleted.
public struct Change: Codable, Sendable, Equatable {
    public var key: String
    public var value: String?

    public init(key: String, value: String?) {
        self.key = key
        self.value = value
    }
}
