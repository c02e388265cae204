#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The bytes and the open containers of one ``MessagePackEncoder`` call, shared by its encoders
/// and containers (they are values; this is the one object per call).
///
/// Each open container (or a value that has not been written yet) is a frame on a stack. A
/// container may only be written to while it is on top; writing to one further down first
/// finishes every frame above it. Finishing an array or map patches its header: a one-byte
/// fix header is written when it opens, and grows in place if more than 15 elements came.
final class EncodingState {
    private var writer: MessagePackWriter
    private(set) var frames: [Frame] = []
    private var nextFrameID = 0
    let userInfo: [CodingUserInfoKey: Any]
    /// A misuse noticed where Codable gives no way to throw (container requests); thrown when
    /// the encode call finishes, and by every later use of the dead container.
    private var deferredError: MessagePackError?

    struct Frame {
        enum Kind { case slot, filled, array, map }
        let id: Int
        var kind: Kind
        /// Where the frame's value starts in the bytes.
        let start: Int
        /// Elements of an array, entries of a map.
        var count = 0
        /// Where the frame sits in its parent, for coding paths.
        let component: PathComponent
    }

    typealias PathComponent = CodingPathComponent

    /// The frame id of containers that could not be opened; using one throws the deferred error.
    static let deadFrame = -1

    init(bytes: [UInt8], userInfo: [CodingUserInfoKey: any Sendable]) {
        writer = MessagePackWriter(bytes: bytes)
        self.userInfo = userInfo.isEmpty ? [:] : userInfo.mapValues { $0 as Any }
    }

    func takeBytes() -> [UInt8] {
        var bytes: [UInt8] = []
        swap(&bytes, &writer.bytes)
        return bytes
    }

    func truncate(to count: Int) {
        writer.bytes.removeSubrange(count...)
    }

    func encodeRoot<T: Encodable>(_ value: T) throws {
        try encodeValue(value, at: .none)
        if let deferredError { throw deferredError }
    }

    // MARK: Frames

    /// The index of frame `id` after finishing every frame above it.
    func top(_ id: Int) throws -> Int {
        guard let index = frames.lastIndex(where: { $0.id == id }) else {
            throw deferredError
                ?? MessagePackError(
                    .invalidContainerUse,
                    "a container or encoder was used after a container outside it was written to again")
        }
        while frames.count > index + 1 { finish(frames.removeLast()) }
        return index
    }

    /// Opens a frame for one value at the end of the bytes.
    private func pushSlot(at component: PathComponent) -> Int {
        pushFrame(.slot, at: component)
    }

    private func pushFrame(_ kind: Frame.Kind, at component: PathComponent) -> Int {
        let id = nextFrameID
        nextFrameID += 1
        frames.append(Frame(id: id, kind: kind, start: writer.bytes.count, component: component))
        switch kind {
        case .array: writer.bytes.append(MessagePackFormat.fixarray)
        case .map: writer.bytes.append(MessagePackFormat.fixmap)
        case .slot, .filled: break
        }
        return id
    }

    /// Finishes frame `id` and everything above it.
    private func finishSlot(_ id: Int) {
        guard let index = frames.lastIndex(where: { $0.id == id }) else { return }
        while frames.count > index { finish(frames.removeLast()) }
    }

    private func finish(_ frame: Frame) {
        switch frame.kind {
        case .slot: writer.writeNil()  // the value's encoder wrote nothing
        case .filled: break
        case .array: patchHeader(frame, fix: MessagePackFormat.fixarray, format16: MessagePackFormat.array16)
        case .map: patchHeader(frame, fix: MessagePackFormat.fixmap, format16: MessagePackFormat.map16)
        }
    }

    private func patchHeader(_ frame: Frame, fix: UInt8, format16: UInt8) {
        let count = frame.count
        let header = frame.start
        if count <= 15 {
            writer.bytes[header] = fix | UInt8(truncatingIfNeeded: count)
        } else if count <= Int(UInt16.max) {
            writer.bytes[header] = format16
            writer.bytes.insert(contentsOf: repeatElement(0, count: 2), at: header + 1)
            writer.bytes.setBigEndian(UInt16(truncatingIfNeeded: count), at: header + 1)
        } else if count <= MessagePackFormat.maxLength {
            writer.bytes[header] = format16 + 1  // array32 / map32
            writer.bytes.insert(contentsOf: repeatElement(0, count: 4), at: header + 1)
            writer.bytes.setBigEndian(UInt32(truncatingIfNeeded: count), at: header + 1)
        } else {
            deferError(MessagePackError(.invalidValue, "\(count) elements exceed MessagePack's 2^32 - 1"))
        }
    }

