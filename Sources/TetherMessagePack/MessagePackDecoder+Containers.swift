/// The `Decoder` handed to `init(from:)`: the value at `index`.
struct ValueDecoder: Decoder {
    let context: DecodingContext
    let index: Int
    let path: CodingPath

    var codingPath: [any CodingKey] { path.keys }
    var userInfo: [CodingUserInfoKey: Any] { context.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(try KeyedDecoder<Key>(context: context, index: index, path: path))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try UnkeyedDecoder(context: context, index: index, path: path)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValueDecoder(context: context, index: index, path: path)
    }
}

extension DecodingContext {
    /// Opens the container at `index`: nil there is valueNotFound, nesting beyond maxDepth is
    /// depthExceeded.
    func openContainer(
        at index: Int, path: CodingPath, _ read: (inout MessagePackReader) throws(MessagePackError) -> Int
    )
        throws(MessagePackError) -> (count: Int, reader: MessagePackReader)
    {
        var reader = reader(at: index)
        do throws(MessagePackError) {
            if isNil(at: index) { throw reader.error(.valueNotFound, "expected a container, found nil", at: index) }
            let count = try read(&reader)
            try reader.checkDepth(path.depth + 1, at: index)
            return (count, reader)
        } catch {
            throw error.at(path.keys.dottedString)
        }
    }
}

