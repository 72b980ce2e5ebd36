import Providers
import DesiredState
import Foundation

/// The files `reconcile import` writes, by path relative to the output directory: the Host in
/// `hosts.yaml`, the Networks in `networks.yaml`, one file per VM in `vms/` (the VM, its pairs
/// and its rules) and the other reservations in `dhcp-hosts.yaml`. Sorted and free of dates,
/// so importing the same node twice writes the same bytes.
enum ImportWriter {
    static func files(_ cloud: ImportedCloud) -> [String: String] {
        let header = "# Imported by `reconcile import` from \(cloud.host.name).\n"
        var files = ["hosts.yaml": header + host(cloud.host)]
        if !cloud.networks.isEmpty { files["networks.yaml"] = header + cloud.networks.map(network).joined(separator: "---\n") }
        let networks = Dictionary(cloud.networks.map { ($0.source, $0.name) }, uniquingKeysWith: { first, _ in first })
        for vm in cloud.vms {
            let documents = [self.vm(vm, host: cloud.host.name, networks: networks)] + vm.pairs.map { pair($0, vm: vm.name) } + vm.rules.map { rule($0, vm: vm.name) }
            files["vms/\(vm.name).yaml"] = header + documents.joined(separator: "---\n")
        }
        if !cloud.dhcpHosts.isEmpty { files["dhcp-hosts.yaml"] = header + cloud.dhcpHosts.map(dhcpHost).joined(separator: "---\n") }
        return files
    }

    static func host(_ node: Node) -> String {
        var lines = ["kind: Host", "name: \(node.name)", "roles: [\(Node.Role.allCases.filter(node.roles.contains).map(\.rawValue).joined(separator: ", "))]",
                     "libvirt: \(quoted(node.libvirt))"]
        if !node.netns.isEmpty { lines.append("netns: \(quoted(node.netns))") }
        if let interface = node.publicInterface { lines.append("publicInterface: \(quoted(interface))") }
        if let virtType = node.virtType { lines.append("virtType: \(virtType.rawValue)") }
        if node.roles.contains(.firewall) { lines.append("firewall: {backend: \(node.firewallBackend.rawValue)}") }
        if node.roles.contains(.dhcp) {
            let dhcp = node.dhcp
            lines.append(dhcp.server == .isc
                ? "dhcp: {config: \(quoted(dhcp.config)), hostsFile: \(quoted(dhcp.hostsFile)), restart: [\(dhcp.restart.map(quoted).joined(separator: ", "))], restartTimeout: \(dhcp.restartTimeout)}"
                : "dhcp: {server: kea, config: \(quoted(dhcp.config)), hostsFile: \(quoted(dhcp.hostsFile)), controlSocket: \(quoted(dhcp.controlSocket))}")
        }
        if let dns = node.dns {
            lines.append("dns: {server: \"\(dns.server):\(dns.port)\", zone: \(dns.zone), reverseZones: [\(dns.reverseZones.joined(separator: ", "))], tsigKeyFile: \(quoted(dns.tsigKeyFile))}")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func network(_ network: ImportedCloud.Network) -> String {
        var lines = ["kind: Network", "name: \(network.name)", "cidr: \(network.cidr)"]
        if let gateway = network.gateway { lines.append("gateway: \(gateway)") }
        switch network.source {
        case .bridge(let bridge): lines.append("bridge: \(quoted(bridge))")
        case .libvirtNetwork(let name): lines.append("libvirtNetwork: \(quoted(name))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func vm(_ vm: ImportedCloud.VM, host: String, networks: [ImportedCloud.InterfaceSource: String]) -> String {
        var lines = ["kind: VirtualMachine", "name: \(vm.name)", "uuid: \(vm.uuid)", "host: \(host)", "memory: \(size(vm.memory))",
                     "vcpus: \(vm.vcpus)", "state: \(vm.running ? "running" : "stopped")", "autostart: \(vm.autostart)"]
        if !vm.disks.isEmpty {
            lines.append("disks:")
            for disk in vm.disks {
                let image = disk.image.map { ", image: \(quoted($0))" } ?? "", volume = disk.volume.map { ", volume: \(quoted($0))" } ?? ""
                lines.append("  - {name: \(disk.name), pool: \(quoted(disk.pool)), size: \(size(disk.size))\(image)\(volume)}")
            }
        }
        lines.append(vm.interfaces.isEmpty ? "interfaces: []" : "interfaces:")
        for interface in vm.interfaces {
            let network = networks[interface.source] ?? interface.source.name, ip = interface.ip.map { ", ip: \($0)" } ?? ""
            lines.append("  - {network: \(network), mac: \"\(interface.mac)\"\(ip)}")
        }
        if vm.vnc { lines.append("console: {vnc: true}") }
        return lines.joined(separator: "\n") + "\n"
    }

    static func pair(_ pair: ImportedCloud.Pair, vm: String) -> String {
        "kind: IPPair\nname: \(pair.name)\nvm: \(vm)\npublic: \(pair.publicIP)\nprivate: \(pair.privateIP)\n"
    }

    static func rule(_ rule: ImportedCloud.Rule, vm: String) -> String {
        let ports = rule.ports.isEmpty ? "" : "ports: [\(rule.ports.map { $0.contains("-") ? "\"\($0)\"" : $0 }.joined(separator: ", "))]\n"
        return "kind: FirewallRule\nname: \(rule.name)\nvm: \(vm)\nprotocol: \(rule.ipProtocol)\nsource: \(rule.source)\n" + ports
    }

    static func dhcpHost(_ host: ImportedCloud.DHCPHost) -> String {
        "kind: DHCPHost\nname: \(host.name)\nnetwork: \(host.network)\nmac: \"\(host.mac)\"\nip: \(host.ip)\nhostname: \(host.hostname)\n"
    }

    /// `2 GiB` → `2GiB`.
    private static func size(_ size: ByteSize) -> String { size.description.replacingOccurrences(of: " ", with: "") }

    /// A JSON string: a valid YAML double-quoted scalar, whatever it holds.
    private static func quoted(_ text: String) -> String {
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\\/", with: "/")
    }
}

extension ImportedCloud {
    /// Writes the files into `directory` (made if missing); returns their relative paths.
    public func write(to directory: String) throws -> [String] {
        let files = ImportWriter.files(self)
        for (path, text) in files {
            let url = URL(fileURLWithPath: directory).appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        return files.keys.sorted()
    }

    /// `hv1: 12 VMs (30 rules, 12 pairs), 2 networks, 3 DHCP hosts written to imported; 4 things not mapped:`
    public func summary(_ directory: String) -> String {
        let rules = vms.reduce(0) { $0 + $1.rules.count }, pairs = vms.reduce(0) { $0 + $1.pairs.count }
        return "\(host.name): \(vms.count) VMs (\(rules) firewall rules, \(pairs) IP pairs), \(networks.count) networks, "
            + "\(dhcpHosts.count) DHCP hosts written to \(directory)"
            + (unmapped.isEmpty ? "; everything was mapped" : "; \(unmapped.count) not mapped, each to review:")
    }
}
