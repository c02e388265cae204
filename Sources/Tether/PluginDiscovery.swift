import SystemPackage

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Finds plugin executables by file name in a list of directories, as go-plugin's discovery
/// does: ``discover()`` lists them, ``probe(_:template:on:options:)`` keeps those that complete
/// the handshake with this host.
///
/// ```swift
/// let discovery = PluginDiscovery(
///     pattern: try GlobPattern("kv-plugin-*"),
///     directories: PluginDiscovery.defaultDirectories(application: "kvstore"))
/// let found = discovery.discover()
/// for skipped in found.skipped { logger.debug("\(skipped)") }
/// let probed = try await PluginDiscovery.probe(found.plugins, template: configuration, on: reactor)
/// ```
///
/// What ``discover()`` reports, and in which order:
///
/// - Directories in the order given, then the entries of each by name, compared byte by byte
///   (UTF-8), so the result does not depend on the file system's order or the locale. Only
///   names the ``pattern`` matches are looked at; other names are neither found nor skipped.
/// - A plugin is a regular file that this process may execute (`access(2)` with `X_OK`, so for
///   root any file with an execute bit). A directory, a socket, a FIFO or a device is skipped,
///   and so is a file without the execute permission.
/// - Symbolic links are followed, chain and all: a link to an executable regular file is a
///   plugin, reported at the link's path (the one to launch, whose name the pattern matched)
///   with ``DiscoveredPlugin/resolvedPath`` naming the file it leads to. A link whose target is
///   missing is skipped as `danglingSymlink`, a chain of more than 40 links (the kernel's limit,
///   which a loop always exceeds) as `symlinkLoop`. Listed directories are followed the same
///   way.
/// - Each file is reported once: a second path to the same file (device and inode), whether
///   through a link, a hard link, or a directory listed twice, is skipped as `duplicate`
///   naming the first. A directory listed twice (the current directory is often the binary's)
///   is skipped as a whole, as `duplicateDirectory`.
/// - A missing directory is not an error (a user who has installed no plugin has no plugin
///   directory): it is skipped as `missingDirectory`, like any other problem, in
///   ``DiscoveryReport/skipped``. Discovery itself never throws.
/// - Relative directories are taken from the current directory when ``discover()`` runs; every
///   path reported is absolute.
///
/// The file system changes while it is read: a file can go or change between the listing and
/// the launch. Discovery is a snapshot, and a launch checks the executable again.
public struct PluginDiscovery: Sendable {
    /// The file names to pick up.
    public var pattern: GlobPattern
    /// Where to look, in order.
    public var directories: [String]

    /// A discovery of the files `pattern` matches in `directories` (see
    /// ``defaultDirectories(application:environment:)`` for go-plugin's three).
    public init(pattern: GlobPattern, directories: [String]) {
        self.pattern = pattern
        self.directories = directories
    }

    /// go-plugin's three places, in this order: the user's plugin directory, the directory of
    /// the running binary, the current directory.
    ///
    /// - The user's directory is `$XDG_DATA_HOME/<application>/plugins`, by default
    ///   `~/.local/share/<application>/plugins` (the XDG base directory specification; a
    ///   relative `XDG_DATA_HOME` is ignored, as the specification asks). Data rather than
    ///   configuration (`~/.config`), because plugins are installed programs, not settings:
    ///   configuration directories are often synced between machines, where binaries of
    ///   another architecture would not run. The application's name is a parameter because a
    ///   library cannot know it (the binary's file name is not stable: copies, renames and
    ///   wrappers change it).
    /// - The binary's directory is that of `/proc/self/exe`, the executable the kernel ran (not
    ///   `argv[0]`, which the caller chooses); left out when it cannot be read.
    /// - The current directory, as go-plugin's seed notes have it. Mind that plugins found there
    ///   are launched by ``probe(_:template:on:options:)``: like `.` in `PATH`, it runs whatever
    ///   matching executable the directory the host was started from holds. Leave it out (pass
    ///   your own list) when the host may run in directories that others can write.
    ///
    /// - Parameters:
    ///   - application: your application's name, one path component (`"kvstore"`).
    ///   - environment: where `HOME` and `XDG_DATA_HOME` are read (the process's by default).
    public static func defaultDirectories(
        application: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> [String] {
        var directories: [String] = []
        if let data = environment["XDG_DATA_HOME"], data.hasPrefix("/") {
            directories.append(PathText.join(PathText.join(data, application), "plugins"))
        } else if let home = environment["HOME"], home.hasPrefix("/") {
            directories.append(PathText.join(home, ".local/share/\(application)/plugins"))
        }
        if let binary = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append(PathText.parent(of: binary))
        }
        directories.append(FileManager.default.currentDirectoryPath)
        return directories
    }

