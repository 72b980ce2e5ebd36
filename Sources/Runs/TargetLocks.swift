import Basics
import DesiredState
import Foundation

/// The locks on what a node's run writes, whatever its state directory: one writer per
/// network namespace (iptables), libvirt URI and DHCP server config. Two runs with different
/// `--state-dir`s on one namespace once left every jump and include line doubled.
///
/// Lock files live in `/run/lock/reconcile` (per boot, shared by every state directory).
public enum TargetLocks {
    public static let directory = "/run/lock/reconcile"

    /// What `host` has a run write, as (lock file key, how to name it).
    static func targets(of host: Node) -> [(key: String, name: String)] {
        var targets: [(String, String)] = []
        if host.roles.contains(.firewall) {
            targets.append(("netns-" + namespaceIdentity(host.netns), host.netns.isEmpty ? "the host's network namespace" : "network namespace \(host.netns)"))
        }
        if host.roles.contains(.hypervisor) { targets.append(("libvirt-" + host.libvirt, "libvirt \(host.libvirt)")) }
        if host.roles.contains(.dhcp) {
            // A Kea host also writes reconcile's ISC files (retiring them).
            let configs = host.dhcp.server == .kea ? [("kea", host.dhcp.config), ("dhcpd", host.dhcp.isc.config)] : [("dhcpd", host.dhcp.config)]
            for (server, path) in configs {
                let config = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
                targets.append(("\(server)-" + config, "\(server) config \(config)"))
            }
        }
        if host.roles.contains(.dns), let dns = host.dns {
            targets.append(("dns-\(dns.server)-\(dns.port)-\(dns.zone)", "DNS zone \(dns.zone) at \(dns.server):\(dns.port)"))
        }
        return targets
    }

    /// A namespace by device and inode, so that two names for one namespace are one target;
    /// by name when it does not exist (yet).
    static func namespaceIdentity(_ netns: String) -> String {
        let path = netns.isEmpty ? "/proc/self/ns/net" : "/run/netns/\(netns)"
        guard let info = try? Syscall.status(path) else { return "name-" + netns }
        return "\(info.st_dev)-\(info.st_ino)"
    }

    /// Takes every lock of `host`, waiting (suspended) up to `timeout` seconds for each.
    /// - Throws: ``StateLock/Held`` naming the target and its holder, or the error of
    ///   creating the lock directory.
    public static func acquire(for host: Node, stateDirectory: String, timeout: Double) async throws -> [StateLock] {
        var locks: [StateLock] = []
        for target in try prepare(host) {
            locks.append(try await StateLock.acquire(path: directory + "/" + fileName(target.key), target: target.name,
                                                     note: "state directory \(stateDirectory)", timeout: timeout))
        }
        return locks
    }

    /// Takes every lock of `host` if no other process holds one, without waiting.
    public static func take(for host: Node, stateDirectory: String) throws -> [StateLock] {
        try prepare(host).map { target in
            try StateLock(path: directory + "/" + fileName(target.key), target: target.name, note: "state directory \(stateDirectory)")
        }
    }

    /// `host`'s targets, with the lock directory made when there is one.
    private static func prepare(_ host: Node) throws -> [(key: String, name: String)] {
        let targets = targets(of: host)
        if !targets.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        return targets
    }

    /// A key as a file name: unsafe bytes become `_`, long keys keep their end.
    static func fileName(_ key: String) -> String {
        let safe = String(key.unicodeScalars.map { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "-._".unicodeScalars.contains(scalar)) ? Character(scalar) : "_"
        })
        return String(safe.suffix(200)) + ".lock"
    }
}
