import SwiftSyntax
import SwiftSyntaxBuilder

/// Writes `<Interface>Client`: a struct that conforms to the protocol and turns each method into
/// one call on ``RPCChannel``.
enum ClientGenerator {
    static func declaration(for model: InterfaceModel) -> DeclSyntax {
        let access = model.memberAccess
        let members =
            [
                """
                \(access)let channel: RPCChannel
                """,
                """
                \(access)init(channel: RPCChannel) {
                    self.channel = channel
                }
                """,
            ] + model.methods.map { method(for: $0, in: model) }
        let text = """
            /// Calls a remote `\(model.wireName)` over `channel`: each method is one RPC.
            \(model.typeAttributes)\(model.typeAccess)struct \(model.wireName)Client: \(model.name), RPCClientStub {
            \(members.map { $0.indented() }.joined(separator: "\n\n"))
            }
            """
        return DeclSyntax(stringLiteral: text)
    }

    private static func method(for method: InterfaceMethod, in model: InterfaceModel) -> String {
        let parameters = method.parameters.map { parameter in
            let name = parameter.clientName
            let label = parameter.label?.text ?? "_"
            let declared = label == name ? name : "\(label) \(name)"
            return "\(declared): \(parameter.type)"
        }
        let returnClause: String =
            switch method.result {
            case .void: ""
            case .value(let type), .stream(let type, _), .bytes(let type): " -> \(type)"
            }
        let callExpression = "try await channel.\(call(for: method, in: model)) \(argumentsClosure(for: method))"
        return """
            \(model.memberAccess)func \(method.name)(\(parameters.joined(separator: ", "))) async throws\(returnClause) {
            \(withCallbacks(callExpression, for: method).indented())
            }
            """
    }

    /// `body` as is, or, for a method with callback parameters, inside one `withCallback` per
    /// callback: each object is served (as its interface's generated service, through a local
    /// generic function that opens the existential) while the call runs, and its reference is
    /// what `argumentsClosure` encodes.
    private static func withCallbacks(_ body: String, for method: InterfaceMethod) -> String {
        let callbacks = method.parameters.filter { $0.callbackInterface != nil }
        guard !callbacks.isEmpty else { return body }
        var openers: [String] = []
        var expression = body
        for (index, parameter) in callbacks.enumerated().reversed() {
            let interface = parameter.callbackInterface!
            openers.insert(
                """
                func callbackService\(index)<TetherCallback: \(interface) & Sendable>(_ value: TetherCallback) -> any RPCService {
                    \(interface)Service(value)
                }
                """, at: 0)
            expression = """
                try await channel.withCallback(callbackService\(index)(\(parameter.clientName))) { callback\(index) in
                \(expression.indented())
                }
                """
        }
        return (openers + ["return " + expression]).joined(separator: "\n")
    }

    /// The runtime call with every argument but the trailing closure.
    private static func call(for method: InterfaceMethod, in model: InterfaceModel) -> String {
        let id = StringLiteralExprSyntax(content: method.wireID(interface: model.wireName)).description
        var arguments = [id]
        let function: String
        switch method.call {
        case .unary(let returning):
            function = "unary"
            arguments += returning.map { ["returning: \($0).self"] } ?? []
        case .serverStreaming(let element):
            function = "serverStreaming"
            arguments.append("of: \(element).self")
        case .clientStreaming(let sending, let returning):
            function = "clientStreaming"
            arguments.append("sending: \(sending.clientName)")
            arguments += returning.map { ["returning: \($0).self"] } ?? []
        case .bidirectional(let sending, let element):
            function = "bidirectional"
            arguments += ["sending: \(sending.clientName)", "of: \(element).self"]
        case .serverStreamingBytes:
            function = "serverStreamingBytes"
        case .bidirectionalBytes(let sending):
            function = "bidirectionalBytes"
            arguments.append("sending: \(sending.clientName)")
        }
        return "\(function)(\(arguments.joined(separator: ", ")))"
    }

    /// Encodes the non-stream arguments in declaration order; the receiver decodes them in the same
    /// order.
    private static func argumentsClosure(for method: InterfaceMethod) -> String {
        let encoded = method.encodedParameters
        guard !encoded.isEmpty else {
            return "{ _ in\n}"
        }
        var callbackIndex = 0
        let lines = encoded.map { parameter in
            guard parameter.callbackInterface != nil else { return "try arguments.encode(\(parameter.clientName))" }
            defer { callbackIndex += 1 }
            return "try arguments.encode(callback\(callbackIndex))"
        }
        return "{ arguments in\n\(lines.joined(separator: "\n").indented())\n}"
    }
}
