import Foundation
import Synchronization
@_exported import TetherPluginInterface

public struct Change: Codable, Sendable, Equatable {
    public var key: String
    public var value: Data?

    public init(key: String, value: Data?) {
        self.key = key
        self.value = value
    }
}

public struct Row: Codable, Sendable, Equatable {
    public var id: Int
    public var name: String

    public init(id: Int, name: String) {
        self.id = id
        self.name = name
    }
}

/// An error both sides know (registered in `RPCConfiguration.knownErrors` by the caller).
public enum StoreError: Error, Codable, Equatable {
    case notFound(String)
    case readOnly
}

/// An error that cannot travel as itself (not Codable).
public struct DiskError: Error, CustomStringConvertible {
    private let onPut: (@Sendable (String) -> Void)?

    /// - Parameter onPut: told every key written (a plugin prints it, to test output forwarding).
    public init(onPut: (@Sendable (String) -> Void)? = nil) {
        self.onPut = onPut
    }
    public var description: String { "disk on fire" }
}

@PluginInterface
public protocol KeyValue {
    func get(_ key: String) async throws -> Data?
    func put(_ key: String, value: Data) async throws
    func watch(prefix: String, count: Int) async throws -> RPCStream<Change>
    func load(_ rows: RPCStream<Row>) async throws -> Int
    func rename(_ rows: RPCStream<Row>, suffix: String) async throws -> RPCStream<Row>
    func fail(codable: Bool) async throws
    /// Waits until cancelled; returns whether it was.
    func block() async throws -> Bool
    func bulk(count: Int, itemBytes: Int) async throws -> RPCStream<Data>
    /// Yields 0 ..< `count`, then fails with `StoreError.readOnly`.
    func countThenFail(_ count: Int) async throws -> RPCStream<Int>
}

/// The plugin's implementation, recording what a test needs to see of the callee's side.
public final class Store: KeyValue, Sendable {
    private let values = Mutex<[String: Data]>([:])
    public let cancelledHandlers = Atomic<Int>(0)
    public let startedBlocks = Atomic<Int>(0)
    public let bulkProduced = Atomic<Int>(0)

    private let onPut: (@Sendable (String) -> Void)?

    /// - Parameter onPut: told every key written (a plugin prints it, to test output forwarding).
    public init(onPut: (@Sendable (String) -> Void)? = nil) {
        self.onPut = onPut
    }

    public func get(_ key: String) async throws -> Data? {
        values.withLock { $0[key] }
    }

    public func put(_ key: String, value: Data) async throws {
        values.withLock { $0[key] = value }
        onPut?(key)
    }

    public func watch(prefix: String, count: Int) async throws -> RPCStream<Change> {
        RPCStream { writer in
            for index in 0..<count {
                try await writer.yield(
                    Change(key: "\(prefix)\(index)", value: Data([UInt8(truncatingIfNeeded: index)])))
            }
        }
    }

    public func load(_ rows: RPCStream<Row>) async throws -> Int {
        var count = 0
        for try await row in rows {
            guard row.id == count else { throw StoreError.notFound("row \(count), got \(row.id)") }
            count += 1
        }
        return count
    }

    public func rename(_ rows: RPCStream<Row>, suffix: String) async throws -> RPCStream<Row> {
        RPCStream { writer in
            for try await row in rows { try await writer.yield(Row(id: row.id, name: row.name + suffix)) }
        }
    }

    public func fail(codable: Bool) async throws {
        if codable { throw StoreError.notFound("missing") }
        throw DiskError()
    }

    public func block() async throws -> Bool {
        startedBlocks.add(1, ordering: .relaxed)
        do {
            while true { try await Task.sleep(for: .seconds(60)) }
        } catch {
            cancelledHandlers.add(1, ordering: .relaxed)
            throw error
        }
    }

    public func bulk(count: Int, itemBytes: Int) async throws -> RPCStream<Data> {
        RPCStream { writer in
            for index in 0..<count {
                try await writer.yield(Data(repeating: UInt8(truncatingIfNeeded: index), count: itemBytes))
                self.bulkProduced.add(1, ordering: .relaxed)
            }
        }
    }

    public func countThenFail(_ count: Int) async throws -> RPCStream<Int> {
        RPCStream { writer in
            for index in 0..<count { try await writer.yield(index) }
            throw StoreError.readOnly
        }
    }
}
