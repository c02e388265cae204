import Testing
import Tether

// The glob matcher is pure: these tests touch no file system.

@Suite struct GlobPatternTests {
    @Test(arguments: [
        // Literals match themselves, whole names only.
        ("kv-plugin", "kv-plugin", true),
        ("kv-plugin", "kv-plugin2", false),
        ("kv-plugin", "kv-plugi", false),
        // `*`: any run, the empty one included, anywhere and more than once.
        ("kv-*", "kv-", true),
        ("kv-*", "kv-store", true),
        ("kv-*", "kvx", false),
        ("*-plugin", "kv-plugin", true),
        ("*-plugin", "kv-plugin-old", false),
        ("a*b*c", "abc", true),
        ("a*b*c", "aXXbYYbZZc", true),
        ("a*b*c", "aXXbYYc", true),
        ("a*b*c", "aXXcYYb", false),
        ("a**b", "ab", true),
        ("*", "anything", true),
        ("*a", "banana", true),
        ("*an", "banana", false),
        // `?`: exactly one character (a Unicode scalar).
        ("kv-?", "kv-1", true),
        ("kv-?", "kv-", false),
        ("kv-?", "kv-12", false),
        ("??", "é1", true),
        // Brackets: members, ranges, negation with ! or ^.
        ("kv-[abc]", "kv-b", true),
        ("kv-[abc]", "kv-d", false),
        ("kv-[a-z]", "kv-q", true),
        ("kv-[a-z]", "kv-Q", false),
        ("kv-[a-z0-9_]", "kv-_", true),
        ("kv-[a-z0-9_]", "kv-7", true),
        ("kv-[a-z0-9_]", "kv--", false),
        ("kv-[!x]", "kv-y", true),
        ("kv-[!x]", "kv-x", false),
        ("kv-[^x]", "kv-x", false),
        ("kv-[!a-c]", "kv-d", true),
        ("kv-[!a-c]", "kv-b", false),
        // `]` first is a member; `-` first or last is a member.
        ("[]x]", "]", true),
        ("[]x]", "x", true),
        ("[!]]", "]", false),
        ("[!]]", "a", true),
        ("[-a]", "-", true),
        ("[a-]", "-", true),
        ("[a-]", "b", false),
        // A bracket stands for one character, `*` after it for the rest.
        ("plugin-[0-9]*", "plugin-7-beta", true),
        ("plugin-[0-9]*", "plugin-x", false),
        // Escapes: the next character itself, in brackets too.
        (#"kv\*"#, "kv*", true),
        (#"kv\*"#, "kvx", false),
        (#"kv\?"#, "kv?", true),
        (#"kv\?"#, "kvx", false),
        (#"\[x]"#, "[x]", true),
        (#"\[x]"#, "x", false),
        (#"a\\b"#, #"a\b"#, true),
        (#"[\]]"#, "]", true),
        (#"[\!a]"#, "!", true),
        (#"[a\-z]"#, "-", true),
        (#"[a\-z]"#, "q", false),
        // A leading period needs a literal one.
        ("*", ".hidden", false),
        ("?hidden", ".hidden", false),
        ("[.]hidden", ".hidden", false),
        (".*", ".hidden", true),
        (#"\.h*"#, ".hidden", true),
        ("*.swp", "kv.swp", true),
    ])
    func matches(pattern: String, name: String, expected: Bool) throws {
        let glob = try GlobPattern(pattern)
        #expect(glob.matches(name) == expected, "\(pattern) against \(name)")
    }

    /// A pattern of many stars against a long name that fails only at its end: the single
    /// backtracking point keeps this to the product of the lengths (exponential backtracking
    /// would not finish).
    @Test func manyStarsMatchWithoutExponentialBacktracking() throws {
        let glob = try GlobPattern(String(repeating: "a*", count: 30) + "b")
        #expect(!glob.matches(String(repeating: "a", count: 200)))
        #expect(glob.matches(String(repeating: "a", count: 200) + "b"))
    }

    @Test(arguments: [
        ("", GlobPatternError.Code.emptyPattern, 0),
        ("plugins/kv-*", .pathSeparator, 7),
        ("/", .pathSeparator, 0),
        (#"kv\/x"#, .pathSeparator, 3),
        ("kv-[/]", .pathSeparator, 4),
        ("kv-[abc", .unterminatedBracket, 3),
        ("kv-[", .unterminatedBracket, 3),
        ("kv-[!", .unterminatedBracket, 3),
        ("[]", .unterminatedBracket, 0),
        (#"[a\"#, .unterminatedBracket, 0),
        (#"kv\"#, .trailingBackslash, 2),
        ("kv-[z-a]", .reversedRange, 4),
    ])
    func rejects(pattern: String, code: GlobPatternError.Code, offset: Int) {
        let error = #expect(throws: GlobPatternError.self) { _ = try GlobPattern(pattern) }
        #expect(error?.code == code, "\(pattern): \(String(describing: error))")
        #expect(error?.offset == offset, "\(pattern): \(String(describing: error))")
    }

    @Test func theSeparatorErrorSaysWhy() {
        let error = #expect(throws: GlobPatternError.self) { _ = try GlobPattern("bin/kv-*") }
        #expect(error?.message.contains("not paths") == true)
        #expect(error?.description.hasPrefix("glob pattern pathSeparator at 3: ") == true)
    }

    @Test func describesItselfAsWritten() throws {
        #expect(try GlobPattern("kv-[a-z]*").description == "kv-[a-z]*")
        #expect(try GlobPattern("kv-*") == GlobPattern("kv-*"))
    }
}
