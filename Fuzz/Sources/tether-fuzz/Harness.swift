import TetherFuzzTargets

/// libFuzzer's entry point (`main` comes from libFuzzer: this executable links only with
/// `-sanitize=fuzzer`). It copies the input into an array and runs the target named by
/// `--target=NAME` on the command line (libFuzzer ignores flags that start with `--`).
/// The only pointer code of the fuzzing package.
@_cdecl("LLVMFuzzerTestOneInput")
@unsafe public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes: [UInt8] = unsafe data.map { unsafe Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzTarget.selected.run(bytes)
    return 0
}
