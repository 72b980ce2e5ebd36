import Providers
import Basics
import DesiredState
import Engine

/// `reconcile import`: reads a node's libvirt domains, its iptables rules and NAT, and its
/// dhcpd.conf with its includes — once each, as its Host's roles say — and turns them into
/// desired-state documents: a VM per domain with its NICs (addresses from the reservations
/// of their MACs), disks, pairs and rules; Networks from the bridges and dhcpd's subnets;
/// DHCPHosts for the reservations no VM has. What it cannot map is listed, never dropped.
public struct CloudImporter {
    public var node: Node
    /// Only domains whose name this accepts (`--match`).
    public var includes: @Sendable (String) -> Bool
    public var runner: CommandRunner

    public init(node: Node, includes: @escaping @Sendable (String) -> Bool = { _ in true }, runner: CommandRunner? = nil) {
        self.node = node
        self.includes = includes
        self.runner = runner ?? CommandRunner(netns: node.netns, timeout: 120)
    }

    public func run() async throws -> ImportedCloud {
        var cloud = ImportedCloud(host: node)
        var vms: [ImportedCloud.VM] = []
        if node.roles.contains(.hypervisor) {
            let inventory = try await EarlyRead { [node] in try LibvirtInventory.read(uri: node.libvirt) }.value()
            for (pool, why) in inventory.unreadablePools.sorted(by: { $0.key < $1.key }) {
                cloud.unmapped.append(.init(source: "libvirt pool \(pool)", text: "its volumes", why: "they could not be listed (\(why)); a disk in it is not mapped"))
            }
            for domain in inventory.domains where includes(domain.name) {
                if let vm = DomainImport.vm(domain, volumes: inventory.volumesByPath, unmapped: &cloud.unmapped) { vms.append(vm) }
            }
        }
        var dhcp = DHCPImport()
        if node.roles.contains(.dhcp) {
            if node.dhcp.server == .isc {
                dhcp = try await EarlyRead { [node] in try DHCPImport.read(config: node.dhcp.config) }.value()
                cloud.unmapped += dhcp.unmapped
            } else {
                cloud.unmapped.append(.init(source: node.dhcp.config, text: "Kea reservations", why: "only ISC dhcpd's host blocks are imported"))
            }
        }
        // Each NIC's address is its MAC's reservation.
        let reservations = Dictionary(dhcp.reservations.map { ($0.mac, $0) }, uniquingKeysWith: { first, _ in first })
        for vmIndex in vms.indices {
            for index in vms[vmIndex].interfaces.indices {
                guard let reservation = reservations[vms[vmIndex].interfaces[index].mac] else { continue }
                vms[vmIndex].interfaces[index].ip = reservation.ip.description
                let name = vms[vmIndex].interfaces.count == 1 ? vms[vmIndex].name : "\(vms[vmIndex].name)-\(index)"
                if let hostname = reservation.hostname, hostname != name {
                    cloud.unmapped.append(.init(source: reservation.location, text: "option host-name \"\(hostname)\"",
                                                why: "reconcile sends the VM's name (\(name)) as the host name"))
                }
            }
        }
        cloud.networks = networks(for: &vms, subnets: dhcp.subnets, unmapped: &cloud.unmapped)
        if node.roles.contains(.firewall) {
            let command = ["iptables-save"]
            let saved = try await runner.output(command)
            guard saved.status == 0, saved.timedOutAfter == nil else { throw CommandRunner.Failure(command, saved) }
            let addresses = Set(vms.flatMap { $0.interfaces.compactMap(\.ip) })
            let firewall = FirewallImport.read(saved.stdout, addresses: addresses)
            assign(firewall, to: &vms, networks: cloud.networks, unmapped: &cloud.unmapped)
            cloud.unmapped += firewall.unmapped
        }
        let used = Set(vms.flatMap { $0.interfaces.map(\.mac) })
        cloud.dhcpHosts = dhcpHosts(dhcp.reservations.filter { !used.contains($0.mac) }, networks: cloud.networks, unmapped: &cloud.unmapped)
        cloud.vms = vms.sorted { $0.name < $1.name }
        Self.makeNamesUnique(&cloud)
        return cloud
    }

