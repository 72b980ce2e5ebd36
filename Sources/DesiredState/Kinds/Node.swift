/// A machine reconcile manages, and what it does for the cloud: a `kind: Host` document.
///
/// Named Node in Swift, as `--node` names it, and because Foundation has a `Host` of its own.
///
/// Without any Host document one implicit local host (``Node/implicitLocal``) has every role.
public struct Node: Sendable, Hashable {
    public enum Role: String, Sendable, Hashable, CaseIterable {
        case hypervisor, firewall, dhcp, dns
    }

    /// Where a host with the dns role keeps VMs' names: a DNS server taking RFC 2136 updates
    /// signed with a TSIG key, the forward zone and the reverse zones.
    public struct DNSSettings: Sendable, Hashable {
        /// `ADDR` or `ADDR:PORT` (default port 53).
        public var server: String
        public var port: Int
        /// `example.org`, without the final dot.
        public var zone: String
        public var reverseZones: [String]
        /// BIND's `key "name" { algorithm …; secret "…"; };`, as `tsig-keygen` writes it.
        public var tsigKeyFile: String

        public init(server: String, port: Int, zone: String, reverseZones: [String], tsigKeyFile: String) {
            (self.server, self.port, self.zone, self.reverseZones, self.tsigKeyFile) = (server, port, zone, reverseZones, tsigKeyFile)
        }
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

    /// Which DHCP server a host with the dhcp role serves reservations from.
    public enum DHCPServer: String, Sendable, Hashable, CaseIterable {
        /// ISC dhcpd: a hosts file included by dhcpd.conf, dhcpd restarted after a change.
        case isc
        /// Kea: a JSON list of reservations included by a subnet of kea-dhcp4.conf, checked
        /// and then loaded with `config-reload` over Kea's control socket — never restarted.
        case kea
    }

    /// Where the DHCP server's configuration lives, the file reconcile owns in it, and how
    /// the server picks up a change.
    public struct DHCPSettings: Sendable, Hashable {
        public var server: DHCPServer = .isc
        public var config: String
        public var hostsFile: String
        /// ISC: the command that restarts dhcpd.
        public var restart: [String]
        /// Seconds the restart command may take before it (and its process group) is killed.
        public var restartTimeout: Int
        /// Kea: its control socket (a unix socket path).
        public var controlSocket: String = ""
        /// Kea: reconcile's ISC files on this host, whose reservations move to Kea (the include
        /// line and the hosts file are removed). Debian's paths unless the Host says otherwise.
        public var isc = ISCFiles()

        public struct ISCFiles: Sendable, Hashable {
            public var config = "/etc/dhcp/dhcpd.conf"
            public var hostsFile = "/etc/dhcp/reconcile-hosts.conf"
        }

        public init(config: String, hostsFile: String, restart: [String], restartTimeout: Int) {
            self.config = config
            self.hostsFile = hostsFile
            self.restart = restart
            self.restartTimeout = restartTimeout
        }

        public static let defaults = DHCPSettings(
            config: ISCFiles().config,
            hostsFile: ISCFiles().hostsFile,
            restart: ["systemctl", "restart", "isc-dhcp-server"],
            restartTimeout: 60
        )

        /// Kea's, as Debian's kea-dhcp4-server package lays it out.
        public static let keaDefaults: DHCPSettings = {
            var settings = DHCPSettings(config: "/etc/kea/kea-dhcp4.conf", hostsFile: "/etc/kea/reconcile-reservations.json", restart: [], restartTimeout: 60)
            settings.server = .kea
            settings.controlSocket = "/run/kea/kea4-ctrl-socket"
            return settings
        }()
    }

    public var name: String
    public var roles: Set<Role>
    public var libvirt: String
    /// Run iptables and dhcpd inside this network namespace; empty for the host's own.
    public var netns: String
    /// Where IP-pair public addresses are added (firewall role).
    public var publicInterface: String?
    public var dhcp: DHCPSettings
    /// Present when the host has the dns role.
    public var dns: DNSSettings?
    /// nil: chosen by the VM provider from what the hypervisor offers.
    public var virtType: VirtType?
    /// iptables unless the Host says otherwise: an existing desired state keeps its data plane.
    public var firewallBackend: FirewallBackend = .iptables
    /// The only directories an Image's local `source` may be read from (symbolic links
    /// resolved, then confined): the files a committer can have put into a pool.
    public var imageDirectories: [String] = Node.defaultImageDirectories
    public var location: SourceLocation?

    public static let defaultLibvirtURI = "qemu:///system"
    /// A root-owned directory an operator puts images into; nothing else on the host is readable as an Image.
    public static let defaultImageDirectories = ["/var/lib/reconcile/images"]

    public static let implicitLocal = Node(
        // Not dns: names need a server and a zone that only a Host document can give.
        name: "local", roles: [.hypervisor, .firewall, .dhcp], libvirt: defaultLibvirtURI, netns: "",
        publicInterface: nil, dhcp: .defaults, virtType: nil, location: nil
    )
}
