import Foundation
import Testing

@testable import Tether

@Suite struct HandshakeLineTests {
    @Test func formatsGoPluginsLineWithTethersVersionsField() {
        let line = HandshakeLine(
            appVersion: 4, network: .unix, address: "/tmp/p/plugin.sock", supportedVersions: [2, 4])
        #expect(line.description == "1|4|unix|/tmp/p/plugin.sock|tether||versions=2,4")
        #expect(
            HandshakeLine(appVersion: 1, network: .tcp, address: "127.0.0.1:10001").description
                == "1|1|tcp|127.0.0.1:10001|tether|")
    }

    @Test func parsesWhatItFormats() throws {
        let line = HandshakeLine(appVersion: 3, network: .unix, address: "/run/x.sock", supportedVersions: [1, 3])
        #expect(try HandshakeLine.parse(Substring(line.description + "\n")) == line)
    }

    @Test func acceptsFiveFieldsAndIgnoresUnknownExtraFields() throws {
        let five = try HandshakeLine.parse("1|2|tcp|127.0.0.1:4000|tether")
        #expect(five.appVersion == 2 && five.network == .tcp && five.address == "127.0.0.1:4000")
        let extra = try HandshakeLine.parse("1|2|unix|/s|tether||future-field|versions=2")
        #expect(extra.supportedVersions == [2])
    }

    @Test(arguments: [
        ("1|2|unix|/s", PluginError.Code.malformedHandshake),
        ("x|2|unix|/s|tether|", .malformedHandshake),
        ("1|two|unix|/s|tether|", .malformedHandshake),
        ("1|2|unix||tether|", .malformedHandshake),
        ("2|2|unix|/s|tether|", .coreVersionMismatch),
        ("1|2|udp|/s|tether|", .unsupportedNetwork),
        ("1|2|unix|/s|grpc|", .unsupportedProtocol),
        ("1|2|unix|/s|netrpc|", .unsupportedProtocol),
        ("1|2|unix|/s|tether|MIIBcert", .tlsUnsupported),
    ])
    func rejectsEachBadLineWithItsOwnError(line: String, code: PluginError.Code) {
        let error = #expect(throws: PluginError.self) { _ = try HandshakeLine.parse(Substring(line)) }
        #expect(error?.code == code)
    }

    @Test func strayOutputIsNotTakenForAHandshake() {
        #expect(HandshakeLine.looksLikeHandshake("1|2|unix|/s|tether|"))
        #expect(HandshakeLine.looksLikeHandshake("12|garbage"))
        #expect(!HandshakeLine.looksLikeHandshake("kvplugin: loading configuration"))
        #expect(!HandshakeLine.looksLikeHandshake("a|b|c"))
        #expect(!HandshakeLine.looksLikeHandshake("|1|2"))
    }

    @Test func agreedVersionNamesBothSidesWhenNoneIsShared() throws {
        let line = HandshakeLine(appVersion: 2, network: .unix, address: "/s", supportedVersions: [1, 2])
        #expect(try line.agreedVersion(hostVersions: [2, 3]) == 2)
        let error = #expect(throws: PluginError.self) { _ = try line.agreedVersion(hostVersions: [3, 4]) }
        #expect(error == PluginError(.noCommonVersion, "host supports 3,4, plugin supports 1,2"))
    }
}

@Suite struct ProtocolVersionTests {
    @Test func parsesSortsAndDeduplicates() throws {
        #expect(try ProtocolVersions.parse("4, 2,4,3") == [2, 3, 4])
        #expect(ProtocolVersions.format([3, 1]) == "1,3")
    }

    @Test(arguments: ["", "1,", "1,,2", "-1", "v2", "1.5", "3 4"])
    func rejectsMalformedLists(text: String) {
        let error = #expect(throws: PluginError.self) { _ = try ProtocolVersions.parse(text) }
        #expect(error?.code == .invalidEnvironment)
    }

