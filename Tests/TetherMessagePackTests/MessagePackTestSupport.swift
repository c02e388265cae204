import TetherMessagePack

/// Bytes from hex text; spaces are ignored ("cd 01 00").
func bytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.filter { !$0.isWhitespace })
    precondition(digits.count % 2 == 0, "odd number of hex digits")
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// Lowercase hex without spaces.
func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

/// The error `body` throws, if it is a MessagePackError.
func messagePackError(_ body: () throws -> Void) -> MessagePackError? {
    do {
        try body()
        return nil
    } catch let error as MessagePackError {
        return error
    } catch {
        return nil
    }
}

/// Equality that tells floats apart by bit pattern, so NaN equals NaN and -0.0 differs from 0.0.
func identical(_ a: MessagePackValue, _ b: MessagePackValue) -> Bool {
    switch (a, b) {
    case (.float(let x), .float(let y)): x.bitPattern == y.bitPattern
    case (.double(let x), .double(let y)): x.bitPattern == y.bitPattern
    case (.array(let x), .array(let y)): x.count == y.count && zip(x, y).allSatisfy(identical)
    case (.map(let x), .map(let y)):
        x.count == y.count && zip(x, y).allSatisfy { identical($0.key, $1.key) && identical($0.value, $1.value) }
    default: a == b
    }
}

/// A string of exactly `byteCount` UTF-8 bytes mixing 1-, 2-, 3- and 4-byte characters; the
/// Python vectors build the same one.
func mixedString(byteCount: Int) -> String {
    String(repeating: "aé€😀", count: byteCount / 10) + String(repeating: "x", count: byteCount % 10)
}
