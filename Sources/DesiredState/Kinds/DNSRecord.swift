/// A record set the dns role keeps besides VMs' names (`kind: DNSRecord`): an alias, a
/// service, a TXT, an address that is no VM's.
public struct DNSRecord: Sendable, Hashable {
    public enum RecordType: String, Sendable, Hashable, CaseIterable {
        case A, AAAA, CNAME, TXT, SRV
    }

    /// Absolute and lower-case, without the final dot: `www.example.org`.
    public var name: String
    public var type: RecordType
    /// Each value as a zone transfer prints it (`2001:db8::1`, `web.example.org.`,
    /// `"v=spf1 -all"`, `10 5 5060 sip.example.org.`), so desired and live compare as text.
    public var values: [String]
    public var ttl: Int
    public var location: SourceLocation

    /// The TTL of records that do not name one, and of VMs' names.
    public static let defaultTTL = 300
    /// The first label of the names reconcile's ownership marks live at; no record may use it.
    public static let ownershipLabel = "_reconcile"
}

extension DesiredState {
    /// One name the dns role gives an address of the desired state: each VM interface with an
    /// address (named as its DHCP reservation: the VM, or `<vm>-<index>` when it has several)
    /// and each DHCPHost (its hostname).
    public struct AddressName: Sendable {
        /// Relative to the forward zone: `cpro0007`, `printer`.
        public var label: String
        public var ip: IPv4Address
        /// `VirtualMachine cpro0007`, `DHCPHost printer01`: for messages.
        public var owner: String
        public var location: SourceLocation
    }

    /// The names VMs and DHCPHosts get in a dns role's forward zone.
    public var addressNames: [AddressName] {
        var names: [AddressName] = []
        for vm in virtualMachines {
            let addressed = vm.interfaces.compactMap(\.ip)
            for (index, ip) in addressed.enumerated() {
                names.append(AddressName(label: addressed.count == 1 ? vm.name : "\(vm.name)-\(index)", ip: ip,
                                         owner: "VirtualMachine \(vm.name)", location: vm.location))
            }
        }
        for host in dhcpHosts {
            names.append(AddressName(label: host.hostname.lowercased(), ip: host.ip, owner: "DHCPHost \(host.name)", location: host.location))
        }
        return names
    }
}

extension Node.DNSSettings {
    /// The zones the server holds for reconcile: the forward zone and the reverse zones.
    public var zones: [String] { [zone] + reverseZones }

    /// The most specific of ``zones`` that holds `name` (absolute, lower-case, no final dot).
    public func zone(holding name: String) -> String? {
        zones.filter { name == $0 || name.hasSuffix("." + $0) }.max { $0.count < $1.count }
    }
}