    @Test func highestCommonVersion() {
        #expect(ProtocolVersions.highestCommon([1, 2, 3], [2, 3, 5]) == 3)
        #expect(ProtocolVersions.highestCommon([1], [2]) == nil)
    }
}

@Suite struct PluginEnvironmentTests {
    let handshake = HandshakeConfiguration(cookieKey: "KV_PLUGIN", cookieValue: "hello", appVersions: [2, 3])

    @Test func hostVariablesAreWhatThePluginReads() throws {
        let variables = PluginEnvironment.hostVariables(handshake: handshake, unixSocketDirectory: "/tmp/d")
        #expect(
            variables == ["KV_PLUGIN": "hello", "PLUGIN_PROTOCOL_VERSIONS": "2,3", "PLUGIN_UNIX_SOCKET_DIR": "/tmp/d"])
        let environment = try PluginEnvironment(variables, handshake: handshake)
        #expect(environment.hostVersions == [2, 3])
        #expect(environment.unixSocketDirectory == "/tmp/d")
        #expect(environment.portRange == nil)
    }

    @Test func missingOrWrongCookieExplainsWhatTheBinaryIs() {
        for environment in [[:], ["KV_PLUGIN": "other"]] as [[String: String]] {
            let error = #expect(throws: PluginError.self) {
                _ = try PluginEnvironment(environment, handshake: handshake)
            }
            #expect(error?.code == .cookieMismatch)
            #expect(error?.message.hasPrefix("This binary is a plugin") == true)
        }
    }

    /// Debug mode needs no cookie; `0` or an empty value is not debug mode.
    @Test func debugModeNeedsNoCookie() throws {
        #expect(try PluginEnvironment(["TETHER_PLUGIN_DEBUG": "1"], handshake: handshake).debug)
        #expect(try !PluginEnvironment(["KV_PLUGIN": "hello"], handshake: handshake).debug)
        for off in ["0", ""] {
            let error = #expect(throws: PluginError.self) {
                _ = try PluginEnvironment(["TETHER_PLUGIN_DEBUG": off], handshake: handshake)
            }
            #expect(error?.code == .cookieMismatch)
        }
    }

    @Test func versionNegotiationPicksTheHighestSharedEitherWay() throws {
        let host = try PluginEnvironment(
            ["KV_PLUGIN": "hello", "PLUGIN_PROTOCOL_VERSIONS": "1,2,3"], handshake: handshake)
        #expect(host.chosenVersion(supported: [2, 3, 4]) == 3)
        #expect(host.chosenVersion(supported: [1]) == 1)
        // Nothing shared: the plugin offers its highest; the host's check names both lists.
        #expect(host.chosenVersion(supported: [5, 6]) == 6)
        let silent = try PluginEnvironment(["KV_PLUGIN": "hello"], handshake: handshake)
        #expect(silent.chosenVersion(supported: [1, 2]) == 2)
    }

    @Test func portRangeNeedsBothEndsInOrder() throws {
        let range = try PluginEnvironment(
            ["KV_PLUGIN": "hello", "PLUGIN_MIN_PORT": "10000", "PLUGIN_MAX_PORT": "25000"], handshake: handshake)
        #expect(range.portRange == 10000...25000)
        for bad in [
            ["PLUGIN_MIN_PORT": "10"], ["PLUGIN_MIN_PORT": "30", "PLUGIN_MAX_PORT": "20"],
            ["PLUGIN_MIN_PORT": "0", "PLUGIN_MAX_PORT": "20"], ["PLUGIN_MIN_PORT": "1", "PLUGIN_MAX_PORT": "70000"],
        ] {
            let error = #expect(throws: PluginError.self) {
                _ = try PluginEnvironment(bad.merging(["KV_PLUGIN": "hello"]) { a, _ in a }, handshake: handshake)
            }
            #expect(error?.code == .invalidEnvironment)
        }
        #expect(throws: PluginError.self) {
            _ = try PluginEnvironment(["KV_PLUGIN": "hello", "PLUGIN_PROTOCOL_VERSIONS": "x"], handshake: handshake)
        }
    }
}

