import Foundation

/// Executables built beside the test binary (test plugins).
public enum TestExecutables {
    /// The path of the executable product `name` from the same build as the running tests.
    public static func path(_ name: String) -> String {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        // The test binary may sit inside a bundle directory (`….xctest/…`): walk up to the build dir.
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate.path }
            directory.deleteLastPathComponent()
        }
        return name
    }
}
