import SwiftDiagnostics
import SwiftSyntax

/// Reads a protocol into an ``InterfaceModel`` and collects every rule it breaks, one diagnostic
/// per offending node, so the author sees all problems from one build.
struct InterfaceReader {
    private(set) var diagnostics: [Diagnostic] = []

    /// The model of `declaration`; meaningful only when ``diagnostics`` is empty.
    mutating func read(_ declaration: ProtocolDeclSyntax) -> InterfaceModel {
        checkProtocolHeader(declaration)
        var methods: [InterfaceMethod] = []
        for member in declaration.memberBlock.members {
            if let function = member.decl.as(FunctionDeclSyntax.self) {
                methods.append(readMethod(function))
            } else {
                reportNonMethod(member.decl)
            }
        }
        let model = InterfaceModel(
            name: declaration.name.trimmed,
            accessKeyword: accessKeyword(of: declaration.modifiers),
            availability: declaration.attributes.compactMap { element in
                element.as(AttributeSyntax.self).flatMap {
                    $0.attributeName.trimmedDescription == "available" ? $0 : nil
                }
            },
            methods: methods
        )
        checkUniqueWireIDs(model)
        return model
    }

    private mutating func report(_ node: some SyntaxProtocol, _ message: PluginInterfaceDiagnostic) {
        diagnostics.append(Diagnostic(node: node, message: message))
    }

    private mutating func checkProtocolHeader(_ declaration: ProtocolDeclSyntax) {
        if let primary = declaration.primaryAssociatedTypeClause {
            report(primary, .primaryAssociatedTypes)
        }
        if let whereClause = declaration.genericWhereClause {
            report(whereClause, .protocolWhereClause)
        }
        // The client is a struct that implements exactly the methods it can see here, so any other
        // inherited protocol would leave requirements unimplemented (or, like AnyObject, forbid a
        // struct).
        for inherited in declaration.inheritanceClause?.inheritedTypes ?? [] {
            let name = inherited.type.trimmedDescription
            if name != "Sendable" && name != "Swift.Sendable" {
                report(inherited.type, .unsupportedInheritance(name))
            }
        }
    }

    private mutating func reportNonMethod(_ decl: DeclSyntax) {
        if decl.is(AssociatedTypeDeclSyntax.self) {
            report(decl, .associatedType)
            return
        }
        let kind: String =
            switch decl.kind {
            case .variableDecl: "a property"
            case .subscriptDecl: "a subscript"
            case .initializerDecl: "an initializer"
            case .typeAliasDecl: "a type alias"
            case .structDecl, .classDecl, .enumDecl, .actorDecl, .protocolDecl: "a nested type"
            case .ifConfigDecl: "a conditional compilation block"
            default: "this declaration"
            }
        report(decl, .notAMethod(kind))
    }

    private mutating func readMethod(_ function: FunctionDeclSyntax) -> InterfaceMethod {
        for modifier in function.modifiers {
            switch modifier.name.tokenKind {
            case .keyword(.static), .keyword(.class):
                report(modifier, .staticMethod(modifier.name.text))
            case .keyword(.mutating):
                report(modifier, .mutatingMethod)
            default:
                // `nonisolated` is accepted: the generated client and service are not isolated to
                // any actor, so it changes nothing for them.
                break
            }
        }
        if let generics = function.genericParameterClause {
            report(generics, .genericMethod)
        }
        checkEffects(function)

        var parameters: [InterfaceParameter] = []
        var seenStream = false
        var firstCallback: TypeSyntax?
        for parameter in function.signature.parameterClause.parameters {
            if let ellipsis = parameter.ellipsis {
                report(ellipsis, .variadicParameter)
            }
            var streamElement: TypeSyntax?
            var callbackInterface: TypeSyntax?
            var isByteStream = false
            switch TypeRules.parameterShape(parameter.type, diagnostics: &diagnostics) {
            case .stream(let element):
                streamElement = element
            case .bytes:
                isByteStream = true
            case .callback(let interface):
                callbackInterface = interface
                firstCallback = firstCallback ?? parameter.type
            case .value, .void:
                break
            }
            if streamElement != nil || isByteStream {
                if seenStream {
                    report(parameter, .extraStreamParameter)
                }
                seenStream = true
            }
            parameters.append(
                InterfaceParameter(
                    label: parameter.firstName.tokenKind == .wildcard ? nil : parameter.firstName.trimmed,
                    clientName: "",
                    type: parameter.type.trimmed,
                    streamElement: streamElement?.trimmed,
                    callbackInterface: callbackInterface?.trimmed,
                    isByteStream: isByteStream
                )
            )
        }
        assignClientNames(&parameters, from: function.signature.parameterClause.parameters)

        var result = InterfaceResult.void
        if let returnType = function.signature.returnClause?.type {
            switch TypeRules.resultShape(returnType, diagnostics: &diagnostics) {
            case .void: result = .void
            case .value: result = .value(returnType.trimmed)
            case .stream(let element): result = .stream(type: returnType.trimmed, element: element.trimmed)
            case .bytes: result = .bytes(type: returnType.trimmed)
            case .callback: break  // results never have this shape
            }
        }
        checkStreamKinds(parameters: parameters, result: result, function: function)
        switch result {
        case .stream, .bytes:
            if let firstCallback { report(firstCallback, .callbackWithStreamResult) }
        case .void, .value:
            break
        }
        if let whereClause = function.genericWhereClause {
            report(whereClause, .methodWhereClause)
        }
        return InterfaceMethod(
            name: function.name.trimmed, parameters: parameters, result: result, declaration: function)
    }

