/// A shell-style pattern for file names, as ``PluginDiscovery`` uses to pick plugin executables
/// (`kv-plugin-*`, `plugin-[a-z]?`).
///
/// The syntax is the shell's (POSIX `fnmatch` without flags but one):
///
/// | pattern | matches |
/// |---|---|
/// | `*` | any run of characters, the empty one included |
/// | `?` | any one character |
/// | `[abc]` | one of the characters listed |
/// | `[a-z]` | one character in the range (by Unicode scalar value; ranges and single characters mix: `[a-z0-9_]`) |
/// | `[!x]`, `[^x]` | one character not listed |
/// | `\c` | the character `c` itself (`\*`, `\?`, `\[`, `\\`), inside brackets too |
///
/// A `]` right after `[` (or `[!`) is a member, not the end: `[]x]`, `[!]]`. A `-` first or last
/// in brackets is a member: `[-a]`, `[a-]`.
///
/// A name that begins with `.` is matched only by a pattern that begins with a literal `.` (or
/// `\.`): `*` and `?` and brackets do not match a leading period, as in the shell, so a hidden
/// file (an editor's `.plugin-kv.swp`) is never picked up by `plugin-*` or `*`.
///
/// A pattern matches a file *name*, never a path: it cannot contain `/`. Characters are Unicode
/// scalars, so `?` matches `é` whichever way it was typed only when both sides use the same
/// normalization (file names are bytes; nothing is normalized).
///
/// Parsing and matching are pure: no file system access.
public struct GlobPattern: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written.
    public let source: String
    private let tokens: [Token]

    /// One element of a parsed pattern.
    private enum Token: Sendable, Hashable {
        case literal(Unicode.Scalar)
        case anyCharacter
        case anyRun
        case set(CharacterSet)
    }

    /// A bracket expression: ranges (a single character is a range of one) and whether it is
    /// negated.
    private struct CharacterSet: Sendable, Hashable {
        var negated = false
        var ranges: [ClosedRange<UInt32>] = []

        func contains(_ scalar: Unicode.Scalar) -> Bool {
            ranges.contains { $0.contains(scalar.value) } != negated
        }
    }

    /// Parses `source`.
    ///
    /// - Throws: ``GlobPatternError`` — `emptyPattern`; `pathSeparator` for any `/` (a pattern
    ///   matches names within one directory); `unterminatedBracket` for a `[` without its `]`;
    ///   `trailingBackslash` for a `\` with nothing after it; `reversedRange` for a range whose
    ///   end is below its start (`[z-a]`).
    public init(_ source: String) throws(GlobPatternError) {
        self.source = source
        let scalars = Array(source.unicodeScalars)
        guard !scalars.isEmpty else {
            throw GlobPatternError(.emptyPattern, offset: 0, "an empty pattern matches no file name")
        }
        if let slash = scalars.firstIndex(of: "/") {
            throw GlobPatternError(
                .pathSeparator, offset: slash,
                "\"\(source)\" contains \"/\": a pattern matches file names within each directory, not paths;"
                    + " list the directories separately")
        }
        var tokens: [Token] = []
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            switch scalar {
            case "*":
                // Consecutive stars match what one does.
                if tokens.last != .anyRun { tokens.append(.anyRun) }
                index += 1
            case "?":
                tokens.append(.anyCharacter)
                index += 1
            case "\\":
                guard index + 1 < scalars.count else {
                    throw GlobPatternError(
                        .trailingBackslash, offset: index, "\"\(source)\" ends with \"\\\", which escapes nothing")
                }
                tokens.append(.literal(scalars[index + 1]))
                index += 2
            case "[":
                let (set, end) = try Self.parseBracket(scalars, from: index, source: source)
                tokens.append(.set(set))
                index = end
            default:
                tokens.append(.literal(scalar))
                index += 1
            }
        }
        self.tokens = tokens
    }

    /// Parses the bracket expression that starts at `start` (its `[`): the set and the index after
    /// its `]`.
    private static func parseBracket(_ scalars: [Unicode.Scalar], from start: Int, source: String)
        throws(GlobPatternError) -> (CharacterSet, Int)
    {
        var set = CharacterSet()
        var index = start + 1
        if index < scalars.count, scalars[index] == "!" || scalars[index] == "^" {
            set.negated = true
            index += 1
        }
        let firstMember = index
        /// The member at `index` (escapes resolved), advancing past it; nil at the closing `]`.
        func member() throws(GlobPatternError) -> UInt32? {
            guard index < scalars.count else {
                throw GlobPatternError(
                    .unterminatedBracket, offset: start, "\"\(source)\" has a \"[\" without its \"]\"")
            }
            let scalar = scalars[index]
            if scalar == "]", index != firstMember { return nil }
            if scalar == "\\" {
                guard index + 1 < scalars.count else {
                    throw GlobPatternError(
                        .unterminatedBracket, offset: start, "\"\(source)\" has a \"[\" without its \"]\"")
                }
                index += 2
                return scalars[index - 1].value
            }
            index += 1
            return scalar.value
        }
        while let low = try member() {
            // A range when a `-` follows that is not the last member before `]`.
            if index + 1 < scalars.count, scalars[index] == "-", scalars[index + 1] != "]" {
                let rangeStart = index - 1
                index += 1
                guard let high = try member() else { break }  // unreachable: `]` was excluded above
                guard low <= high else {
                    throw GlobPatternError(
                        .reversedRange, offset: rangeStart,
                        "\"\(source)\" has a range that ends below its start; write it the other way round")
                }
                set.ranges.append(low...high)
            } else {
                set.ranges.append(low...low)
            }
        }
        return (set, index + 1)
    }

    /// True when `name` matches the whole pattern.
    public func matches(_ name: String) -> Bool {
        let scalars = Array(name.unicodeScalars)
        // A leading period is matched only by a literal one, as in the shell.
        if scalars.first == ".", tokens.first != .literal(".") { return false }
        return Self.match(tokens[...], scalars[...])
    }

    /// Matches left to right, remembering the last `*` to widen it when the rest fails: at most
    /// one backtracking point, so the work is bounded by the product of the two lengths.
    private static func match(_ tokens: ArraySlice<Token>, _ name: ArraySlice<Unicode.Scalar>) -> Bool {
        var token = tokens.startIndex
        var scalar = name.startIndex
        // Where to resume after the last `*`: the token after it, and the name position it
        // currently stops at.
        var resume: (token: Int, scalar: Int)?
        while scalar < name.endIndex {
            if token < tokens.endIndex {
                switch tokens[token] {
                case .anyRun:
                    resume = (token + 1, scalar)
                    token += 1
                    continue
                case .anyCharacter:
                    token += 1
                    scalar += 1
                    continue
                case .literal(let expected) where expected == name[scalar]:
                    token += 1
                    scalar += 1
                    continue
                case .set(let set) where set.contains(name[scalar]):
                    token += 1
                    scalar += 1
                    continue
                default:
                    break
                }
            }
            // A mismatch (or pattern exhausted early): let the last `*` take one more character.
            guard let (afterStar, stop) = resume else { return false }
            resume = (afterStar, stop + 1)
            token = afterStar
            scalar = stop + 1
        }
        // The name is used up: what is left of the pattern must be stars only.
        return tokens[token...].allSatisfy { $0 == .anyRun }
    }

    /// The pattern as written.
    public var description: String { source }
}

