import Synchronization
import TetherMessagePack
import TetherMux

/// A stream of items arriving on a call's mux stream, not yet iterated.
///
/// Shared by copies of the ``RPCStream`` that wraps it; the first iterator takes the reader. When
/// the last copy and the iterator are gone, the call's stream is released (reset if still open)
/// and a producer sending the other direction of the call (a bidirectional call) is cancelled.
final class RPCRemoteItems<Element: Sendable>: Sendable {
    private let reader: Mutex<RPCItemReader<Element>?>

    /// With no reader: a stream already taken, whose iteration throws `streamConsumed`.
    init(reader: RPCItemReader<Element>?) {
        self.reader = Mutex(reader)
    }

    /// A task that sends the call's other direction; cancelled when the reader (this object's,
    /// or the iterator's that took it) is dropped.
    func attach(_ task: Task<(any Error)?, Never>) {
        let companion = RPCCompanionTask(task)
        reader.withLock { $0?.companion = companion }
    }

    func takeReader() -> RPCItemReader<Element>? {
        reader.withLock { reader in
            defer { reader = nil }
            return reader
        }
    }

}

/// The task sending a call's other direction (items or bytes), cancelled when the last
/// reference to it goes; it ends with the error that stopped it, if any.
final class RPCCompanionTask: Sendable {
    private let task: Task<(any Error)?, Never>

    init(_ task: Task<(any Error)?, Never>) {
        self.task = task
    }

    /// Waits for the task to end and returns the error it ended with; nil for none.
    func error() async -> (any Error)? {
        await task.value
    }

    deinit {
        task.cancel()
    }
}

/// Reads `[2, item]` messages from a call's stream until the end: the sender's FIN (items sent by
/// the caller), or a result or failure message (items sent by the callee).
struct RPCItemReader<Element: Sendable>: Sendable {
    enum End: Sendable {
        /// The caller's items end with its FIN.
        case fin
        /// The callee's items end with `[3, nil]`, or `[4, …]` when it failed.
        case resultMessage
    }

    var messages: RPCMessageReader
    let end: End
    let context: RPCDecodingContext
    /// Decodes one item (made where `Element` is known to be `Decodable`).
    let decodeItem: @Sendable (inout MessagePackReader, RPCDecodingContext) throws -> Element
    var finished = false
    /// Kept alive as long as the items are read (see `RPCRemoteItems.attach`).
    var companion: RPCCompanionTask?

    init(messages: RPCMessageReader, end: End, context: RPCDecodingContext) where Element: Decodable {
        self.messages = messages
        self.end = end
        self.context = context
        self.decodeItem = { reader, context in try context.decodeValue(Element.self, from: &reader) }
    }

    mutating func next() async throws -> Element? {
        guard !finished else { return nil }
        do {
            switch try await messages.next() {
            case .item(var reader):
                return try decodeItem(&reader, context)
            case .result where end == .resultMessage:
                finished = true
                return nil
            case .failure(let failure) where end == .resultMessage:
                finished = true
                throw context.error(for: failure)
            case nil where end == .fin:
                finished = true
                return nil
            case nil:
                throw RPCError(.connectionLost, "the call's stream \(messages.stream.id) ended before its last item")
            default:
                throw RPCError(.protocolViolation, "unexpected message in a stream of items")
            }
        } catch {
            finished = true
            throw await context.explained(error)
        }
    }
}
