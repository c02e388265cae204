/// A key and its value, as ``KeyValueStore/load(_:)`` receives them.
public struct Entry: Codable, Sendable, Equatable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}
