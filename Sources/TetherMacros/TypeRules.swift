import SwiftDiagnostics
import SwiftSyntax

/// What a parameter's or result's type means for the call, once it passed the checks.
enum TypeShape {
    case value
    case void
    case stream(element: TypeSyntax)
    /// `any P & Sendable`, a parameter only: an object the caller serves for the call's duration,
    /// `P` being another `@PluginInterface` protocol.
    case callback(interface: TypeSyntax)
    /// `ByteStream`: raw bytes after the call message or the result (docs/wire-protocol.md, 11.6).
    case bytes
}

/// The syntactic rules for types in a plugin interface. They reject what can never cross the wire
/// (closures, existentials, tuples, `Self`) and place `RPCStream` and `ByteStream`. Whether a type is `Codable`
/// cannot be seen in syntax: a non-Codable type fails later, in the generated code, with the
/// compiler's own conformance error.
enum TypeRules {
    /// Checks a parameter's type; `RPCStream<T>` or `ByteStream` as the whole type makes it a stream
    /// parameter.
    static func parameterShape(_ type: TypeSyntax, diagnostics: inout [Diagnostic]) -> TypeShape {
        if let callback = callbackShape(type, diagnostics: &diagnostics) { return callback }
        return shape(of: type, allowVoid: false, diagnostics: &diagnostics)
    }

    /// `any P & Sendable` (either order, `Swift.Sendable` too) as the whole type: a callback of
    /// interface `P`. `any P` alone is reported: the object is called from the peer's calls,
    /// concurrently with the caller, so it must be `Sendable`. Nil for any other type.
    private static func callbackShape(_ type: TypeSyntax, diagnostics: inout [Diagnostic]) -> TypeShape? {
        var bare = type
        while let tuple = bare.as(TupleTypeSyntax.self), let inner = tuple.parenthesizedType { bare = inner }
        guard let existential = bare.as(SomeOrAnyTypeSyntax.self), existential.someOrAnySpecifier.text == "any"
        else { return nil }
        func isInterface(_ type: TypeSyntax) -> Bool {
            if let identifier = type.as(IdentifierTypeSyntax.self) {
                return identifier.genericArgumentClause == nil && !isSendable(type)
            }
            if let member = type.as(MemberTypeSyntax.self) {
                return member.genericArgumentClause == nil && !isSendable(type)
            }
            return false
        }
        if isInterface(existential.constraint) {
            diagnostics.append(Diagnostic(node: existential, message: PluginInterfaceDiagnostic.callbackNotSendable))
            return .callback(interface: existential.constraint)
        }
        guard let composition = existential.constraint.as(CompositionTypeSyntax.self),
            composition.elements.count == 2
        else { return nil }
        let parts = composition.elements.map(\.type)
        guard parts.contains(where: isSendable), let interface = parts.first(where: isInterface) else { return nil }
        return .callback(interface: interface)
    }

    private static func isSendable(_ type: TypeSyntax) -> Bool {
        let text = type.trimmedDescription
        return text == "Sendable" || text == "Swift.Sendable"
    }

    /// Checks a result type; `Void` and `()` mean no result.
    static func resultShape(_ type: TypeSyntax, diagnostics: inout [Diagnostic]) -> TypeShape {
        shape(of: type, allowVoid: true, diagnostics: &diagnostics)
    }

    private static func shape(of type: TypeSyntax, allowVoid: Bool, diagnostics: inout [Diagnostic]) -> TypeShape {
        let bare = peel(type, diagnostics: &diagnostics)
        if allowVoid && isVoid(bare) {
            return .void
        }
        if let arguments = byteStreamGenericArguments(bare) {
            if arguments != nil {
                diagnostics.append(Diagnostic(node: bare, message: PluginInterfaceDiagnostic.byteStreamArguments))
            }
            return .bytes
        }
        if let arguments = streamGenericArguments(bare) {
            guard let arguments, arguments.count == 1, let only = arguments.first,
                case .type(let element) = only.argument
            else {
                diagnostics.append(Diagnostic(node: bare, message: PluginInterfaceDiagnostic.streamArgumentCount))
                return .value
            }
            diagnostics += TypeProblemFinder.problems(in: element)
            return .stream(element: element)
        }
        diagnostics += TypeProblemFinder.problems(in: bare)
        return .value
    }

    /// Strips what may wrap the whole type: specifiers (`inout`, `sending`, … all reported) and
    /// redundant parentheses.
    private static func peel(_ type: TypeSyntax, diagnostics: inout [Diagnostic]) -> TypeSyntax {
        var current = type
        while true {
            if let attributed = current.as(AttributedTypeSyntax.self) {
                diagnostics += TypeProblemFinder.specifierAndAttributeProblems(attributed)
                current = attributed.baseType
            } else if let tuple = current.as(TupleTypeSyntax.self), let inner = tuple.parenthesizedType {
                current = inner
            } else {
                return current
            }
        }
    }

    private static func isVoid(_ type: TypeSyntax) -> Bool {
        if let tuple = type.as(TupleTypeSyntax.self) {
            return tuple.elements.isEmpty
        }
        if let identifier = type.as(IdentifierTypeSyntax.self) {
            return identifier.name.text == "Void" && identifier.genericArgumentClause == nil
        }
        if let member = type.as(MemberTypeSyntax.self) {
            return member.name.text == "Void" && member.baseType.trimmedDescription == "Swift"
        }
        return false
    }

