import DesiredState
import Engine
import Providers

/// The providers that manage a node's share, by its roles.
public enum ProviderSet {
    /// - Parameter adopt: take over a DHCP hosts file reconcile did not write.
    public static func `for`(_ node: Node, vmOptions: LibvirtProvider.Options = .init(), adopt: Bool = false) -> [any Provider] {
        var providers: [any Provider] = []
        if node.roles.contains(.hypervisor) { providers.append(LibvirtProvider(host: node, options: vmOptions)) }
        if node.roles.contains(.firewall) { providers.append(FirewallProvider(host: node)) }
        if node.roles.contains(.dhcp) { providers.append(DHCPProvider(host: node, adopt: adopt)) }
        return providers
    }
}