    private func deferError(_ error: MessagePackError) {
        if deferredError == nil { deferredError = error }
    }

    // MARK: Containers

    /// Makes the value frame `id` an array or map, or returns it if it already is one of that kind
    /// (a class and its superclass share one keyed container). Returns ``deadFrame`` on misuse.
    func beginContainer(_ id: Int, _ kind: Frame.Kind) -> Int {
        guard let index = try? top(id) else {
            deferError(MessagePackError(.invalidContainerUse, "an encoder was used after its value was finished"))
            return Self.deadFrame
        }
        switch frames[index].kind {
        case .slot:
            // A slot has nothing above it and nothing written yet: its value starts here.
            assert(writer.bytes.count == frames[index].start)
            frames[index].kind = kind
            writer.bytes.append(kind == .array ? MessagePackFormat.fixarray : MessagePackFormat.fixmap)
            return id
        case kind:
            return id
        default:
            deferError(
                MessagePackError(
                    .invalidContainerUse,
                    "one encoder was asked for \(kind == .map ? "a keyed" : "an unkeyed") container after another kind of value",
                    codingPath: pathString(through: id)))
            return Self.deadFrame
        }
    }

    /// Counts one more element (or entry) in container `id`, writing the key first for maps.
    /// Returns the element's index.
    @discardableResult
    func beginElement(of id: Int, key: (any CodingKey)? = nil) throws -> Int {
        let index = try top(id)
        if let key { try write(key.stringValue, path: { self.pathString(through: id, key) }) }
        frames[index].count += 1
        return frames[index].count - 1
    }

    /// Opens a nested container as the next element of container `id`.
    func beginNested(_ kind: Frame.Kind, in id: Int, key: (any CodingKey)?) -> Int {
        do {
            let index = try beginElement(of: id, key: key)
            return pushFrame(kind, at: key.map { .key($0) } ?? .index(index))
        } catch {
            deferError(error as? MessagePackError ?? MessagePackError(.invalidContainerUse, "\(error)"))
        }
        return Self.deadFrame
    }

    /// Opens a value slot as the next element of container `id`, for a super encoder.
    func beginSuper(in id: Int, key: (any CodingKey)?) -> Int {
        beginNested(.slot, in: id, key: key)
    }

    /// Marks the single value of frame `id` as written, after checking that it was not yet.
    func beginSingleValue(_ id: Int) throws {
        let index = try top(id)
        guard frames[index].kind == .slot else {
            throw MessagePackError(
                .invalidContainerUse, "a single value container was written to twice, or after another container",
                codingPath: pathString(through: id))
        }
        frames[index].kind = .filled
    }

    func elementCount(of id: Int) -> Int {
        frames.last(where: { $0.id == id })?.count ?? 0
    }

    // MARK: Coding paths

    func codingPath(through id: Int) -> [any CodingKey] {
        guard let index = frames.lastIndex(where: { $0.id == id }) else { return [] }
        return frames[...index].compactMap(\.component.codingKey)
    }

    func pathString(through id: Int, _ key: (any CodingKey)? = nil) -> String {
        var path = codingPath(through: id)
        if let key { path.append(key) }
        return path.dottedString
    }
}

// MARK: Values

extension EncodingState {
    /// Writes `value` at the end of the bytes: primitives and MessagePack's own types directly,
    /// anything else through its `encode(to:)` into a new value slot.
    func encodeValue<T: Encodable>(_ value: T, at component: PathComponent) throws {
        if try encodeDirectly(value, path: { self.pathString(component) }) { return }
        let id = pushSlot(at: component)
        try value.encode(to: ValueEncoder(state: self, frameID: id))
        finishSlot(id)
    }

    private func pathString(_ component: PathComponent) -> String {
        var path = frames.isEmpty ? [] : codingPath(through: frames[frames.count - 1].id)
        if let key = component.codingKey { path.append(key) }
        return path.dottedString
    }

