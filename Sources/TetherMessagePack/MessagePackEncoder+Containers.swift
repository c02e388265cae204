/// The `Encoder` handed to `encode(to:)`: one value slot of the encoding state.
struct ValueEncoder: Encoder {
    let state: EncodingState
    let frameID: Int

    var codingPath: [any CodingKey] { state.codingPath(through: frameID) }
    var userInfo: [CodingUserInfoKey: Any] { state.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedEncoder<Key>(state: state, frameID: state.beginContainer(frameID, .map)))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedEncoder(state: state, frameID: state.beginContainer(frameID, .array))
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueEncoder(state: state, frameID: frameID)
    }
}

/// A map: each entry is the key's `stringValue`, then the value.
struct KeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let state: EncodingState
    let frameID: Int

    var codingPath: [any CodingKey] { state.codingPath(through: frameID) }

    mutating func encodeNil(forKey key: Key) throws {
        try state.beginElement(of: frameID, key: key)
        state.writeNil()
    }

    mutating func encode(_ value: Bool, forKey key: Key) throws {
        try state.beginElement(of: frameID, key: key)
        state.writeBool(value)
    }

    mutating func encode(_ value: String, forKey key: Key) throws {
        try state.beginElement(of: frameID, key: key)
        try state.write(value, path: { state.pathString(through: frameID, key) })
    }

    mutating func encode(_ value: Double, forKey key: Key) throws {
        try state.beginElement(of: frameID, key: key)
        state.writeDouble(value)
    }

    mutating func encode(_ value: Float, forKey key: Key) throws {
        try state.beginElement(of: frameID, key: key)
        state.writeFloat(value)
    }

    mutating func encode(_ value: Int, forKey key: Key) throws { try encodeSigned(Int64(value), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try encodeSigned(Int64(value), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try encodeSigned(Int64(value), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try encodeSigned(Int64(value), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try encodeSigned(value, key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try encodeUnsigned(UInt64(value), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try encodeUnsigned(UInt64(value), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try encodeUnsigned(UInt64(value), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try encodeUnsigned(UInt64(value), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try encodeUnsigned(value, key) }

    private func encodeSigned(_ value: Int64, _ key: Key) throws {
        try state.beginElement(of: frameID, key: key)
        state.writeInt(value)
    }

    private func encodeUnsigned(_ value: UInt64, _ key: Key) throws {
        try state.beginElement(of: frameID, key: key)
        state.writeUInt(value)
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try state.beginElement(of: frameID, key: key)
        try state.encodeValue(value, at: .key(key))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        KeyedEncodingContainer(
            KeyedEncoder<NestedKey>(state: state, frameID: state.beginNested(.map, in: frameID, key: key)))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        UnkeyedEncoder(state: state, frameID: state.beginNested(.array, in: frameID, key: key))
    }

    /// The value under the key `"super"`, as JSONEncoder does.
    mutating func superEncoder() -> any Encoder {
        ValueEncoder(state: state, frameID: state.beginSuper(in: frameID, key: StringKey("super")))
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        ValueEncoder(state: state, frameID: state.beginSuper(in: frameID, key: key))
    }
}

/// An array.
struct UnkeyedEncoder: UnkeyedEncodingContainer {
    let state: EncodingState
    let frameID: Int

    var codingPath: [any CodingKey] { state.codingPath(through: frameID) }
    var count: Int { state.elementCount(of: frameID) }

    mutating func encodeNil() throws {
        try state.beginElement(of: frameID)
        state.writeNil()
    }

    mutating func encode(_ value: Bool) throws {
        try state.beginElement(of: frameID)
        state.writeBool(value)
    }

    mutating func encode(_ value: String) throws {
        let index = try state.beginElement(of: frameID)
        try state.write(value, path: { state.pathString(through: frameID, IndexKey(index)) })
    }

    mutating func encode(_ value: Double) throws {
        try state.beginElement(of: frameID)
        state.writeDouble(value)
    }

    mutating func encode(_ value: Float) throws {
        try state.beginElement(of: frameID)
        state.writeFloat(value)
    }

    mutating func encode(_ value: Int) throws { try encodeSigned(Int64(value)) }
    mutating func encode(_ value: Int8) throws { try encodeSigned(Int64(value)) }
    mutating func encode(_ value: Int16) throws { try encodeSigned(Int64(value)) }
    mutating func encode(_ value: Int32) throws { try encodeSigned(Int64(value)) }
    mutating func encode(_ value: Int64) throws { try encodeSigned(value) }
    mutating func encode(_ value: UInt) throws { try encodeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { try encodeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt16) throws { try encodeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt32) throws { try encodeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt64) throws { try encodeUnsigned(value) }

    private func encodeSigned(_ value: Int64) throws {
        try state.beginElement(of: frameID)
        state.writeInt(value)
    }

    private func encodeUnsigned(_ value: UInt64) throws {
        try state.beginElement(of: frameID)
        state.writeUInt(value)
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let index = try state.beginElement(of: frameID)
        try state.encodeValue(value, at: .index(index))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<
        NestedKey
    > {
        KeyedEncodingContainer(
            KeyedEncoder<NestedKey>(state: state, frameID: state.beginNested(.map, in: frameID, key: nil)))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedEncoder(state: state, frameID: state.beginNested(.array, in: frameID, key: nil))
    }

    mutating func superEncoder() -> any Encoder {
        ValueEncoder(state: state, frameID: state.beginSuper(in: frameID, key: nil))
    }
}

/// The one value of a value slot.
struct SingleValueEncoder: SingleValueEncodingContainer {
    let state: EncodingState
    let frameID: Int

    var codingPath: [any CodingKey] { state.codingPath(through: frameID) }

    mutating func encodeNil() throws {
        try state.beginSingleValue(frameID)
        state.writeNil()
    }

    mutating func encode(_ value: Bool) throws {
        try state.beginSingleValue(frameID)
        state.writeBool(value)
    }

    mutating func encode(_ value: String) throws {
        try state.beginSingleValue(frameID)
        try state.write(value, path: { state.pathString(through: frameID) })
    }

    mutating func encode(_ value: Double) throws {
        try state.beginSingleValue(frameID)
        state.writeDouble(value)
    }

    mutating func encode(_ value: Float) throws {
        try state.beginSingleValue(frameID)
        state.writeFloat(value)
    }

    mutating func encode(_ value: Int) throws { try encodeSigned(Int64(value)) }
    mutating func encode(_ value: Int8) throws { try encodeSigned(Int64(value)) }
    mutating func encode(_ value: Int16) throws { try encodeSigned(Int64(value)) }
    mutating func encode(_ value: Int32) throws { try encodeSigned(Int64(value)) }
    mutating func encode(_ value: Int64) throws { try encodeSigned(value) }
    mutating func encode(_ value: UInt) throws { try encodeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { try encodeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt16) throws { try encodeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt32) throws { try encodeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt64) throws { try encodeUnsigned(value) }

    private func encodeSigned(_ value: Int64) throws {
        try state.beginSingleValue(frameID)
        state.writeInt(value)
    }

    private func encodeUnsigned(_ value: UInt64) throws {
        try state.beginSingleValue(frameID)
        state.writeUInt(value)
    }

    /// The value goes into a slot of its own above this one, which then counts as written.
    mutating func encode<T: Encodable>(_ value: T) throws {
        try state.beginSingleValue(frameID)
        try state.encodeValue(value, at: .none)
    }
}