/// A map, scanned once when opened: its keys and where each value starts.
struct KeyedDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let context: DecodingContext
    let path: CodingPath
    private var entries: [(key: String, index: Int)] = []
    /// Key to entry for maps too large to search linearly.
    private var lookup: [String: Int]?

    /// Up to this many entries, a linear search (and a quadratic duplicate check) beats hashing.
    private static var linearSearchLimit: Int { 16 }

    init(context: DecodingContext, index: Int, path: CodingPath) throws(MessagePackError) {
        self.context = context
        self.path = path
        let (count, reader) = try context.openContainer(at: index, path: path) { reader throws(MessagePackError) in
            try reader.readMapHeader()
        }
        entries.reserveCapacity(count)
        if count > Self.linearSearchLimit { lookup = Dictionary(minimumCapacity: count) }
        do {
            var position = reader.index
            for _ in 0..<count {
                let keyStart = position
                let key = try Self.readKey(reader, at: &position)
                try addEntry(key, index: position, keyStart: keyStart, reader: reader)
                try reader.skipValue(at: &position, depth: path.depth + 1)
            }
            if index == context.rootIndex { context.rootEnd = position }
        } catch {
            throw error.at(path.keys.dottedString)
        }
    }

    /// A string key, or an integer key as its decimal text.
    private static func readKey(_ reader: MessagePackReader, at position: inout Int)
        throws(MessagePackError) -> String
    {
        let start = position
        switch try reader.readHeader(at: &position) {
        case .string(let count):
            guard let key = String(validating: reader.bytes[position..<position + count], as: UTF8.self) else {
                throw reader.error(.invalidUTF8, "map key of \(count) bytes is not valid UTF-8", at: start)
            }
            position += count
            return key
        case .int(let value): return String(value)
        case .uint(let value): return String(value)
        case let header:
            throw reader.error(
                .invalidKey, "map key is \(header.typeDescription); keys must be strings or integers", at: start)
        }
    }

    private mutating func addEntry(_ key: String, index: Int, keyStart: Int, reader: MessagePackReader)
        throws(MessagePackError)
    {
        let isDuplicate: Bool
        if lookup != nil {
            isDuplicate = lookup!.updateValue(entries.count, forKey: key) != nil
        } else {
            isDuplicate = entries.contains { $0.key == key }
        }
        guard !isDuplicate else { throw reader.error(.duplicateKey, "map key \"\(key)\" appears twice", at: keyStart) }
        entries.append((key, index))
    }

    var codingPath: [any CodingKey] { path.keys }

    var allKeys: [Key] { entries.compactMap { Key(stringValue: $0.key) } }

    func contains(_ key: Key) -> Bool { valueIndex(for: key) != nil }

    private func valueIndex(for key: Key) -> Int? {
        valueIndex(named: key.stringValue)
    }

    private func valueIndex(named name: String) -> Int? {
        if let lookup { return lookup[name].map { entries[$0].index } }
        return entries.first { $0.key == name }?.index
    }

    private func requireValue(for key: Key) throws -> Int {
        guard let index = valueIndex(for: key) else {
            throw MessagePackError(
                .keyNotFound, "no value for key \"\(key.stringValue)\"", codingPath: path.keys.dottedString)
        }
        return index
    }

    func decodeNil(forKey key: Key) throws -> Bool { context.isNil(at: try requireValue(for: key)) }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try decodeValue(key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try decodeValue(key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try decodeValue(key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try decodeValue(key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try decodeValue(key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try decodeValue(key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try decodeValue(key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try decodeValue(key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try decodeValue(key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try decodeValue(key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try decodeValue(key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try decodeValue(key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try decodeValue(key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try decodeValue(key) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try decodeValue(key) }

    /// One lookup instead of the default's three (contains, decodeNil, decode).
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let index = valueIndex(for: key), !context.isNil(at: index) else { return nil }
        return try context.decodeValue(T.self, at: index, parent: path, component: .key(key)).value
    }

    private func decodeValue<T: Decodable>(_ key: Key) throws -> T {
        try context.decodeValue(T.self, at: try requireValue(for: key), parent: path, component: .key(key)).value
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try decoder(for: key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try decoder(for: key).unkeyedContainer()
    }

    /// The value under the key `"super"`, where ``MessagePackEncoder`` puts it.
    func superDecoder() throws -> any Decoder {
        let key = StringKey("super")
        guard let index = valueIndex(named: key.stringValue) else {
            throw MessagePackError(.keyNotFound, "no value for key \"super\"", codingPath: path.keys.dottedString)
        }
        return ValueDecoder(context: context, index: index, path: path.appending(.key(key)))
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        try decoder(for: key)
    }

    private func decoder(for key: Key) throws -> ValueDecoder {
        ValueDecoder(context: context, index: try requireValue(for: key), path: path.appending(.key(key)))
    }
}

/// An array, read front to back.
struct UnkeyedDecoder: UnkeyedDecodingContainer {
    let context: DecodingContext
    let path: CodingPath
    let count: Int?
    private(set) var currentIndex = 0
    /// Where the next element starts.
    private var position: Int

    init(context: DecodingContext, index: Int, path: CodingPath) throws(MessagePackError) {
        self.context = context
        self.path = path
        let (count, reader) = try context.openContainer(at: index, path: path) { reader throws(MessagePackError) in
            try reader.readArrayHeader()
        }
        self.count = count
        position = reader.index
    }

    var codingPath: [any CodingKey] { path.keys }
    var isAtEnd: Bool { currentIndex >= count! }

    private func requireElement() throws {
        guard !isAtEnd else {
            throw MessagePackError(
                .valueNotFound, "the array has no element \(currentIndex), only \(count!)",
                codingPath: path.keys.dottedString)
        }
    }

    mutating func decodeNil() throws -> Bool {
        try requireElement()
        guard context.isNil(at: position) else { return false }
        position += 1
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try decodeElement() }
    mutating func decode(_ type: String.Type) throws -> String { try decodeElement() }
    mutating func decode(_ type: Double.Type) throws -> Double { try decodeElement() }
    mutating func decode(_ type: Float.Type) throws -> Float { try decodeElement() }
    mutating func decode(_ type: Int.Type) throws -> Int { try decodeElement() }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try decodeElement() }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try decodeElement() }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try decodeElement() }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try decodeElement() }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try decodeElement() }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try decodeElement() }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try decodeElement() }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try decodeElement() }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try decodeElement() }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeElement() }

    private mutating func decodeElement<T: Decodable>() throws -> T {
        try requireElement()
        let (value, end) = try context.decodeValue(T.self, at: position, parent: path, component: .index(currentIndex))
        try advance(to: end)
        return value
    }

    /// Moves past the current element; `end` if it is known, else found by skipping.
    private mutating func advance(to end: Int? = nil) throws {
        do throws(MessagePackError) {
            if let end {
                position = end
            } else {
                position = try context.end(ofValueAt: position, depth: path.depth + 1)
            }
        } catch {
            throw error.at(path.appending(.index(currentIndex)).keys.dottedString)
        }
        currentIndex += 1
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        let container = try elementDecoder().container(keyedBy: type)
        try advance()
        return container
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let container = try elementDecoder().unkeyedContainer()
        try advance()
        return container
    }

    mutating func superDecoder() throws -> any Decoder {
        let decoder = try elementDecoder()
        try advance()
        return decoder
    }

    private func elementDecoder() throws -> ValueDecoder {
        try requireElement()
        return ValueDecoder(context: context, index: position, path: path.appending(.index(currentIndex)))
    }
}

/// The one value at `index`.
struct SingleValueDecoder: SingleValueDecodingContainer {
    let context: DecodingContext
    let index: Int
    let path: CodingPath

    var codingPath: [any CodingKey] { path.keys }

    func decodeNil() -> Bool { context.isNil(at: index) }

    func decode(_ type: Bool.Type) throws -> Bool { try decodeValue() }
    func decode(_ type: String.Type) throws -> String { try decodeValue() }
    func decode(_ type: Double.Type) throws -> Double { try decodeValue() }
    func decode(_ type: Float.Type) throws -> Float { try decodeValue() }
    func decode(_ type: Int.Type) throws -> Int { try decodeValue() }
    func decode(_ type: Int8.Type) throws -> Int8 { try decodeValue() }
    func decode(_ type: Int16.Type) throws -> Int16 { try decodeValue() }
    func decode(_ type: Int32.Type) throws -> Int32 { try decodeValue() }
    func decode(_ type: Int64.Type) throws -> Int64 { try decodeValue() }
    func decode(_ type: UInt.Type) throws -> UInt { try decodeValue() }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decodeValue() }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decodeValue() }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decodeValue() }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decodeValue() }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeValue() }

    private func decodeValue<T: Decodable>() throws -> T {
        try context.decodeValue(T.self, at: index, parent: path, component: .none).value
    }
}