/// Why a string is not a ``GlobPattern``.
public struct GlobPatternError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong: one of the static members, compared by ``name``.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's stable name, the same as its static member's (`"pathSeparator"`).
        public let name: String

        fileprivate init(name: String) { self.name = name }

        /// The pattern is empty (no file name is empty).
        public static let emptyPattern = Code(name: "emptyPattern")
        /// The pattern contains `/`: it matches names within a directory, never paths.
        public static let pathSeparator = Code(name: "pathSeparator")
        /// A `[` has no closing `]`.
        public static let unterminatedBracket = Code(name: "unterminatedBracket")
        /// The pattern ends with a `\` that escapes nothing.
        public static let trailingBackslash = Code(name: "trailingBackslash")
        /// A range in brackets ends below its start (`[z-a]`).
        public static let reversedRange = Code(name: "reversedRange")

        /// The ``name``.
        public var description: String { name }
    }

    /// What is wrong.
    public let code: Code
    /// Where, in Unicode scalars from the pattern's start.
    public let offset: Int
    /// What is wrong, for people.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, offset: Int, _ message: String) {
        self.code = code
        self.offset = offset
        self.message = message
    }

    /// `glob pattern <code> at <offset>: <message>`.
    public var description: String { "glob pattern \(code) at \(offset): \(message)" }
}
