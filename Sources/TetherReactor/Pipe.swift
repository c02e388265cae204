import CLibUring
import Glibc
import SystemPackage

/// The read end of a pipe, driven by a reactor; reads land in the reactor's provided buffers.
public final class PipeReader: Sendable {
    public let reactor: Reactor
    let core: HandleCore

    init(reactor: Reactor, fd: Int32) {
        self.reactor = reactor
        self.core = HandleCore(reactor: reactor, fd: fd, kind: "pipe reader")
    }

    deinit { core.dropped() }

    /// Takes ownership of a readable pipe fd (e.g. a child's stdout). The reader owns the
    /// descriptor from now on: closing it elsewhere is a bug the reactor traps on (`EBADF`).
    public static func adopting(_ fileDescriptor: FileDescriptor, on reactor: Reactor) -> PipeReader {
        PipeReader(reactor: reactor, fd: fileDescriptor.rawValue)
    }

    public var fileDescriptor: FileDescriptor { FileDescriptor(rawValue: core.fd) }

    /// The next bytes, or nil once every writer has closed.
    public func read() async throws -> BufferSlice? {
        try await reactor.withLoop { loop in
            try await self.core.openReceiveQueue(loop: loop, mode: .pipe).receive()
        }
    }

    /// The receive side's internal state in one line (armed, queued buffers, end of stream,
    /// a waiting reader), for diagnosing a stuck pipe.
    public func receiveDiagnostics() async -> String {
        (try? await reactor.withLoop { _ in self.core.receiveQueue?.diagnostics ?? "no read yet" }) ?? "reactor stopped"
    }

    public func close() async throws {
        try await reactor.withLoop { loop in try await self.core.close(loop: loop) }
    }
}

/// The write end of a pipe, driven by a reactor.
public final class PipeWriter: Sendable {
    public let reactor: Reactor
    let core: HandleCore

    init(reactor: Reactor, fd: Int32) {
        self.reactor = reactor
        self.core = HandleCore(reactor: reactor, fd: fd, kind: "pipe writer")
    }

    deinit { core.dropped() }

    /// Takes ownership of a writable pipe fd (e.g. a child's stdin). The writer owns the
    /// descriptor from now on: closing it elsewhere is a bug the reactor traps on (`EBADF`).
    public static func adopting(_ fileDescriptor: FileDescriptor, on reactor: Reactor) -> PipeWriter {
        PipeWriter(reactor: reactor, fd: fileDescriptor.rawValue)
    }

    public var fileDescriptor: FileDescriptor { FileDescriptor(rawValue: core.fd) }

    /// Writes all of `slices` in order (`writev`).
    public func write(_ slices: [BufferSlice]) async throws {
        try await reactor.withLoop { loop in try await self.core.writeAll(slices, loop: loop, socket: false) }
    }

    public func write(_ slice: BufferSlice) async throws { try await write([slice]) }

    public func close() async throws {
        try await reactor.withLoop { loop in try await self.core.close(loop: loop) }
    }
}

extension Reactor {
    /// A new pipe (`pipe2` with `O_CLOEXEC`), both ends driven by this reactor.
    public func makePipe() throws(ReactorError) -> (reader: PipeReader, writer: PipeWriter) {
        var fds: (Int32, Int32) = (-1, -1)
        _ = try syscall("pipe2") {
            unsafe withUnsafeMutableBytes(of: &fds) { raw in
                unsafe tether_pipe2(raw.baseAddress!.assumingMemoryBound(to: Int32.self), O_CLOEXEC)
            }
        }
        return (PipeReader(reactor: self, fd: fds.0), PipeWriter(reactor: self, fd: fds.1))
    }
}