    /// No two objects of one kind share a name (a tag `rc:web` on two VMs' rules; a printer
    /// whose host-name is a VM's, which would share the VM's reservation name): later ones
    /// get `-2`, `-3`…, and each rename is listed.
    static func makeNamesUnique(_ cloud: inout ImportedCloud) {
        var renamed: [ImportedCloud.Renamed] = []
        func unique(_ kind: String, _ name: inout String, taken: inout Set<String>, why: (String) -> String) {
            guard taken.contains(name) else { taken.insert(name); return }
            let new = uniqueName(name, among: taken)
            renamed.append(.init(kind: kind, from: name, to: new, why: why(name)))
            name = new
            taken.insert(new)
        }
        var rules = Set<String>(), pairs = Set<String>()
        for vm in cloud.vms.indices {
            for rule in cloud.vms[vm].rules.indices {
                unique("FirewallRule", &cloud.vms[vm].rules[rule].name, taken: &rules) { "another VM's rule has the name \($0)" }
            }
            for pair in cloud.vms[vm].pairs.indices {
                unique("IPPair", &cloud.vms[vm].pairs[pair].name, taken: &pairs) { "another VM's pair has the name \($0)" }
            }
        }
        // A VM's reservation is named after it (`-N` with several addresses), as DHCPHosts are.
        var reservations = Set(cloud.vms.flatMap { vm in
            let addressed = vm.interfaces.filter { $0.ip != nil }.count
            return addressed == 1 ? [vm.name] : (0..<addressed).map { "\(vm.name)-\($0)" }
        })
        for host in cloud.dhcpHosts.indices {
            unique("DHCPHost", &cloud.dhcpHosts[host].name, taken: &reservations) { "a VM's reservation or another DHCPHost has the name \($0)" }
        }
        cloud.renamed = renamed
    }

    /// A Network per bridge (or libvirt network) the VMs use, its CIDR and gateway from the
    /// dhcpd subnet that holds their addresses. VMs on one that no subnet describes are left
    /// out (a Network needs a CIDR), and said so.
    private func networks(for vms: inout [ImportedCloud.VM], subnets: [DHCPImport.Subnet],
                          unmapped: inout [ImportedCloud.Unmapped]) -> [ImportedCloud.Network] {
        var networks: [ImportedCloud.Network] = []
        var undeclarable: [ImportedCloud.InterfaceSource: String] = [:]  // → why
        var claimed: [IPv4Network: String] = [:]  // subnet → the source whose Network it is
        let sources = Set(vms.flatMap { $0.interfaces.map(\.source) }).sorted()
        for source in sources {
            let addresses = vms.flatMap { $0.interfaces.filter { $0.source == source }.compactMap { $0.ip.flatMap(IPv4Address.init) } }
            guard let subnet = subnets.first(where: { subnet in addresses.contains { subnet.network.contains($0) } }) else {
                undeclarable[source] = "no dhcpd subnet holds an address reserved on \(source.name), so its Network has no CIDR"
                continue
            }
            // Two bridges cannot be one network: the second is left out rather than written overlapping.
            if let first = claimed[subnet.network] {
                undeclarable[source] = "its addresses are in \(subnet.network), already the Network of \(first)"
                continue
            }
            claimed[subnet.network] = source.name
            let cidr = subnet.network
            let gateway = subnet.routers.first { cidr.contains($0) && $0 != cidr.networkAddress && $0 != cidr.broadcastAddress }
            networks.append(.init(name: Self.uniqueName(Self.objectName(source.name), among: networks.map(\.name)), cidr: cidr,
                                  gateway: gateway, source: source))
            for vmIndex in vms.indices {
                for index in vms[vmIndex].interfaces.indices where vms[vmIndex].interfaces[index].source == source {
                    guard let ip = vms[vmIndex].interfaces[index].ip.flatMap(IPv4Address.init), !cidr.contains(ip) || ip == gateway else { continue }
                    unmapped.append(.init(source: "libvirt domain \(vms[vmIndex].name)", text: "interface \(vms[vmIndex].interfaces[index].mac) ip \(ip)",
                                          why: ip == gateway ? "it is the gateway of \(cidr); declared without ip" : "outside \(cidr), the subnet of its bridge; declared without ip"))
                    vms[vmIndex].interfaces[index].ip = nil
                }
            }
        }
        vms.removeAll { vm in
            guard let source = vm.interfaces.first(where: { undeclarable[$0.source] != nil })?.source else { return false }
            unmapped.append(.init(source: "libvirt domain \(vm.name)", text: "interface on \(source.name)",
                                  why: "\(undeclarable[source] ?? ""); the domain is left out"))
            return true
        }
        return networks
    }

