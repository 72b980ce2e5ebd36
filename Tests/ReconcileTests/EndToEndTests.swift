import Basics
import Foundation
import Libvirt
import Testing
import TestSupport

/// From a commit to a running machine: one `reconcile --repo …` defines and starts a QEMU
/// guest on a test bridge, writes its DHCP reservation for a real dhcpd and its IP pair and
/// firewall rules into real iptables (dhcpd and iptables in a namespace joined to the bridge
/// by a veth pair); the guest network-boots (iPXE) and dhcpd acknowledges its fixed address.
@Suite(.serialized) struct EndToEndTests {
    static let mac = "00:25:22:77:00:07"

    @Test func aCommitBecomesARunningVMWithItsLeaseNATAndRules() throws {
        let libvirt = try LibvirtLab()
        let network = NetworkLab()
        let gateway = try network.namespace("gw")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-e2e-\(libvirt.id)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("repo/cloud"), withIntermediateDirectories: true)
        func path(_ name: String) -> String { root.appendingPathComponent(name).path }

        // The gateway namespace sits on the bridge with the network's gateway address.
        let gatewaySide = try libvirt.joinBridge(gateway, address: "10.77.0.1/24")
        try network.exec(gateway, "ip", "link", "add", "pub0", "type", "veth", "peer", "name", "pub0p")  // no dummy module here
        try network.exec(gateway, "ip", "link", "set", "pub0", "up")

        // dhcpd in the foreground, logging to a file (it has no syslog here), restarted by pid.
        try "authoritative;\nsubnet 10.77.0.0 netmask 255.255.255.0 { }\n".write(toFile: path("dhcpd.conf"), atomically: true, encoding: .utf8)
        try writeScript("""
            #!/bin/sh
            [ -s \(path("dhcpd.pid")) ] && kill $(cat \(path("dhcpd.pid"))) 2>/dev/null && sleep 0.3
            touch \(path("dhcpd.leases"))
            dhcpd -4 -t -q -cf \(path("dhcpd.conf")) || exit 1
            dhcpd -4 -d -cf \(path("dhcpd.conf")) -lf \(path("dhcpd.leases")) -pf \(path("dhcpd.pid")) \(gatewaySide) >> \(path("dhcpd.log")) 2>&1 < /dev/null &

            """, to: path("restart-dhcpd.sh"))

        let vm = libvirt.prefix + "-vm"
        try """
            kind: Host
            name: hv1
            roles: [hypervisor, firewall, dhcp]
            libvirt: \(libvirt.uri)
            virtType: qemu  # TCG: nested KVM on these machines stops some guests with an internal error
            netns: \(gateway)
            publicInterface: pub0
            dhcp: {config: \(path("dhcpd.conf")), hostsFile: \(path("reconcile-hosts.conf")), restart: [\(path("restart-dhcpd.sh"))]}
            ---
            kind: Network
            name: lab
            cidr: 10.77.0.0/24
            gateway: 10.77.0.1
            bridge: \(libvirt.bridge)
            ---
            kind: VirtualMachine
            name: \(vm)
            host: hv1
            memory: 128MiB
            vcpus: 1
            state: running
            interfaces: [{network: lab, mac: "\(Self.mac)", ip: 10.77.0.7}]
            ---
            kind: IPPair
            name: \(vm)
            vm: \(vm)
            public: 203.0.113.77
            private: 10.77.0.7
            ---
            kind: FirewallRule
            name: \(vm)-ssh
            vm: \(vm)
            protocol: tcp
            source: 0.0.0.0/0
            ports: [22]

            """.write(toFile: path("repo/cloud/cloud.yaml"), atomically: true, encoding: .utf8)
        let git = { (arguments: String...) throws in _ = try ReconcileBinary.shell(["git", "-C", path("repo")] + arguments) }
        try git("init", "-q", "-b", "main")
        try git("-c", "user.name=Ops Person", "-c", "user.email=ops@example.org", "add", "-A")
        try git("-c", "user.name=Ops Person", "-c", "user.email=ops@example.org", "commit", "-q", "-m", "A VM with its lease, NAT and SSH")

        let run = try ReconcileBinary.run(ReconcileBinary.waitForLocks(["--repo", path("repo"), "--path", "cloud", "--state-dir", path("state")]))
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("+ libvirt_domain[\(vm)]  128 MiB, 1 vCPU, running\n"))

        // The guest runs and boots from the network: dhcpd acknowledges its fixed address.
        #expect(try libvirt.virsh("domstate", vm).hasPrefix("running"))
        let acknowledged = "DHCPACK on 10.77.0.7 to \(Self.mac)"
        let deadline = Date().addingTimeInterval(90)
        var log = ""
        while Date() < deadline {
            log = (try? String(contentsOfFile: path("dhcpd.log"), encoding: .utf8)) ?? ""
            if log.contains(acknowledged) { break }
            Thread.sleep(forTimeInterval: 0.5)
        }
        #expect(log.contains(acknowledged), "dhcpd said:\n\(log)")

        // NAT and rules in the gateway's iptables, the public address on its interface.
        let nat = try network.exec(gateway, "iptables-save", "-t", "nat")
        #expect(nat.contains("-d 203.0.113.77/32") && nat.contains("--to-destination 10.77.0.7"))
        #expect(try network.exec(gateway, "iptables-save", "-t", "filter").contains("--dport 22 "))
        #expect(try network.exec(gateway, "ip", "-o", "addr", "show", "dev", "pub0").contains("203.0.113.77/32"))

        // And a second run from the same commit has nothing to do.
        let again = try ReconcileBinary.run(ReconcileBinary.waitForLocks(["--repo", path("repo"), "--path", "cloud", "--state-dir", path("state"), "--dry-run"]))
        #expect(again.status == 0, "\(again.stdout)")
    }
}