    /// Lists the plugins in ``directories`` whose names match ``pattern``, and what was skipped
    /// and why (see ``PluginDiscovery`` for the rules). Never throws.
    ///
    /// It reads the file system synchronously (a listing and a few `lstat`s per matching name),
    /// blocking the calling thread meanwhile: call it at startup or from a thread that may
    /// block, not from code running on a reactor, whose other plugins would wait.
    public func discover() -> DiscoveryReport {
        var report = DiscoveryReport()
        let current = FileManager.default.currentDirectoryPath
        var directoriesSeen: [FileIdentity: String] = [:]
        var filesSeen: [FileIdentity: String] = [:]
        for listed in directories {
            let directory = listed.hasPrefix("/") ? listed : PathText.join(current, listed)
            func skip(_ reason: SkippedPath.Reason, _ detail: String) {
                report.skipped.append(SkippedPath(path: directory, reason: reason, detail: detail))
            }
            let entry: FileEntry
            switch FileEntry.follow(directory) {
            case .missing(let detail):
                skip(.missingDirectory, detail)
                continue
            case .dangling(let detail):
                skip(.missingDirectory, detail)
                continue
            case .loop(let detail):
                skip(.symlinkLoop, detail)
                continue
            case .unreadable(let detail):
                skip(.unreadableDirectory, detail)
                continue
            case .found(let found):
                entry = found
            }
            guard entry.kind == .directory else {
                skip(.notADirectory, "it is \(entry.describedKind)")
                continue
            }
            if let identity = entry.identity {
                if let first = directoriesSeen[identity] {
                    skip(.duplicateDirectory, "the same directory as \(first), listed before")
                    continue
                }
                directoriesSeen[identity] = directory
            }
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: directory)
            } catch {
                skip(.unreadableDirectory, FileEntry.explain(error))
                continue
            }
            let matching = names.filter(pattern.matches).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for name in matching {
                let path = PathText.join(directory, name)
                switch Self.inspect(path) {
                case .skipped(let reason, let detail):
                    report.skipped.append(SkippedPath(path: path, reason: reason, detail: detail))
                case .plugin(let identity, let resolvedPath):
                    if let identity {
                        if let first = filesSeen[identity] {
                            report.skipped.append(
                                SkippedPath(path: path, reason: .duplicate, detail: "the same file as \(first)"))
                            continue
                        }
                        filesSeen[identity] = path
                    }
                    report.plugins.append(
                        DiscoveredPlugin(path: path, directory: directory, name: name, resolvedPath: resolvedPath))
                }
            }
        }
        return report
    }

    /// What one matching directory entry is.
    private enum Inspection {
        case plugin(FileIdentity?, resolvedPath: String?)
        case skipped(SkippedPath.Reason, String)
    }

    private static func inspect(_ path: String) -> Inspection {
        let entry: FileEntry
        switch FileEntry.follow(path) {
        case .missing(let detail), .unreadable(let detail):
            // Gone since the listing, or its metadata cannot be read.
            return .skipped(.unreadable, detail)
        case .dangling(let detail):
            return .skipped(.danglingSymlink, detail)
        case .loop(let detail):
            return .skipped(.symlinkLoop, detail)
        case .found(let found):
            entry = found
        }
        let through = entry.resolvedPath.map { "a symbolic link to \($0), which is " } ?? ""
        switch entry.kind {
        case .directory:
            return .skipped(.directory, through.isEmpty ? "a directory" : through + "a directory")
        case .other:
            return .skipped(.notRegularFile, "\(through)\(entry.describedKind)")
        case .regular:
            break
        }
        guard FileManager.default.isExecutableFile(atPath: path) else {
            return .skipped(
                .notExecutable, "\(through)a regular file this process may not execute (no execute permission)")
        }
        return .plugin(entry.identity, resolvedPath: entry.resolvedPath)
    }
}