    /// Rules and pairs to the VMs that hold their addresses, named after them.
    private func assign(_ firewall: FirewallImport, to vms: inout [ImportedCloud.VM], networks: [ImportedCloud.Network],
                        unmapped: inout [ImportedCloud.Unmapped]) {
        let owners = Dictionary(vms.indices.flatMap { index in vms[index].interfaces.compactMap(\.ip).map { ($0, index) } }, uniquingKeysWith: { first, _ in first })
        for (address, rules) in firewall.rules.sorted(by: { $0.key < $1.key }) {
            guard let index = owners[address] else { continue }
            var names = Set(rules.compactMap(\.name))
            for rule in rules {
                let name = rule.name ?? Self.uniqueName("\(vms[index].name.prefix(58))-\(vms[index].rules.count + 1)", among: names)
                names.insert(name)
                vms[index].rules.append(.init(name: name, ipProtocol: rule.ipProtocol, source: rule.source, ports: rule.ports))
            }
        }
        for pair in firewall.pairs {
            guard let index = owners[pair.privateIP] else { continue }
            if let publicIP = IPv4Address(pair.publicIP), let inside = networks.map(\.cidr).first(where: { $0.contains(publicIP) }) {
                unmapped.append(.init(source: "iptables nat", text: "\(pair.publicIP) → \(pair.privateIP)",
                                      why: "the public address is inside \(inside), a private network"))
                continue
            }
            let name = pair.name ?? (vms[index].pairs.isEmpty ? vms[index].name : "\(vms[index].name)-\(vms[index].pairs.count + 1)")
            vms[index].pairs.append(.init(name: name, publicIP: pair.publicIP, privateIP: pair.privateIP))
        }
    }

    /// Reservations no VM holds, on the Network whose CIDR holds their address.
    private func dhcpHosts(_ reservations: [DHCPImport.Reservation], networks: [ImportedCloud.Network],
                           unmapped: inout [ImportedCloud.Unmapped]) -> [ImportedCloud.DHCPHost] {
        var hosts: [ImportedCloud.DHCPHost] = []
        for reservation in reservations {
            guard let network = networks.first(where: { $0.cidr.contains(reservation.ip) }) else {
                unmapped.append(.init(source: reservation.location, text: "host \(reservation.name)",
                                      why: "no imported Network holds \(reservation.ip) (a Network comes from a bridge a VM uses)"))
                continue
            }
            // A host name reconcile can send (letters, digits, '-' and dots), else the block's name.
            let hostname = [reservation.hostname, reservation.name].compactMap { $0 }.first(where: Self.isHostname) ?? "host-\(reservation.ip.description.replacingOccurrences(of: ".", with: "-"))"
            let base = Kind.isValidName(hostname) ? hostname : Kind.isValidName(reservation.name) ? reservation.name : Self.objectName(hostname)
            hosts.append(.init(name: base, network: network.name, mac: reservation.mac,
                               ip: reservation.ip.description, hostname: hostname))
        }
        return hosts
    }

    static func isHostname(_ text: String) -> Bool {
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        return text.utf8.count <= 253 && labels.allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }

    /// `virbr0`, `br_Private.10` → `br-private-10`: a valid object name from any text.
    static func objectName(_ text: String) -> String {
        let mapped = String(text.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" })
        let trimmed = mapped.drop { $0 == "-" }.prefix(63)
        return trimmed.isEmpty ? "imported" : String(trimmed)
    }

    static func uniqueName(_ base: String, among taken: some Collection<String>) -> String {
        guard taken.contains(base) else { return base }
        var number = 2
        while taken.contains("\(base.prefix(58))-\(number)") { number += 1 }
        return "\(base.prefix(58))-\(number)"
    }
}

extension ImportedCloud.InterfaceSource {
    var name: String {
        switch self {
        case .bridge(let name), .libvirtNetwork(let name): name
        }
    }
}
