/// A machine reconcile manages, and what it does for the cloud: a `kind: Host` document.
///
/// Named Node in Swift, as `--node` names it, and because Foundation has a `Host` of its own.
///
/// Without any Host document one implicit local host (``Node/implicitLocal``) has every role.
public struct Node: Sendable, Hashable {
    public enum Role: String, Sendable, Hashable, CaseIterable {
        case hypervisor, firewall, dhcp
    }

    /// The libvirt domain type of a host's VMs.
    public enum VirtType: String, Sendable, Hashable, CaseIterable {
        /// Hardware virtualisation.
        case kvm
        /// TCG emulation: slow, but needs nothing from the CPU.
        case qemu
    }

    /// Which firewall a host with the firewall role builds its rules in.
    public enum FirewallBackend: String, Sendable, Hashable, CaseIterable {
        /// `RC-*` chains in the filter and nat tables, one `iptables-restore` per apply.
        case iptables
        /// One table, `inet reconcile`, dispatching through verdict and NAT maps: a packet's
        /// cost does not grow with the number of VMs.
        case nftables
    }

    /// Where dhcpd's configuration lives and how to restart it.
    public struct DHCPSettings: Sendable, Hashable {
        public var config: String
        public var hostsFile: String
        public var restart: [String]
        /// Seconds the restart command may take before it (and its process group) is killed.
        public var restartTimeout: Int

        public static let defaults = DHCPSettings(
            config: "/etc/dhcp/dhcpd.conf",
            hostsFile: "/etc/dhcp/reconcile-hosts.conf",
            restart: ["systemctl", "restart", "isc-dhcp-server"],
            restartTimeout: 60
        )
    }

    public var name: String
    public var roles: Set<Role>
    public var libvirt: String
    /// Run iptables and dhcpd inside this network namespace; empty for the host's own.
    public var netns: String
    /// Where IP-pair public addresses are added (firewall role).
    public var publicInterface: String?
    public var dhcp: DHCPSettings
    /// nil: chosen by the VM provider from what the hypervisor offers.
    public var virtType: VirtType?
    /// iptables unless the Host says otherwise: an existing desired state keeps its data plane.
    public var firewallBackend: FirewallBackend = .iptables
    public var location: SourceLocation?

    public static let defaultLibvirtURI = "qemu:///system"

    public static let implicitLocal = Node(
        name: "local", roles: Set(Role.allCases), libvirt: defaultLibvirtURI, netns: "",
        publicInterface: nil, dhcp: .defaults, virtType: nil, location: nil
    )
}
