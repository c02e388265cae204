import SwiftSyntax

/// A protocol read by `@PluginInterface`, reduced to what the generators need. Built only when the
/// protocol passed every check, so generators never see an unsupported shape.
struct InterfaceModel {
    /// The protocol's name as written (may be backticked); used in generated type names.
    var name: TokenSyntax
    /// The access keyword written on the protocol (`public`, `package`, `fileprivate`, …), if any.
    var accessKeyword: Keyword?
    /// The protocol's `@available` attributes: the peers name the protocol, so they can exist only
    /// where it does.
    var availability: [AttributeSyntax]
    var methods: [InterfaceMethod]

    /// The interface's name on the wire: the protocol name without backticks.
    var wireName: String { name.plainText }

    /// The access modifier for the generated types, with a trailing space, or "" for internal.
    var typeAccess: String { accessKeyword.map { "\($0) " } ?? "" }

    /// The access modifier for members of the generated types. A `private` member would be
    /// narrower than the `private` type around it (the type's scope is the file), too narrow to
    /// satisfy the protocol's requirements, so members of a private interface are `fileprivate`.
    var memberAccess: String {
        accessKeyword == .private ? "fileprivate " : typeAccess
    }

    /// The attribute lines written before each generated type.
    var typeAttributes: String {
        availability.map { "\($0.trimmed)\n" }.joined()
    }
}

/// One method requirement of a plugin interface.
struct InterfaceMethod {
    /// The method name as written (may be backticked).
    var name: TokenSyntax
    var parameters: [InterfaceParameter]
    var result: InterfaceResult
    /// The original declaration, for pointing diagnostics at it.
    var declaration: FunctionDeclSyntax

    /// The method's identity on the wire: `Interface.name(label:_:)`. Built from the external labels
    /// only, so renaming an internal parameter name or changing a type keeps it.
    func wireID(interface: String) -> String {
        let labels = parameters.map { "\($0.label?.plainText ?? "_"):" }.joined()
        return "\(interface).\(name.plainText)(\(labels))"
    }

    /// The parameters that are encoded as arguments: all but the stream, in declaration order.
    var encodedParameters: [InterfaceParameter] { parameters.filter { !$0.isStream } }

    /// The stream parameter (`RPCStream` or `ByteStream`), if the method streams from client to
    /// server.
    var streamParameter: InterfaceParameter? { parameters.first { $0.isStream } }

    /// The runtime call the method maps to, with what that call needs.
    var call: CallShape {
        let resultValue: TypeSyntax? =
            switch result {
            case .void, .stream, .bytes: nil
            case .value(let type): type
            }
        if let sending = streamParameter, sending.isByteStream {
            if case .bytes = result { return .bidirectionalBytes(sending: sending) }
            return .clientStreaming(sending: sending, returning: resultValue)
        }
        switch (streamParameter, result) {
        case (nil, .bytes): return .serverStreamingBytes
        case (nil, .stream(_, let element)): return .serverStreaming(of: element)
        case (let sending?, .stream(_, let element)): return .bidirectional(sending: sending, of: element)
        case (let sending?, _): return .clientStreaming(sending: sending, returning: resultValue)
        case (nil, _): return .unary(returning: resultValue)
        }
    }
}

/// The RPC shapes of the runtime. `returning: nil` means a Void result. `clientStreaming` sends
/// items or bytes (the runtime overloads it on the stream's type). A method that mixes an
/// `RPCStream` and a `ByteStream` is rejected before a shape is asked for.
enum CallShape {
    case serverStreamingBytes
    case bidirectionalBytes(sending: InterfaceParameter)
    case unary(returning: TypeSyntax?)
    case serverStreaming(of: TypeSyntax)
    case clientStreaming(sending: InterfaceParameter, returning: TypeSyntax?)
    case bidirectional(sending: InterfaceParameter, of: TypeSyntax)
}

struct InterfaceParameter {
    /// The external label, nil for `_`.
    var label: TokenSyntax?
    /// The name the generated client uses for the parameter (see `InterfaceReader.assignClientNames`).
    var clientName: String
    /// The type exactly as written.
    var type: TypeSyntax
    /// For an `RPCStream<Element>` parameter, `Element`.
    var streamElement: TypeSyntax?
    /// A `ByteStream` parameter.
    var isByteStream = false

    /// An `RPCStream` or a `ByteStream`: sent after the call message, not among the arguments.
    var isStream: Bool { streamElement != nil || isByteStream }
}

enum InterfaceResult {
    case void
    /// A single value of the type as written.
    case value(TypeSyntax)
    /// `RPCStream<Element>`: the whole type as written and its element.
    case stream(type: TypeSyntax, element: TypeSyntax)
    /// `ByteStream`, as written.
    case bytes(type: TypeSyntax)
}

extension TokenSyntax {
    /// The name without backticks, for wire ids: `` `default` `` becomes `default`.
    var plainText: String { identifier?.name ?? trimmed.text }
}

extension String {
    /// Every non-empty line moved right by one level. Generators write nested code already
    /// indented, because the formatter does not re-indent lines inside interpolated text.
    func indented() -> String {
        split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.isEmpty ? "" : "    " + $0 }
            .joined(separator: "\n")
    }
}
