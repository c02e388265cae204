/// Why MessagePack encoding or decoding failed.
///
/// Decoding never traps on hostile input: every malformed, truncated or oversized input ends in
/// one of these errors. Compare ``code`` with the static members (`error.code == .truncated`);
/// ``message`` says more for people. ``offset`` locates the byte where the problem was found;
/// ``codingPath`` names the Codable property being decoded or encoded when there was one.
public struct MessagePackError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure: one of the static members, compared by ``name``.
    ///
    /// A code is its name rather than a case of a public enum, so new codes can be added without
    /// breaking a `switch` in user code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's stable name, the same as its static member's (`"truncated"`).
        public let name: String

        fileprivate init(name: String) { self.name = name }

        /// The input ended inside a value, or a length claims more bytes than are left.
        public static let truncated = Code(name: "truncated")
        /// A byte that is not a MessagePack format (`0xc1`, the one byte the spec never uses).
        public static let invalidFormat = Code(name: "invalidFormat")
        /// The value has another type than the one asked for (a string where an integer was
        /// expected, an array where a map was expected, …).
        public static let typeMismatch = Code(name: "typeMismatch")
        /// An integer does not fit the requested integer type (300 into `UInt8`, -1 into `UInt`).
        public static let integerOverflow = Code(name: "integerOverflow")
        /// A number cannot be represented in the requested floating-point type: an integer that
        /// a `Double` or `Float` would round, or a float64 beyond `Float`'s range.
        public static let numberNotRepresentable = Code(name: "numberNotRepresentable")
        /// A string's bytes are not valid UTF-8.
        public static let invalidUTF8 = Code(name: "invalidUTF8")
        /// A length or element count exceeds one of the ``MessagePackLimits``; the message names it.
        public static let limitExceeded = Code(name: "limitExceeded")
        /// Arrays and maps are nested deeper than ``MessagePackLimits/maxDepth``.
        public static let depthExceeded = Code(name: "depthExceeded")
        /// Bytes follow the single value that the input was supposed to hold.
        public static let trailingBytes = Code(name: "trailingBytes")
        /// A map lacks the key a keyed container asked for.
        public static let keyNotFound = Code(name: "keyNotFound")
        /// A value was required but the input has `nil`, or an array has no more elements.
        public static let valueNotFound = Code(name: "valueNotFound")
        /// A map has the same key twice.
        public static let duplicateKey = Code(name: "duplicateKey")
        /// A map key is neither a string nor an integer, so no `CodingKey` can name it.
        public static let invalidKey = Code(name: "invalidKey")
        /// An extension of type -1 that is not a valid timestamp: a length other than 4, 8 or 12
        /// bytes, or nanoseconds above 999,999,999.
        public static let invalidTimestamp = Code(name: "invalidTimestamp")
        /// A value cannot be encoded: a string, binary or collection longer than MessagePack's
        /// 32-bit lengths allow.
        public static let invalidValue = Code(name: "invalidValue")
        /// An `Encodable` used the encoder in a way that cannot produce one value: two different
        /// containers from one encoder, two values into one single-value container, or a container
        /// written to after a container outside it was written to again.
        public static let invalidContainerUse = Code(name: "invalidContainerUse")

        /// The ``name``.
        public var description: String { name }
    }

    /// What went wrong.
    public let code: Code
    /// Where the problem was found, in bytes from the start of the input (of the slice or reader
    /// that was decoded); `nil` for encoding errors.
    public let offset: Int?
    /// The Codable path to the failing value, keys and array indices joined by dots
    /// (`"items.2.name"`); empty at the top level and for the low-level reader and writer.
    public let codingPath: String
    /// What went wrong, for people.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String, offset: Int? = nil, codingPath: String = "") {
        self.code = code
        self.message = message
        self.offset = offset
        self.codingPath = codingPath
    }

    /// `MessagePack <code>[ at <codingPath>][ (byte <offset>)]: <message>`, for logs.
    public var description: String {
        var text = "MessagePack \(code)"
        if !codingPath.isEmpty { text += " at \(codingPath)" }
        if let offset { text += " (byte \(offset))" }
        return text + ": " + message
    }

    /// The same error with a coding path; errors keep the innermost path that was set.
    func at(_ path: @autoclosure () -> String) -> MessagePackError {
        guard codingPath.isEmpty else { return self }
        return MessagePackError(code, message, offset: offset, codingPath: path())
    }
}
