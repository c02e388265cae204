import SwiftSyntax
import SwiftSyntaxBuilder

/// Writes `<Interface>Service`: serves any implementation of the protocol by decoding a call's
/// arguments, calling the implementation and encoding its result.
enum ServiceGenerator {
    static func declaration(for model: InterfaceModel) -> DeclSyntax {
        let access = model.memberAccess
        let generic = genericParameterName(for: model)
        let ids = model.methods.map { literal($0.wireID(interface: model.wireName)) }
        let cases = model.methods.map { dispatchCase(for: $0, in: model) }
        let members = [
            """
            \(access)let implementation: \(generic)
            """,
            """
            \(access)init(_ implementation: \(generic)) {
                self.implementation = implementation
            }
            """,
            """
            \(access)static var interfaceName: String {
                \(literal(model.wireName))
            }
            """,
            """
            \(access)static var methodNames: [String] {
                [\(ids.joined(separator: ", "))]
            }
            """,
            """
            \(access)func handle(_ call: RPCIncomingCall) async throws {
                switch call.method {
            \((cases + ["default:\n    throw RPCError(.unknownMethod, call.method)"]).joined(separator: "\n").indented())
                }
            }
            """,
        ]
        let text = """
            /// Serves an implementation of `\(model.wireName)` to remote callers.
            \(model.typeAttributes)\(model.typeAccess)struct \(model.wireName)Service<\(generic): \(model.name) & Sendable>: RPCService {
            \(members.map { $0.indented() }.joined(separator: "\n\n"))
            }
            """
        return DeclSyntax(stringLiteral: text)
    }

    /// One `case`: arguments are decoded in declaration order (the order the client encoded them),
    /// the incoming stream if any, then the call and its response.
    private static func dispatchCase(for method: InterfaceMethod, in model: InterfaceModel) -> String {
        var lines: [String] = []
        let encoded = method.encodedParameters
        if encoded.isEmpty {
            lines.append("_ = try call.arguments(count: 0)")
        } else {
            lines.append("var arguments = try call.arguments(count: \(encoded.count))")
            for (index, parameter) in encoded.enumerated() {
                if let interface = parameter.callbackInterface {
                    // A callback: a client of the object the caller serves for this call.
                    lines.append(
                        "let argument\(index) = \(interface)Client(channel: call.channel(to: try arguments.decode(RPCCallbackReference.self)))"
                    )
                } else {
                    lines.append("let argument\(index) = try arguments.decode(\(parameter.type).self)")
                }
            }
        }
        if let stream = method.streamParameter {
            if let element = stream.streamElement {
                lines.append("let stream = call.incomingStream(of: \(element).self)")
            } else {
                lines.append("let stream = call.incomingBytes()")
            }
        }

        var encodedIndex = 0
        let callArguments = method.parameters.map { parameter in
            var value = "stream"
            if !parameter.isStream {
                value = "argument\(encodedIndex)"
                encodedIndex += 1
            }
            return parameter.label.map { "\($0.text): \(value)" } ?? value
        }
        let invocation = "try await self.implementation.\(method.name)(\(callArguments.joined(separator: ", ")))"
        switch method.result {
        case .void:
            lines += [invocation, "try await call.respond()"]
        case .value:
            lines.append("try await call.respond(\(invocation))")
        case .stream:
            lines.append("try await call.respondStreaming(\(invocation))")
        case .bytes:
            lines.append("try await call.respondBytes(\(invocation))")
        }
        return "case \(literal(method.wireID(interface: model.wireName))):\n\(lines.joined(separator: "\n").indented())"
    }

    /// `Implementation`, unless a type in the interface already uses that name: inside the service
    /// the generic parameter would shadow it.
    private static func genericParameterName(for model: InterfaceModel) -> String {
        var used = Set<String>()
        for method in model.methods {
            for token in method.declaration.signature.tokens(viewMode: .sourceAccurate) {
                if case .identifier = token.tokenKind {
                    used.insert(token.plainText)
                }
            }
        }
        var name = "Implementation"
        while used.contains(name) {
            name += "_"
        }
        return name
    }

    private static func literal(_ text: String) -> String {
        StringLiteralExprSyntax(content: text).description
    }
}
