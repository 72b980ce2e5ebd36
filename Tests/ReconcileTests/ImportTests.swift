import Basics
import Foundation
import Testing
import TestSupport

/// A node built the way our users built theirs: domains defined with `virsh define` (file
/// disks, one an overlay of a base image), one `iptables -A` per rule in a namespace (a chain
/// named after each VM's address, or rules in FORWARD; DNAT and SNAT for pairs), and dhcpd
/// host blocks rendered into a file dhcpd.conf includes.
final class SeedNode {
    let libvirt: LibvirtLab
    let network = NetworkLab()
    let namespace: String
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-import-\(UUID().uuidString.prefix(8))")
    var web: String { "\(libvirt.prefix)-web" }
    var dns: String { "\(libvirt.prefix)-dns" }
    let webUUID = UUID().uuidString.lowercased(), dnsUUID = UUID().uuidString.lowercased()

    init() throws {
        libvirt = try LibvirtLab()
        namespace = try network.namespace("seed")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("bootstrap"), withIntermediateDirectories: true)
        // Disks: a base image and the web VM's overlay of it, and the dns VM's plain disk.
        try libvirt.virsh("vol-create-as", libvirt.pool, "debian-12.qcow2", "64M", "--format", "qcow2")
        try libvirt.virsh("vol-create-as", libvirt.pool, "\(web).qcow2", "1G", "--format", "qcow2",
                          "--backing-vol", "debian-12.qcow2", "--backing-vol-format", "qcow2")
        try libvirt.virsh("vol-create-as", libvirt.pool, "\(dns)-root", "512M", "--format", "qcow2")
        try define(web, uuid: webUUID, mac: "52:54:00:0a:00:07", disk: "\(web).qcow2", extra: "<graphics type='vnc'/>")
        try define(dns, uuid: dnsUUID, mac: "52:54:00:0a:00:08", disk: "\(dns)-root",
                   extra: "<disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>")
        try libvirt.virsh("autostart", web)
        // The public side: the pair's address on it, put there by hand.
        try network.exec(namespace, "ip", "link", "add", "pub0", "type", "veth", "peer", "name", "pub0p")
        try network.exec(namespace, "ip", "link", "set", "pub0", "up")
        try network.exec(namespace, "ip", "addr", "add", "203.0.113.7/32", "dev", "pub0")
        for rule in [
            "-A FORWARD -m state --state RELATED,ESTABLISHED -j ACCEPT",
            "-N 10.0.0.7/32", "-A FORWARD -d 10.0.0.7/32 -j 10.0.0.7/32",
            "-A 10.0.0.7/32 -p tcp -s 198.51.100.0/24 -d 10.0.0.7 --dport 22 -j ACCEPT",
            "-A 10.0.0.7/32 -p tcp -d 10.0.0.7 -m multiport --dports 80,443,8000:8100 -j ACCEPT",
            "-A 10.0.0.7/32 -p icmp -j ACCEPT",
            "-A 10.0.0.7/32 -p udp --sport 53 -j ACCEPT",
            "-A 10.0.0.7/32 -j DROP",
            "-A FORWARD -p udp -s 10.0.0.0/24 -d 10.0.0.8 --dport 53 -j ACCEPT",
            "-A FORWARD -d 10.0.0.8 -j DROP",
            "-A INPUT -p tcp --dport 22 -j ACCEPT",
            "-t nat -A PREROUTING -d 203.0.113.7 -j DNAT --to-destination 10.0.0.7",
            "-t nat -A POSTROUTING -s 10.0.0.7 -j SNAT --to-source 203.0.113.7",
            "-t nat -A PREROUTING -d 203.0.113.8 -j DNAT --to-destination 10.0.0.8",
        ] {
            try network.exec(namespace, ["iptables"] + rule.split(separator: " ").map(String.init))
        }
        // Hand-made rules wearing a tag that looks like reconcile's, and a comment with quotes.
        try network.exec(namespace, ["iptables", "-I", "FORWARD", "1", "-d", "10.0.0.8", "-p", "tcp", "--dport", "3306", "-m", "comment", "--comment", "rc:backdoor", "-j", "ACCEPT"])
        try network.exec(namespace, ["iptables", "-I", "FORWARD", "1", "-d", "10.0.0.8", "-p", "tcp", "--dport", "22", "-m", "comment", "--comment", "ssh \"admin\"", "-j", "ACCEPT"])
        try "subnet 10.0.0.0 netmask 255.255.255.0 {\n  option routers 10.0.0.1;\n}\ninclude \"\(path("hosts.conf"))\";\n"
            .write(toFile: path("dhcpd.conf"), atomically: true, encoding: .utf8)
        // As the seed's template rendered them.
        try """
            # \(web)
            host \(webUUID) {
                hardware ethernet 52:54:00:0A:00:07;
                fixed-address 10.0.0.7;
                option host-name "\(web)";
            }
            # \(dns)
            host \(dnsUUID) { hardware ethernet 52:54:00:0a:00:08; fixed-address 10.0.0.8; option host-name "\(dns)"; }
            host printer01 { hardware ethernet 00:25:22:bd:d1:21; fixed-address 10.0.0.200; option host-name "printer01"; }
            host printer02 { hardware ethernet 00:25:22:bd:d1:23; fixed-address 10.0.0.203; option host-name "\(web)"; }
            host twice { hardware ethernet 00:25:22:bd:d1:22; fixed-address 10.0.0.201, 10.0.0.202; }

            """.write(toFile: path("hosts.conf"), atomically: true, encoding: .utf8)
        try """
            kind: Host
            name: hv1
            roles: [hypervisor, firewall, dhcp]
            libvirt: qemu:///system
            netns: \(namespace)
            publicInterface: pub0
            virtType: qemu
            dhcp: {config: \(path("dhcpd.conf")), hostsFile: \(path("reconcile-hosts.conf")), restart: ["true"]}

            """.write(toFile: path("bootstrap/hosts.yaml"), atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    private func define(_ name: String, uuid: String, mac: String, disk: String, extra: String) throws {
        let file = try libvirt.virsh("vol-path", "--pool", libvirt.pool, disk).trimmingCharacters(in: .whitespacesAndNewlines)
        try """
            <domain type='qemu'><name>\(name)</name><uuid>\(uuid)</uuid><memory unit='MiB'>128</memory><vcpu>1</vcpu>
            <os><type arch='x86_64'>hvm</type></os>
            <devices>
              <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='\(file)'/><target dev='vda' bus='virtio'/></disk>
              <interface type='bridge'><mac address='\(mac)'/><source bridge='\(libvirt.bridge)'/><model type='virtio'/></interface>
              \(extra)
            </devices></domain>
            """.write(toFile: path("\(name).xml"), atomically: true, encoding: .utf8)
        try libvirt.virsh("define", path("\(name).xml"))
    }

    func `import`(to out: String) throws -> ReconcileBinary.Result {
        try ReconcileBinary.run(["import", "--dir", path("bootstrap"), "--state-dir", path("state"), "--node", "hv1",
                                 "--match", "^\(libvirt.prefix)-", "--out", path(out)])
    }

    func file(_ out: String, _ name: String) throws -> String { try String(contentsOfFile: path("\(out)/\(name)"), encoding: .utf8) }

    /// `reconcile` on the imported desired state in `out`.
    func run(_ out: String, _ arguments: String...) throws -> ReconcileBinary.Result {
        try ReconcileBinary.run(ReconcileBinary.waitForLocks(["--dir", path(out), "--state-dir", path("state"), "--node", "hv1"] + arguments))
    }
}

@Suite(.serialized) struct ImportTests {
    @Test func aSeedBuiltNodeBecomesAValidDesiredStateAndWhatCannotBeMappedIsListed() throws {
        let node = try SeedNode()
        let first = try node.import(to: "out")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try node.file("out", "vms/\(node.web).yaml") == """
            # Imported by `reconcile import` from hv1.
            kind: VirtualMachine
            name: \(node.web)
            uuid: \(node.webUUID)
            host: hv1
            memory: 128MiB
            vcpus: 1
            state: stopped
            autostart: true
            disks:
              - {name: vda, pool: "\(node.libvirt.pool)", size: 1GiB, image: "debian-12.qcow2", volume: "\(node.web).qcow2"}
            interfaces:
              - {network: \(node.libvirt.bridge), mac: "52:54:00:0a:00:07", ip: 10.0.0.7}
            console: {vnc: true}
            ---
            kind: IPPair
            name: \(node.web)
            vm: \(node.web)
            public: 203.0.113.7
            private: 10.0.0.7
            ---
            kind: FirewallRule
            name: \(node.web)-1
            vm: \(node.web)
            protocol: tcp
            source: 198.51.100.0/24
            ports: [22]
            ---
            kind: FirewallRule
            name: \(node.web)-2
            vm: \(node.web)
            protocol: tcp
            source: 0.0.0.0/0
            ports: [80, 443, "8000-8100"]
            ---
            kind: FirewallRule
            name: \(node.web)-3
            vm: \(node.web)
            protocol: icmp
            source: 0.0.0.0/0

            """)
        let dns = try node.file("out", "vms/\(node.dns).yaml")
        #expect(dns.contains("  - {name: root, pool: \"\(node.libvirt.pool)\", size: 512MiB}\n"), "\(dns)")
        #expect(dns.contains("protocol: udp\nsource: 10.0.0.0/24\nports: [53]\n") && !dns.contains("kind: IPPair"), "\(dns)")
        // A tag reconcile does not write is foreign: the rule is imported like any hand-made one.
        #expect(dns.contains("protocol: tcp\nsource: 0.0.0.0/0\nports: [3306]\n") && dns.contains("protocol: tcp\nsource: 0.0.0.0/0\nports: [22]\n"), "\(dns)")
        #expect(try node.file("out", "networks.yaml").contains("cidr: 10.0.0.0/24\ngateway: 10.0.0.1\nbridge: \"\(node.libvirt.bridge)\"\n"))
        #expect(try node.file("out", "dhcp-hosts.yaml").contains("name: printer01\nnetwork: \(node.libvirt.bridge)\nmac: \"00:25:22:bd:d1:21\"\nip: 10.0.0.200\n"))
        // A printer whose host-name is a VM's would share the VM's reservation name: renamed, and said so.
        #expect(try node.file("out", "dhcp-hosts.yaml").contains("name: \(node.web)-2\nnetwork: \(node.libvirt.bridge)\nmac: \"00:25:22:bd:d1:23\"\nip: 10.0.0.203\nhostname: \(node.web)\n"))
        #expect(first.stdout.contains("  DHCPHost \(node.web) → \(node.web)-2: a VM's reservation or another DHCPHost has the name \(node.web)"), "\(first.stdout)")
        // Each thing it could not map, with where it was.
        for expected in [
            "-A 10.0.0.7/32 -p udp -m udp --sport 53 -j ACCEPT",
            "-A PREROUTING -d 203.0.113.8/32 -j DNAT --to-destination 10.0.0.8",
            "libvirt domain \(node.dns): cdrom sda",
            "\(node.path("hosts.conf")):11: host twice",
            "iptables filter INPUT: 1 rules",
        ] {
            #expect(first.stdout.contains(expected), "\(expected) not in:\n\(first.stdout)")
        }
        #expect(try ReconcileBinary.run(["validate", node.path("out")]).status == 0)
        // The same node imported again gives the same files, byte for byte.
        #expect(try node.import(to: "again").status == 0)
        for name in ["hosts.yaml", "networks.yaml", "dhcp-hosts.yaml", "vms/\(node.web).yaml", "vms/\(node.dns).yaml"] {
            #expect(try node.file("out", name) == node.file("again", name), "\(name)")
        }
        // An output directory that holds something is refused: nothing is overwritten.
        let refused = try node.import(to: "out")
        #expect(refused.status == 64 && refused.stderr.contains("is not empty"), "\(refused.stderr)")
    }

