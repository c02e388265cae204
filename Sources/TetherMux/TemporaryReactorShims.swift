// TEMPORARY: stand-ins until the reactor's pause/resume/abort land (issue11-reactor). Deleted at merge.
import TetherReactor

extension StreamSocket {
    func pauseReceiving() {}
    func resumeReceiving() {}
    func abort() { try? shutdownWriting() }
}
