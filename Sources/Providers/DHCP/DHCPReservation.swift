import DesiredState

/// One `host` block of the hosts file reconcile owns.
struct DHCPReservation: Equatable, Sendable {
    /// The block's name, which is also its resource's: the VM's name, suffixed `-N` (the
    /// interface's place among those with an address) when it has several; a DHCPHost's name.
    var name: String
    var mac: String
    var ip: String
    var hostname: String
    /// The comment above the block: the VM or DHCPHost it comes from.
    var comment: String
    var source: SourceLocation?

    /// The reservations a desired state asks for, sorted by block name.
    static func all(in desired: DesiredState) -> [DHCPReservation] {
        var reservations: [DHCPReservation] = []
        for vm in desired.virtualMachines {
            let addressed = vm.interfaces.filter { $0.ip != nil }
            for (index, interface) in addressed.enumerated() {
                guard let ip = interface.ip else { continue }
                reservations.append(DHCPReservation(
                    name: addressed.count == 1 ? vm.name : "\(vm.name)-\(index)", mac: interface.mac.description,
                    ip: ip.description, hostname: vm.name, comment: vm.name, source: vm.location
                ))
            }
        }
        for host in desired.dhcpHosts {
            reservations.append(DHCPReservation(
                name: host.name, mac: host.mac.description, ip: host.ip.description, hostname: host.hostname,
                comment: "\(host.name) (DHCPHost)", source: host.location
            ))
        }
        return reservations.sorted { $0.name < $1.name }
    }

    /// The declared properties, as the plan compares them, named as dhcpd writes them.
    var properties: [(String, String)] { [("hardware ethernet", mac), ("fixed-address", ip), ("host-name", hostname)] }
    /// The same, named as Kea writes them.
    var keaProperties: [(String, String)] { [("hw-address", mac), ("ip-address", ip), ("hostname", hostname)] }

    /// `00:25:22:bd:d1:20 → 10.0.0.7 (cpro0007)`, as the plan summarises it.
    var summary: String { "\(mac) → \(ip) (\(hostname))" }
}