/// An executable that ``PluginDiscovery/discover()`` found.
public struct DiscoveredPlugin: Sendable, Hashable, CustomStringConvertible {
    /// Where it was found (the directory's path and the name): the path to launch, as
    /// ``PluginClientConfiguration/executable``. Absolute.
    public var path: String
    /// The directory it was found in, as listed (made absolute).
    public var directory: String
    /// Its file name, which the pattern matched.
    public var name: String
    /// For a symbolic link, the regular file the chain of links leads to (its directories may
    /// themselves contain links); nil for a regular file.
    public var resolvedPath: String?

    /// Creates a record of a found plugin.
    public init(path: String, directory: String, name: String, resolvedPath: String? = nil) {
        self.path = path
        self.directory = directory
        self.name = name
        self.resolvedPath = resolvedPath
    }

    /// The path, and the link's target when it is a link (`/a/kv -> /opt/kv/bin/kv`).
    public var description: String { resolvedPath.map { "\(path) -> \($0)" } ?? path }
}

/// A path ``PluginDiscovery/discover()`` passed over: a listed directory it could not use, or a
/// matching entry that is not a plugin.
public struct SkippedPath: Sendable, Hashable, CustomStringConvertible {
    /// Why a path was skipped: one of the static members, compared by ``name``.
    public struct Reason: Hashable, Sendable, CustomStringConvertible {
        /// The reason's stable name, the same as its static member's (`"notExecutable"`).
        public let name: String

        fileprivate init(name: String) { self.name = name }

        /// A listed directory does not exist (or is a link to nothing). Not an error: a user
        /// without plugins has no plugin directory.
        public static let missingDirectory = Reason(name: "missingDirectory")
        /// A listed path is not a directory (a file, say).
        public static let notADirectory = Reason(name: "notADirectory")
        /// A listed directory cannot be listed (no permission, say; the system's error in the
        /// detail).
        public static let unreadableDirectory = Reason(name: "unreadableDirectory")
        /// A listed directory is one listed before (the same path twice, or two paths to it).
        public static let duplicateDirectory = Reason(name: "duplicateDirectory")
        /// A matching entry is a directory (or a link to one).
        public static let directory = Reason(name: "directory")
        /// A matching entry is a socket, a FIFO or a device (or a link to one).
        public static let notRegularFile = Reason(name: "notRegularFile")
        /// A matching regular file that this process may not execute.
        public static let notExecutable = Reason(name: "notExecutable")
        /// A matching symbolic link whose target does not exist.
        public static let danglingSymlink = Reason(name: "danglingSymlink")
        /// A matching symbolic link (or a listed directory) whose chain of links does not end:
        /// a loop, or more than 40 links.
        public static let symlinkLoop = Reason(name: "symlinkLoop")
        /// A matching entry whose metadata could not be read (or that went away after the
        /// listing).
        public static let unreadable = Reason(name: "unreadable")
        /// A matching entry that is the same file as a plugin found before (a link to it, a
        /// hard link, the same directory listed twice); the detail names the first path.
        public static let duplicate = Reason(name: "duplicate")

        /// The ``name``.
        public var description: String { name }
    }

    /// The path passed over (a listed directory, or a directory and a matching name), absolute.
    public var path: String
    /// Why.
    public var reason: Reason
    /// Why, for people: the link's target, the first path of a duplicate, the system's error.
    public var detail: String

    /// Creates a record of a skipped path.
    public init(path: String, reason: Reason, detail: String) {
        self.path = path
        self.reason = reason
        self.detail = detail
    }

    /// `<path>: skipped (<reason>): <detail>`, for logs.
    public var description: String { "\(path): skipped (\(reason)): \(detail)" }
}

/// What ``PluginDiscovery/discover()`` found and what it passed over, each in discovery order.
public struct DiscoveryReport: Sendable, Hashable {
    /// The plugins, in order: directories as listed, names bytewise within each.
    public var plugins: [DiscoveredPlugin] = []
    /// What was passed over, in the same order.
    public var skipped: [SkippedPath] = []

    /// An empty report.
    public init() {}
}

/// A file's identity on this machine: the device and the inode, as `stat` gives them.
private struct FileIdentity: Hashable {
    let device: UInt64
    let inode: UInt64
}

