import DesiredState
import Engine
import Providers

/// The providers that manage a node's share, by its roles. The VM provider (hypervisor)
/// joins this list when it is built.
enum ProviderSet {
    static func `for`(_ node: Node) -> [any Provider] {
        var providers: [any Provider] = []
        if node.roles.contains(.firewall) { providers.append(FirewallProvider(host: node)) }
        if node.roles.contains(.dhcp) { providers.append(DHCPProvider(host: node)) }
        return providers
    }
}