    /// A call's two directions carry items (`RPCStream`) or raw bytes (`ByteStream`), not one of
    /// each: the runtime has no call shape that mixes them.
    private mutating func checkStreamKinds(
        parameters: [InterfaceParameter], result: InterfaceResult, function: FunctionDeclSyntax
    ) {
        let sendsItems = parameters.contains { $0.streamElement != nil }
        let sendsBytes = parameters.contains { $0.isByteStream }
        var receivesItems = false
        var receivesBytes = false
        switch result {
        case .stream: receivesItems = true
        case .bytes: receivesBytes = true
        case .void, .value: break
        }
        if (sendsItems && receivesBytes) || (sendsBytes && receivesItems) {
            report(function.signature, .mixedStreamKinds)
        }
    }

    private mutating func checkEffects(_ function: FunctionDeclSyntax) {
        let effects = function.signature.effectSpecifiers
        let throwsClause = effects?.throwsClause
        var missing: [String] = []
        if effects?.asyncSpecifier == nil {
            missing.append("async")
        }
        if throwsClause == nil {
            missing.append("throws")
        }
        if !missing.isEmpty {
            let method =
                "\(function.name.text)(\(function.signature.parameterClause.parameters.map { "\($0.firstName.text):" }.joined()))"
            report(function.name, .missingEffects(method: method, missing: missing.joined(separator: " ")))
        }
        if let throwsClause {
            if throwsClause.throwsSpecifier.tokenKind == .keyword(.rethrows) {
                report(throwsClause, .rethrowsMethod)
            } else if throwsClause.type != nil {
                report(throwsClause, .typedThrows)
            }
        }
    }

    /// The client repeats each parameter under its own name, but its body also uses `channel` and
    /// `arguments`; a parameter with no internal name, or one that would shadow those, gets a
    /// generated `argumentN` instead. Internal names are not part of the signature, so this is
    /// invisible to callers.
    private func assignClientNames(_ parameters: inout [InterfaceParameter], from syntax: FunctionParameterListSyntax) {
        let written: [TokenSyntax?] = syntax.map { parameter in
            let name = parameter.secondName ?? parameter.firstName
            return name.tokenKind == .wildcard ? nil : name.trimmed
        }
        let reserved: Set<String> = ["channel", "arguments"]
        var taken = Set(written.compactMap { $0?.plainText })
        for index in parameters.indices {
            if let name = written[index], !reserved.contains(name.plainText) {
                parameters[index].clientName = name.text
                continue
            }
            var generated = "argument\(index)"
            while taken.contains(generated) || reserved.contains(generated) {
                generated += "_"
            }
            taken.insert(generated)
            parameters[index].clientName = generated
        }
    }

    private mutating func checkUniqueWireIDs(_ model: InterfaceModel) {
        var first: [String: InterfaceMethod] = [:]
        for method in model.methods {
            let id = method.wireID(interface: model.wireName)
            if let earlier = first[id] {
                diagnostics.append(
                    Diagnostic(
                        node: method.declaration.name,
                        message: PluginInterfaceDiagnostic.duplicateMethodID(id),
                        notes: [
                            Note(node: Syntax(earlier.declaration.name), message: PluginInterfaceNote.firstMethodWithID)
                        ]
                    )
                )
            } else {
                first[id] = method
            }
        }
    }

    private func accessKeyword(of modifiers: DeclModifierListSyntax) -> Keyword? {
        for modifier in modifiers {
            if case .keyword(let keyword) = modifier.name.tokenKind,
                [.public, .package, .internal, .fileprivate, .private].contains(keyword)
            {
                return keyword
            }
        }
        return nil
    }
}
