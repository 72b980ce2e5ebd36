import Basics
import Crypto

extension VirtualMachine {
    /// iptables refuses chain names longer than 28 characters.
    public static let maximumChainLength = 28

    /// The iptables chain holding this VM's inbound policy: `RC-VM-<name>`, or, when that
    /// passes 28 characters, `RC-VM-` + the name's first 9 characters + `-` + 48 bits of
    /// its SHA-256 (stable across runs and machines).
    ///
    /// Two names can still map to one chain (a short name spelling another's hashed form,
    /// or a hash collision), so the validator refuses any two VMs that share a chain.
    public static func firewallChain(for name: String) -> String {
        let plain = "RC-VM-" + name
        guard plain.utf8.count > maximumChainLength else { return plain }
        let digest = SHA256.hash(data: Array(name.utf8))
        return "RC-VM-" + name.prefix(9) + "-" + hex(digest.prefix(6))
    }

    public var firewallChain: String { Self.firewallChain(for: name) }
}
