extension MessagePackReader {
    /// Moves past the next value, however deeply nested, without allocating for it. Checks its
    /// structure, lengths, limits and nesting depth, but not its strings' UTF-8.
    public mutating func skipValue() throws(MessagePackError) {
        var position = index
        try skipValue(at: &position, depth: 0)
        index = position
    }

    /// Reads the next value, however deeply nested (up to ``MessagePackLimits/maxDepth``).
    public mutating func readValue() throws(MessagePackError) -> MessagePackValue {
        var position = index
        let value = try readValue(at: &position, depth: 0)
        index = position
        return value
    }

    /// `depth` is the nesting depth of the value at `position`: the elements of a container at
    /// depth `d` are at depth `d + 1`, which must not exceed `maxDepth`.
    func skipValue(at position: inout Int, depth: Int) throws(MessagePackError) {
        let start = position
        switch try readHeader(at: &position) {
        case .string(let count), .binary(let count), .extension(_, let count):
            position += count
        case .array(let count):
            try checkDepth(depth + 1, at: start)
            for _ in 0..<count { try skipValue(at: &position, depth: depth + 1) }
        case .map(let count):
            try checkDepth(depth + 1, at: start)
            for _ in 0..<2 * count { try skipValue(at: &position, depth: depth + 1) }
        case .nil, .bool, .uint, .int, .float, .double:
            break
        }
    }

    func readValue(at position: inout Int, depth: Int) throws(MessagePackError) -> MessagePackValue {
        let start = position
        switch try readHeader(at: &position) {
        case .nil: return .nil
        case .bool(let value): return .bool(value)
        case .int(let value): return .int(value)
        case .uint(let value):
            if let signed = Int64(exactly: value) { return .int(signed) }
            return .uint(value)
        case .float(let value): return .float(value)
        case .double(let value): return .double(value)
        case .string(let count):
            guard let string = String(validating: bytes[position..<position + count], as: UTF8.self) else {
                throw error(.invalidUTF8, "string of \(count) bytes is not valid UTF-8", at: start)
            }
            position += count
            return .string(string)
        case .binary(let count):
            defer { position += count }
            return .binary(Array(bytes[position..<position + count]))
        case .extension(let type, let count):
            defer { position += count }
            let payload = bytes[position..<position + count]
            if type == MessagePackFormat.timestampType {
                return .timestamp(try timestamp(payload: payload, at: start))
            }
            return .extension(type: type, data: Array(payload))
        case .array(let count):
            try checkDepth(depth + 1, at: start)
            // count is at most the bytes left (every element takes one), so this is bounded by the input.
            var elements: [MessagePackValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count { elements.append(try readValue(at: &position, depth: depth + 1)) }
            return .array(elements)
        case .map(let count):
            try checkDepth(depth + 1, at: start)
            var pairs: [MessagePackPair] = []
            pairs.reserveCapacity(count)
            for _ in 0..<count {
                let key = try readValue(at: &position, depth: depth + 1)
                pairs.append(MessagePackPair(key, try readValue(at: &position, depth: depth + 1)))
            }
            return .map(pairs)
        }
    }

    func checkDepth(_ depth: Int, at start: Int) throws(MessagePackError) {
        guard depth <= limits.maxDepth else {
            throw error(.depthExceeded, "containers nested deeper than maxDepth (\(limits.maxDepth))", at: start)
        }
    }
}
