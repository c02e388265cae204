import SwiftDiagnostics

/// Every error `@PluginInterface` can report. Each message names the rule and why it exists, so the
/// author can fix the interface without reading the macro.
enum PluginInterfaceDiagnostic: DiagnosticMessage {
    case notAProtocol
    case primaryAssociatedTypes
    case protocolWhereClause
    case unsupportedInheritance(String)
    case associatedType
    case notAMethod(String)
    case staticMethod(String)
    case mutatingMethod
    case missingEffects(method: String, missing: String)
    case rethrowsMethod
    case typedThrows
    case genericMethod
    case methodWhereClause
    case inoutParameter
    case unsupportedSpecifier(String)
    case variadicParameter
    case someOrAnyType(String)
    case compositionType
    case functionType
    case tupleType
    case selfType
    case implicitlyUnwrappedOptional
    case typeAttribute(String)
    case extraStreamParameter
    case nestedStream
    case streamArgumentCount
    case nestedByteStream
    case byteStreamArguments
    case mixedStreamKinds
    case duplicateMethodID(String)
    case callbackNotSendable
    case callbackWithStreamResult

    var message: String {
        switch self {
        case .notAProtocol:
            "'@PluginInterface' can only be attached to a protocol"
        case .primaryAssociatedTypes:
            "a plugin interface cannot have primary associated types: its client and service are concrete types"
        case .protocolWhereClause:
            "a plugin interface cannot have a 'where' clause: its client and service are concrete types"
        case .unsupportedInheritance(let name):
            "a plugin interface can only inherit from 'Sendable': the generated client cannot implement the requirements of '\(name)'"
        case .associatedType:
            "a plugin interface cannot have associated types: the client and service need every type to be concrete"
        case .notAMethod(let kind):
            "a plugin interface cannot require \(kind): only 'async throws' methods can be called remotely"
        case .staticMethod(let keyword):
            "'\(keyword)' methods are not supported in a plugin interface: a remote call goes to one plugin instance"
        case .mutatingMethod:
            "'mutating' methods are not supported in a plugin interface: the service shares one implementation between concurrent calls"
        case .missingEffects(let method, let missing):
            "'\(method)' must be 'async throws' (add '\(missing)'): a remote call suspends and can fail"
        case .rethrowsMethod:
            "'rethrows' is not supported in a plugin interface: a remote call can fail whatever its arguments; use 'throws'"
        case .typedThrows:
            "typed throws is not supported in a plugin interface: the client must also throw transport errors (RPCError); use plain 'throws'"
        case .genericMethod:
            "generic methods are not supported in a plugin interface: the service must know each argument's concrete type to decode it"
        case .methodWhereClause:
            "'where' clauses are not supported on plugin interface methods: the service must know each type"
        case .inoutParameter:
            "'inout' parameters are not supported in a plugin interface: a remote call cannot write back to the caller's variable"
        case .unsupportedSpecifier(let specifier):
            "'\(specifier)' is not supported in a plugin interface: arguments and results are copied over the wire"
        case .variadicParameter:
            "variadic parameters are not supported in a plugin interface: use an array"
        case .someOrAnyType(let keyword):
            "'\(keyword)' types are not supported in a plugin interface: the receiver must know the concrete type to decode it"
        case .compositionType:
            "protocol composition types are not supported in a plugin interface: the receiver must know the concrete type to decode it"
        case .functionType:
            "function types are not supported in a plugin interface: a closure cannot be sent to another process"
        case .tupleType:
            "tuple types are not supported in a plugin interface: tuples are not Codable; use a struct"
        case .selfType:
            "'Self' is not supported in a plugin interface: the client and the implementation are different types"
        case .implicitlyUnwrappedOptional:
            "implicitly unwrapped optionals are not supported in a plugin interface: use an optional ('?')"
        case .typeAttribute(let attribute):
            "type attribute '\(attribute)' is not supported in a plugin interface"
        case .extraStreamParameter:
            "a plugin interface method can take at most one 'RPCStream' or 'ByteStream' parameter: a call carries one stream each way"
        case .nestedStream:
            "'RPCStream' must be the whole type of a parameter or of the result, not part of another type"
        case .streamArgumentCount:
            "'RPCStream' takes exactly one generic argument: the element type"
        case .callbackNotSendable:
            "a callback parameter must be 'any P & Sendable': the object is called from the peer's calls, concurrently with the caller"
        case .callbackWithStreamResult:
            "a method returning a stream ('RPCStream' or 'ByteStream') cannot take a callback: a callback lives until its call returns, before the stream is read"
        case .nestedByteStream:
            "'ByteStream' must be the whole type of a parameter or of the result, not part of another type"
        case .byteStreamArguments:
            "'ByteStream' takes no generic argument: it carries raw bytes"
        case .mixedStreamKinds:
            "a method cannot combine an 'RPCStream' and a 'ByteStream': a call's streams are both items or both raw bytes"
        case .duplicateMethodID(let id):
            "method id '\(id)' is already used by another method: methods cannot be overloaded by type alone; change the name or an argument label"
        }
    }

    var severity: DiagnosticSeverity { .error }

    var diagnosticID: MessageID {
        MessageID(domain: "TetherMacros.PluginInterface", id: caseName)
    }

    /// The case name without associated values: a stable id for tools and tests.
    private var caseName: String {
        let full = String(describing: self)
        return String(full.prefix { $0 != "(" })
    }
}

/// Notes attached to a diagnostic, pointing at a related declaration.
struct PluginInterfaceNote: NoteMessage {
    let message: String
    var noteID: MessageID { MessageID(domain: "TetherMacros.PluginInterface", id: message) }

    static let firstMethodWithID = PluginInterfaceNote(message: "the method id is first used here")
}
