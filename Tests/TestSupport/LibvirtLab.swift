import Basics
import Foundation
import Libvirt

/// A bridge and a directory storage pool in the real libvirtd (`qemu:///system`), made for
/// one test. At the end every domain whose name starts with ``prefix`` is destroyed and
/// undefined, the pool and its volumes deleted and the bridge removed, whatever happened.
/// The bridge has no address: guests on it reach only what a test attaches to it.
public final class LibvirtLab {
    public let uri = "qemu:///system"
    public let id = String(UUID().uuidString.prefix(6)).lowercased()
    /// Every domain this lab's test creates starts with it.
    public var prefix: String { "rctest-\(id)" }
    public var bridge: String { "rcbr-\(id)" }
    public var pool: String { "rctest-pool-\(id)" }
    let poolDirectory: String

    public init() throws {
        poolDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("rctest-pool-\(id)").path
        try NetworkLab.ip("link", "add", bridge, "type", "bridge")
        try NetworkLab.ip("link", "set", bridge, "up")
        try virsh("pool-define-as", pool, "dir", "--target", poolDirectory)
        try virsh("pool-build", pool)
        try virsh("pool-start", pool)
    }

    deinit {
        if let connection = try? Connection(uri: uri) {
            for domain in (try? connection.domains()) ?? [] where domain.name.hasPrefix(prefix) {
                try? connection.destroy(domain.name)
                try? connection.undefine(domain.name)
            }
            for volume in (try? connection.volumes(pool: pool)) ?? [] ?? [] {
                try? connection.deleteVolume(pool: pool, volume: volume.name)
            }
        }
        _ = try? virsh("pool-destroy", pool)
        _ = try? virsh("pool-undefine", pool)
        try? FileManager.default.removeItem(atPath: poolDirectory)
        _ = try? NetworkLab.ip("link", "del", bridge)
    }

    /// Joins `namespace` to the lab's bridge by a veth pair and gives its end `address` (the
    /// network's gateway, say): from there a test reaches the guests. Returns that end's name.
    /// The pair goes with the namespace.
    @discardableResult
    public func joinBridge(_ namespace: String, address: String) throws -> String {
        let (bridgeSide, namespaceSide) = ("rcv-\(id)", "rcvg-\(id)")
        try NetworkLab.ip("link", "add", bridgeSide, "type", "veth", "peer", "name", namespaceSide, "netns", namespace)
        try NetworkLab.ip("link", "set", bridgeSide, "master", bridge, "up")
        try NetworkLab.ip("-n", namespace, "addr", "add", address, "dev", namespaceSide)
        try NetworkLab.ip("-n", namespace, "link", "set", namespaceSide, "up")
        return namespaceSide
    }

    /// Runs `virsh -c qemu:///system …`, as an operator would to make drift.
    @discardableResult
    public func virsh(_ arguments: String...) throws -> String {
        try CommandRunner().run(["virsh", "-c", uri] + arguments)
    }

    /// The interfaces enslaved to the lab's bridge (a running guest's tap device shows here).
    public func bridgePorts() throws -> [String] {
        try NetworkLab.ip("-o", "link", "show", "master", bridge).split(separator: "\n").compactMap { line in
            line.split(separator: ":").dropFirst().first.map { String($0.split(separator: "@")[0]).trimmingCharacters(in: .whitespaces) }
        }
    }
}