    /// For `RPCStream…` (or `TetherRPC.RPCStream…`): its generic arguments, `.some(nil)` when it has
    /// none. For any other type: nil.
    static func streamGenericArguments(_ type: TypeSyntax) -> GenericArgumentListSyntax?? {
        if let identifier = type.as(IdentifierTypeSyntax.self), identifier.name.text == "RPCStream" {
            return .some(identifier.genericArgumentClause?.arguments)
        }
        if let member = type.as(MemberTypeSyntax.self), member.name.text == "RPCStream" {
            return .some(member.genericArgumentClause?.arguments)
        }
        return nil
    }
}

extension TypeRules {
    /// For `ByteStream…` (or `TetherRPC.ByteStream…`): its generic arguments (it takes none),
    /// `.some(nil)` when it has none. For any other type: nil.
    static func byteStreamGenericArguments(_ type: TypeSyntax) -> GenericArgumentListSyntax?? {
        if let identifier = type.as(IdentifierTypeSyntax.self), identifier.name.text == "ByteStream" {
            return .some(identifier.genericArgumentClause?.arguments)
        }
        if let member = type.as(MemberTypeSyntax.self), member.name.text == "ByteStream" {
            return .some(member.genericArgumentClause?.arguments)
        }
        return nil
    }
}

extension TupleTypeSyntax {
    /// `(T)`: parentheses around one unlabelled type, which Swift treats as `T` itself.
    var parenthesizedType: TypeSyntax? {
        guard elements.count == 1, let only = elements.first,
            only.firstName == nil, only.secondName == nil, only.ellipsis == nil
        else { return nil }
        return only.type
    }
}

/// Walks a type (never a whole `RPCStream` or `ByteStream` at the top: the caller handles that) and reports each
/// construct that cannot cross the wire, once, without descending into it.
final class TypeProblemFinder: SyntaxVisitor {
    private var problems: [Diagnostic] = []

    static func problems(in type: TypeSyntax) -> [Diagnostic] {
        let finder = TypeProblemFinder(viewMode: .sourceAccurate)
        finder.walk(type)
        return finder.problems
    }

    /// Specifiers are never valid here; attributes only appear on function types, which are
    /// reported as such, so an attribute on anything else is reported on its own.
    static func specifierAndAttributeProblems(_ type: AttributedTypeSyntax) -> [Diagnostic] {
        var problems: [Diagnostic] = []
        for specifier in Array(type.specifiers) + Array(type.lateSpecifiers) {
            let text = specifier.trimmedDescription
            let message: PluginInterfaceDiagnostic =
                text == "inout" ? .inoutParameter : .unsupportedSpecifier(text)
            problems.append(Diagnostic(node: specifier, message: message))
        }
        if !type.baseType.is(FunctionTypeSyntax.self) {
            for attribute in type.attributes {
                problems.append(
                    Diagnostic(
                        node: attribute, message: PluginInterfaceDiagnostic.typeAttribute(attribute.trimmedDescription))
                )
            }
        }
        return problems
    }

    private func report(_ node: some SyntaxProtocol, _ message: PluginInterfaceDiagnostic) -> SyntaxVisitorContinueKind
    {
        problems.append(Diagnostic(node: node, message: message))
        return .skipChildren
    }

    override func visit(_ node: AttributedTypeSyntax) -> SyntaxVisitorContinueKind {
        problems += Self.specifierAndAttributeProblems(node)
        walk(node.baseType)
        return .skipChildren
    }

    override func visit(_ node: SomeOrAnyTypeSyntax) -> SyntaxVisitorContinueKind {
        report(node, .someOrAnyType(node.someOrAnySpecifier.text))
    }

    override func visit(_ node: CompositionTypeSyntax) -> SyntaxVisitorContinueKind {
        report(node, .compositionType)
    }

    override func visit(_ node: FunctionTypeSyntax) -> SyntaxVisitorContinueKind {
        report(node, .functionType)
    }

    override func visit(_ node: TupleTypeSyntax) -> SyntaxVisitorContinueKind {
        node.parenthesizedType == nil ? report(node, .tupleType) : .visitChildren
    }

    override func visit(_ node: ImplicitlyUnwrappedOptionalTypeSyntax) -> SyntaxVisitorContinueKind {
        report(node, .implicitlyUnwrappedOptional)
    }

    override func visit(_ node: IdentifierTypeSyntax) -> SyntaxVisitorContinueKind {
        if node.name.tokenKind == .keyword(.Self) {
            return report(node, .selfType)
        }
        if node.name.text == "RPCStream" {
            return report(node, .nestedStream)
        }
        if node.name.text == "ByteStream" {
            return report(node, .nestedByteStream)
        }
        return .visitChildren
    }

    override func visit(_ node: MemberTypeSyntax) -> SyntaxVisitorContinueKind {
        switch node.name.text {
        case "RPCStream": report(node, .nestedStream)
        case "ByteStream": report(node, .nestedByteStream)
        default: .visitChildren
        }
    }
}
