import DesiredState
import Engine
import Providers

/// The providers that manage a node's share, by its roles. VMs (hypervisor) and firewall/NAT
/// (firewall) providers join this list as they are built.
enum ProviderSet {
    static func `for`(_ node: Node) -> [any Provider] {
        var providers: [any Provider] = []
        if node.roles.contains(.dhcp) { providers.append(DHCPProvider(host: node)) }
        return providers
    }
}
