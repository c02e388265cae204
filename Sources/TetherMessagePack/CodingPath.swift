/// One step of a Codable coding path: a map key, an array index, or none (a single value
/// container's value, which sits where its container does).
enum CodingPathComponent {
    case none
    case key(any CodingKey)
    case index(Int)

    var codingKey: (any CodingKey)? {
        switch self {
        case .none: nil
        case .key(let key): key
        case .index(let index): IndexKey(index)
        }
    }
}

/// The decoder's coding path: a linked list built only for values decoded through their own
/// `init(from:)`, so primitives cost no path at all. `depth` is the value's nesting depth.
indirect enum CodingPath {
    case root
    case node(parent: CodingPath, key: any CodingKey, depth: Int)

    var depth: Int {
        switch self {
        case .root: 0
        case .node(_, _, let depth): depth
        }
    }

    /// The depth of the value at `component` in the container at this path, without building
    /// its path.
    func depth(of component: CodingPathComponent) -> Int {
        if case .none = component { return depth }
        return depth + 1
    }

    /// The path of a value inside the container at this path (`.none` is this same value).
    func appending(_ component: CodingPathComponent) -> CodingPath {
        guard let key = component.codingKey else { return self }
        return .node(parent: self, key: key, depth: depth + 1)
    }

    var keys: [any CodingKey] {
        var keys: [any CodingKey] = []
        var node = self
        while case .node(let parent, let key, _) = node {
            keys.append(key)
            node = parent
        }
        return keys.reversed()
    }
}

/// A coding key for an array index.
struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }

    init(_ index: Int) {
        intValue = index
    }

    init?(stringValue: String) {
        guard let index = Int(stringValue) else { return nil }
        intValue = index
    }

    init?(intValue: Int) {
        self.intValue = intValue
    }
}

extension [any CodingKey] {
    /// Keys and indices joined by dots, for ``MessagePackError/codingPath``.
    var dottedString: String {
        map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }
}
