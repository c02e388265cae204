import Testing

@testable import Tether

/// Bugs the fuzz targets in Fuzz/ found; each input is also in the target's seed corpus.
@Suite struct FuzzRegressionTests {
    /// Fuzz/Corpus/hclog/regression-utf8-cut-at-limit: a line cut at `maxLineBytes` keeps every
    /// UTF-8 character whole, in the piece that follows the cut.
    @Test func lineCutAtTheLimitKeepsCharactersWhole() {
        var splitter = LineSplitter(maxLineBytes: 7)
        #expect(splitter.append(Array("aaaaaa€\n".utf8)) == ["aaaaaa", "€"])
        #expect(splitter.append(Array("😀😀x".utf8)) == ["😀"])
        #expect(splitter.finish() == "😀x")
    }
}
