import Basics
import Foundation
import Testing

extension Tag {
    /// Needs root, network namespaces and real daemons (dhcpd, dhclient, libvirtd, iptables).
    @Tag static var integration: Self
}

/// Two network namespaces joined by a veth pair, made for one test and removed after it,
/// whatever happened. Only addresses inside these namespaces are used.
final class NetworkLab {
    let server: String
    let client: String
    let serverInterface: String
    let clientInterface: String

    init(serverAddress: String) throws {
        let id = String(UUID().uuidString.prefix(6)).lowercased()
        server = "rcsrv-\(id)"
        client = "rccli-\(id)"
        serverInterface = "rcs-\(id)"
        clientInterface = "rcc-\(id)"
        do {
            try Self.ip("netns", "add", server)
            try Self.ip("netns", "add", client)
            try Self.ip("link", "add", serverInterface, "type", "veth", "peer", "name", clientInterface)
            try Self.ip("link", "set", serverInterface, "netns", server)
            try Self.ip("link", "set", clientInterface, "netns", client)
            try Self.ip("-n", server, "addr", "add", serverAddress, "dev", serverInterface)
            for (namespace, interface) in [(server, serverInterface), (client, clientInterface)] {
                try Self.ip("-n", namespace, "link", "set", interface, "up")
                try Self.ip("-n", namespace, "link", "set", "lo", "up")
            }
        } catch {
            removeNamespaces()
            throw error
        }
    }

    /// Stops the processes running inside the lab's namespaces (only the test started any),
    /// by pid, then removes the namespaces.
    deinit {
        for namespace in [server, client] {
            let pids = ((try? Self.ip("netns", "pids", namespace)) ?? "").split(separator: "\n").compactMap { Int32($0) }
            for pid in pids { kill(pid, SIGTERM) }
        }
        usleep(200_000)
        removeNamespaces()
    }

    private func removeNamespaces() {
        _ = try? Self.ip("netns", "del", server)
        _ = try? Self.ip("netns", "del", client)
    }

    @discardableResult
    static func ip(_ arguments: String...) throws -> String {
        try run(["ip"] + arguments)
    }

    /// Runs a command to its end, throwing when it fails.
    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        try CommandRunner().run(arguments)
    }
}

struct LabError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