/// What a path leads to once its symbolic links are followed, read with `lstat` (through
/// `FileManager`'s attributes) hop by hop so that a dangling link and a loop can be told apart.
private struct FileEntry {
    enum Kind { case regular, directory, other }

    enum Outcome {
        case found(FileEntry)
        case missing(String)
        case dangling(String)
        case loop(String)
        case unreadable(String)
    }

    /// The kernel's limit on links followed in one lookup (`MAXSYMLINKS`, `ELOOP` after it).
    static let maximumLinks = 40

    let kind: Kind
    /// `a regular file`, `a socket`, … for details.
    let describedKind: String
    let identity: FileIdentity?
    /// The file the links led to; nil when the path itself is not a link.
    let resolvedPath: String?

    /// Follows `path` through its links to what it names.
    static func follow(_ path: String) -> Outcome {
        var current = path
        var links = 0
        while true {
            let attributes: [FileAttributeKey: Any]
            do {
                attributes = try FileManager.default.attributesOfItem(atPath: current)
            } catch {
                let explanation = explain(error)
                if errno(of: error) == .tooManySymbolicLinkLevels {
                    return .loop("\(current): \(explanation)")
                }
                guard links > 0 else {
                    return isMissing(error) ? .missing(explanation) : .unreadable(explanation)
                }
                if isMissing(error) {
                    return .dangling("a symbolic link to \(current), which does not exist")
                }
                return .unreadable("a symbolic link to \(current): \(explanation)")
            }
            let type = attributes[.type] as? FileAttributeType
            guard type == .typeSymbolicLink else {
                let (kind, described) = describe(type)
                let identity = number(attributes[.systemNumber]).flatMap { device in
                    number(attributes[.systemFileNumber]).map { FileIdentity(device: device, inode: $0) }
                }
                return .found(
                    FileEntry(
                        kind: kind, describedKind: described, identity: identity,
                        resolvedPath: links > 0 ? current : nil))
            }
            links += 1
            guard links <= maximumLinks else {
                return .loop("more than \(maximumLinks) symbolic links from \(path) (a loop)")
            }
            let target: String
            do {
                target = try FileManager.default.destinationOfSymbolicLink(atPath: current)
            } catch {
                return .unreadable("the symbolic link \(current): \(explain(error))")
            }
            current = target.hasPrefix("/") ? target : PathText.join(PathText.parent(of: current), target)
        }
    }

    private static func describe(_ type: FileAttributeType?) -> (Kind, String) {
        switch type {
        case .typeRegular: (.regular, "a regular file")
        case .typeDirectory: (.directory, "a directory")
        case .typeSocket: (.other, "a socket")
        case .typeCharacterSpecial: (.other, "a character device")
        case .typeBlockSpecial: (.other, "a block device")
        default: (.other, "neither a regular file nor a directory (a FIFO, say)")
        }
    }

    /// An attribute's number. Concrete casts: with Foundation loaded the value can be an
    /// `NSNumber`, which bridges to each of these but is no `any BinaryInteger`.
    private static func number(_ value: Any?) -> UInt64? {
        if let value = value as? UInt64 { return value }
        if let value = value as? UInt { return UInt64(value) }
        if let value = value as? Int { return UInt64(truncatingIfNeeded: value) }
        if let value = value as? Int64 { return UInt64(truncatingIfNeeded: value) }
        return nil
    }

    /// The errno behind a `FileManager` error, when it says.
    private static func errno(of error: any Error) -> Errno? {
        if let posix = error as? POSIXError { return Errno(rawValue: posix.code.rawValue) }
        if let posix = (error as? CocoaError)?.underlying as? POSIXError { return Errno(rawValue: posix.code.rawValue) }
        return nil
    }

    private static func isMissing(_ error: any Error) -> Bool {
        if let code = errno(of: error) { return code == .noSuchFileOrDirectory || code == .notDirectory }
        let code = (error as? CocoaError)?.code
        return code == .fileNoSuchFile || code == .fileReadNoSuchFile
    }

    /// The system's error for people: the errno's text when there is one.
    static func explain(_ error: any Error) -> String {
        if let code = errno(of: error) { return "\(code) (errno \(code.rawValue))" }
        return "\(error)"
    }
}

/// Path strings joined and split without touching the file system.
private enum PathText {
    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// Everything before the last `/` (`/` for a path in the root).
    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