@Suite struct ControlRecordTests {
    @Test func recordsSplitAnywhereDecodeInOrder() {
        let bytes =
            ControlRecord.encode(type: 1, sequence: 0x0102_0304_0506_0708).bytes
            + ControlRecord.encode(type: 2, sequence: 7).bytes
        #expect(Array(bytes.prefix(9)) == [1, 1, 2, 3, 4, 5, 6, 7, 8])
        for split in 0...bytes.count {
            var pending = Array(bytes[..<split])
            var records = ControlRecord.decode(&pending)
            pending += bytes[split...]
            records += ControlRecord.decode(&pending)
            #expect(records.map(\.type) == [1, 2])
            #expect(records.map(\.sequence) == [0x0102_0304_0506_0708, 7])
            #expect(pending.isEmpty)
        }
    }
}

/// The network and socket-group parts of the environment contract.
@Suite(.timeLimit(.minutes(1))) struct PluginNetworkEnvironmentTests {
    let handshake = HandshakeConfiguration(cookieKey: "K", cookieValue: "V", appVersions: [1])

    @Test func hostVariablesRoundTripThroughThePluginsReading() throws {
        let variables = PluginEnvironment.hostVariables(
            handshake: handshake, unixSocketDirectory: "/tmp/d", network: .tcp(ports: 12_000...12_009),
            unixSocketGroup: "plugins")
        #expect(variables["TETHER_PLUGIN_NETWORK"] == "tcp")
        #expect(variables["PLUGIN_MIN_PORT"] == "12000")
        #expect(variables["PLUGIN_MAX_PORT"] == "12009")
        #expect(variables["PLUGIN_UNIX_SOCKET_GROUP"] == "plugins")
        let contract = try PluginEnvironment(variables, handshake: handshake)
        #expect(contract.network == .tcp(ports: 12_000...12_009))
        #expect(contract.unixSocketGroup == "plugins")
    }

    /// A go-plugin host always sets the port range; only Tether's variable selects TCP.
    @Test func portsAloneKeepTheUnixSocket() throws {
        let contract = try PluginEnvironment(
            ["K": "V", "PLUGIN_MIN_PORT": "10000", "PLUGIN_MAX_PORT": "25000"], handshake: handshake)
        #expect(contract.network == .unix)
        let defaulted = try PluginEnvironment(["K": "V", "TETHER_PLUGIN_NETWORK": "tcp"], handshake: handshake)
        #expect(defaulted.network == .tcp(ports: PluginNetwork.defaultPorts))
    }

    @Test func anUnknownNetworkIsInvalid() {
        let error = #expect(throws: PluginError.self) {
            _ = try PluginEnvironment(["K": "V", "TETHER_PLUGIN_NETWORK": "udp"], handshake: handshake)
        }
        #expect(error?.code == .invalidEnvironment)
    }

    /// PLUGIN_UNIX_SOCKET_GROUP: the socket file goes to that group, read-write for it, named by
    /// number or by name. The group is one this process is not in, so a file left in the
    /// process's own group fails the test.
    @Test(.enabled(if: canGiveFilesToForeignGroups, "needs root"))
    func socketGroupGivesTheSocketToTheGroup() throws {
        try requireRootForForeignGroups()
        let group = try foreignGroup()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tether-group-\(UInt32.random(in: 0...UInt32.max))"
        ).path
        for named in [String(group.gid), group.name] {
            try Data().write(to: URL(fileURLWithPath: path))
            defer { try? FileManager.default.removeItem(atPath: path) }
            try SocketGroup.grant(path: path, to: named)
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.groupOwnerAccountID] as? NSNumber)?.uint32Value == group.gid, "group \(named)")
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o660)
        }
        let error = #expect(throws: PluginError.self) { try SocketGroup.grant(path: path, to: "no-such-group-tether") }
        #expect(error?.code == .invalidEnvironment)
    }
}
