import Basics
import Foundation

/// Network namespaces joined by veth pairs, made for one test and removed after it, whatever
/// happened. Only addresses inside these namespaces are used.
public final class NetworkLab {
    public let id = String(UUID().uuidString.prefix(6)).lowercased()
    private var namespaces: [String] = []
    private var spawned: [SpawnedProcess] = []

    /// Creates the namespace for `role` (e.g. `fw`) with its loopback up; returns its name.
    public func namespace(_ role: String) throws -> String {
        let name = "rc\(role)-\(id)"
        try Self.ip("netns", "add", name)
        namespaces.append(name)
        try Self.ip("-n", name, "link", "set", "lo", "up")
        return name
    }

    /// Joins two namespaces with a veth pair named `<a>-<id>`/`<b>-<id>`, addressed and up.
    @discardableResult
    public func link(_ a: (namespace: String, interface: String, address: String?),
              _ b: (namespace: String, interface: String, address: String?)) throws -> (String, String) {
        let left = "\(a.interface)-\(id)", right = "\(b.interface)-\(id)"
        try Self.ip("link", "add", left, "netns", a.namespace, "type", "veth", "peer", "name", right, "netns", b.namespace)
        for (end, interface) in [(a, left), (b, right)] {
            if let address = end.address { try Self.ip("-n", end.namespace, "addr", "add", address, "dev", interface) }
            try Self.ip("-n", end.namespace, "link", "set", interface, "up")
        }
        return (left, right)
    }

    /// Runs a command inside a namespace and returns its output; throws if it fails.
    @discardableResult
    public func exec(_ namespace: String, _ arguments: String...) throws -> String {
        try exec(namespace, arguments)
    }

    @discardableResult
    public func exec(_ namespace: String, _ arguments: [String]) throws -> String {
        try CommandRunner(netns: namespace).run(arguments)
    }

    /// Starts a long-running process inside a namespace; the lab stops it at the end.
    @discardableResult
    public func spawn(_ namespace: String, _ arguments: [String]) throws -> SpawnedProcess {
        let process = try SpawnedProcess(["ip", "netns", "exec", namespace] + arguments, log: "/dev/null")
        spawned.append(process)
        return process
    }

    /// Stops the processes running inside the lab's namespaces (only the test started any),
    /// by pid, then removes the namespaces.
    public init() {}

    deinit {
        for namespace in namespaces {
            let pids = ((try? Self.ip("netns", "pids", namespace)) ?? "").split(separator: "\n").compactMap { Int32($0) }
            for pid in pids { kill(pid, SIGTERM) }
        }
        spawned = []  // each is stopped by its pid and waited for
        if !namespaces.isEmpty { usleep(200_000) }
        for namespace in namespaces { _ = try? Self.ip("netns", "del", namespace) }
    }

    @discardableResult
    public static func ip(_ arguments: String...) throws -> String {
        try CommandRunner().run(["ip"] + arguments)
    }
}