    /// Import, review, adopt: the plan shows only the takeover, the run makes it, nothing is
    /// left to do afterwards, and importing again writes the same files.
    @Test func theImportedStateAdoptsTheNodeAndNothingIsLeftToDo() throws {
        let node = try SeedNode()
        #expect(try node.import(to: "out").status == 0)
        let refused = try node.run("out", "--dry-run")
        #expect(refused.status == 1 && refused.stdout.contains("is not managed by reconcile; run with --adopt"), "\(refused.stdout)")

        let plan = try node.run("out", "--dry-run", "--adopt")
        #expect(plan.status == 2, "\(plan.stdout)\n\(plan.stderr)")
        for expected in [
            "owner: not reconcile → reconcile (adopted, no restart)",
            "adopted: host \(node.webUUID) moves here from \(node.path("hosts.conf")):2",
            "filter/FORWARD: -d 10.0.0.7/32 -j 10.0.0.7/32 → (none) (hand-made: reconcile's rules replace it in the same transaction)",
            "nat/PREROUTING: -d 203.0.113.7/32 -j DNAT --to-destination 10.0.0.7 → (none)",
        ] {
            #expect(plan.stdout.contains(expected), "\(expected) not in:\n\(plan.stdout)")
        }
        // No restart, no address of a VM or a pair changes, nothing is removed that reconcile made.
        #expect(!plan.stdout.contains("restart pending") && !plan.stdout.contains("power") && !plan.stdout.contains("address: 203.0.113.7"), "\(plan.stdout)")

        let applied = try node.run("out", "--adopt")
        #expect(applied.status == 0, "\(applied.stdout)\n\(applied.stderr)")
        // Every reservation is served from reconcile's file, the printer named like a VM included.
        let hosts = try String(contentsOfFile: node.path("reconcile-hosts.conf"), encoding: .utf8)
        for mac in ["52:54:00:0a:00:07", "52:54:00:0a:00:08", "00:25:22:bd:d1:21", "00:25:22:bd:d1:23"] {
            #expect(hosts.contains("hardware ethernet \(mac);"), "\(mac) not in:\n\(hosts)")
        }
        let again = try node.run("out", "--dry-run")
        #expect(again.status == 0, "\(again.stdout)")
        // The hand rules went, the one with a spoofed tag and the one whose comment holds quotes.
        let saved = try node.network.exec(node.namespace, "iptables-save")
        #expect(!saved.contains("rc:backdoor") && !saved.contains("admin"), "\(saved)")
        #expect(try node.import(to: "reimported").status == 0)
        for name in ["networks.yaml", "dhcp-hosts.yaml", "vms/\(node.web).yaml", "vms/\(node.dns).yaml"] {
            #expect(try node.file("out", name) == node.file("reimported", name), "\(name)")
        }
    }
}
