import DesiredState
import Engine
import Netfilter
import Providers

/// The providers that manage a node's share, by its roles.
public enum ProviderSet {
    /// - Parameter adopt: take over what reconcile did not make where it stands in the way
    ///   (`--adopt`): domains as declared, a DHCP hosts file or Kea reservations file.
    /// - Parameter cache: where live firewall reads are kept between runs (the state directory).
    public static func `for`(_ node: Node, vmOptions: LibvirtProvider.Options = .init(), adopt: Bool = false,
                             cache: GenerationCache? = nil) -> [any Provider] {
        var providers: [any Provider] = []
        var vmOptions = vmOptions
        vmOptions.adopt = adopt
        if node.roles.contains(.hypervisor) { providers.append(LibvirtProvider(host: node, options: vmOptions)) }
        if node.roles.contains(.firewall) {
            // The Host's backend, then the other one retiring: its rules go only once the
            // new backend's are in place, so no VM is ever unfiltered nor a pair without NAT.
            switch node.firewallBackend {
            case .iptables:
                providers += [IPTablesProvider(host: node, adopt: adopt, cache: cache), NFTablesProvider(host: node, retiring: true, cache: cache)]
            case .nftables:
                providers += [NFTablesProvider(host: node, cache: cache), IPTablesProvider(host: node, retiring: true, cache: cache)]
            }
        }
        if node.roles.contains(.dhcp) {
            // Kea, then reconcile's ISC files retiring: the reservations are served by Kea
            // before they leave dhcpd's files.
            switch node.dhcp.server {
            case .isc: providers.append(ISCDHCPProvider(host: node, adopt: adopt))
            case .kea: providers += [KeaProvider(host: node, adopt: adopt), ISCDHCPProvider(host: node, retiring: true)]
            }
        }
        if node.roles.contains(.dns), let dns = node.dns { providers.append(DNSProvider(host: node, settings: dns)) }
        return providers
    }
}