    /// Writes the types the encoder knows without asking them to encode themselves: the
    /// primitives (which would otherwise go through a single value container) and the types
    /// with a MessagePack format of their own (`Data`, `Date`, extensions, dynamic values).
    func encodeDirectly<T: Encodable>(_ value: T, path: () -> String) throws -> Bool {
        // Metatype comparisons, most common first: cheaper than a chain of dynamic casts, and
        // folded away where the compiler specializes for T.
        if T.self == String.self {
            try write(value as! String, path: path)
        } else if T.self == Int.self {
            writer.writeInt(Int64(value as! Int))
        } else if T.self == Double.self {
            writer.writeDouble(value as! Double)
        } else if T.self == Bool.self {
            writer.writeBool(value as! Bool)
        } else if T.self == Data.self {
            let data = value as! Data
            try checkLength(data.count, "binary value", path: path)
            writer.writeBinary(data)
        } else if T.self == Date.self {
            do {
                writer.writeTimestamp(try MessagePackTimestamp(value as! Date))
            } catch let error as MessagePackError {
                throw error.at(path())
            }
        } else if T.self == Int64.self {
            writer.writeInt(value as! Int64)
        } else if T.self == UInt64.self {
            writer.writeUInt(value as! UInt64)
        } else if T.self == Int32.self {
            writer.writeInt(Int64(value as! Int32))
        } else if T.self == UInt32.self {
            writer.writeUInt(UInt64(value as! UInt32))
        } else if T.self == UInt.self {
            writer.writeUInt(UInt64(value as! UInt))
        } else if T.self == UInt8.self {
            writer.writeUInt(UInt64(value as! UInt8))
        } else if T.self == Int16.self {
            writer.writeInt(Int64(value as! Int16))
        } else if T.self == UInt16.self {
            writer.writeUInt(UInt64(value as! UInt16))
        } else if T.self == Int8.self {
            writer.writeInt(Int64(value as! Int8))
        } else if T.self == Float.self {
            writer.writeFloat(value as! Float)
        } else if T.self == MessagePackValue.self {
            let dynamic = value as! MessagePackValue
            try checkLengths(dynamic, path: path)
            writer.write(dynamic)
        } else if T.self == MessagePackTimestamp.self {
            writer.writeTimestamp(value as! MessagePackTimestamp)
        } else if T.self == MessagePackExtension.self {
            let ext = value as! MessagePackExtension
            try checkLength(ext.data.count, "extension", path: path)
            writer.writeExtension(type: ext.type, data: ext.data)
        } else {
            return false
        }
        return true
    }

    func write(_ string: String, path: () -> String) throws {
        let count = string.utf8.count
        try checkLength(count, "string", path: path)
        writer.writeStringHeader(byteCount: count)
        writer.bytes.append(contentsOf: string.utf8)
    }

    func writeNil() { writer.writeNil() }
    func writeBool(_ value: Bool) { writer.writeBool(value) }
    func writeInt(_ value: Int64) { writer.writeInt(value) }
    func writeUInt(_ value: UInt64) { writer.writeUInt(value) }
    func writeFloat(_ value: Float) { writer.writeFloat(value) }
    func writeDouble(_ value: Double) { writer.writeDouble(value) }

    /// MessagePack lengths are 32-bit; the writer traps beyond that, the encoder throws first.
    private func checkLength(_ count: Int, _ what: String, path: () -> String) throws {
        guard count <= MessagePackFormat.maxLength else {
            throw MessagePackError(
                .invalidValue, "\(what) of length \(count) exceeds MessagePack's 2^32 - 1", codingPath: path())
        }
    }

    private func checkLengths(_ value: MessagePackValue, path: () -> String) throws {
        switch value {
        case .string(let string): try checkLength(string.utf8.count, "string", path: path)
        case .binary(let bytes): try checkLength(bytes.count, "binary value", path: path)
        case .extension(_, let data): try checkLength(data.count, "extension", path: path)
        case .array(let elements):
            try checkLength(elements.count, "array", path: path)
            for element in elements { try checkLengths(element, path: path) }
        case .map(let pairs):
            try checkLength(pairs.count, "map", path: path)
            for pair in pairs {
                try checkLengths(pair.key, path: path)
                try checkLengths(pair.value, path: path)
            }
        default: break
        }
    }
}
