import DesiredState
import Engine
import Providers

/// The providers that manage a node's share, by its roles.
public enum ProviderSet {
    public static func `for`(_ node: Node, vmOptions: LibvirtProvider.Options = .init()) -> [any Provider] {
        var providers: [any Provider] = []
        if node.roles.contains(.hypervisor) { providers.append(LibvirtProvider(host: node, options: vmOptions)) }
        if node.roles.contains(.firewall) { providers.append(FirewallProvider(host: node)) }
        if node.roles.contains(.dhcp) { providers.append(DHCPProvider(host: node)) }
        return providers
    }
}
