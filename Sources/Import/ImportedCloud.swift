import Providers
import DesiredState

/// What `reconcile import` found on a node, as desired-state documents to write, and what it
/// could not map (never dropped silently).
public struct ImportedCloud: Sendable {
    public struct Network: Sendable, Equatable {
        var name: String
        var cidr: IPv4Network
        var gateway: IPv4Address?
        /// Where its VMs' NICs are: a bridge, or a libvirt network.
        var source: InterfaceSource
    }

    /// What a domain's NIC is plugged into.
    public enum InterfaceSource: Sendable, Hashable, Comparable {
        case bridge(String)
        case libvirtNetwork(String)
    }

    public struct Interface: Sendable, Equatable {
        var source: InterfaceSource
        var mac: String
        var ip: String?
    }

    public struct Disk: Sendable, Equatable {
        var name: String
        var pool: String
        var size: ByteSize
        var image: String?
        /// The volume's own name when it is not `<vm>-<name>`.
        var volume: String?
    }

    public struct Rule: Sendable, Equatable {
        var name: String
        var ipProtocol: String
        var source: String
        var ports: [String]
    }

    public struct Pair: Sendable, Equatable {
        var name: String
        var publicIP: String
        var privateIP: String
    }

    public struct VM: Sendable, Equatable {
        var name: String
        var uuid: String
        var memory: ByteSize
        var vcpus: Int
        var running: Bool
        var autostart: Bool
        var disks: [Disk] = []
        var interfaces: [Interface] = []
        var vnc: Bool
        var pairs: [Pair] = []
        var rules: [Rule] = []
    }

    public struct DHCPHost: Sendable, Equatable {
        var name: String
        var network: String
        var mac: String
        var ip: String
        var hostname: String
    }

    /// Something on the node that has no place in the written desired state, with where it was.
    public struct Unmapped: Sendable, Equatable, Codable {
        /// `libvirt domain web1`, `iptables filter line 31`, `/etc/dhcp/hosts.conf:12`.
        public var source: String
        /// The line or element as found.
        public var text: String
        public var why: String
    }

    /// An object given another name than the node's own, so that no two of a kind share one.
    public struct Renamed: Sendable, Equatable, Codable {
        public var kind: String
        public var from: String
        public var to: String
        public var why: String
    }

    public var host: Node
    public var renamed: [Renamed] = []
    public var networks: [Network] = []
    public var vms: [VM] = []
    public var dhcpHosts: [DHCPHost] = []
    public var unmapped: [Unmapped] = []

    public init(host: Node) {
        self.host = host
    }
}
