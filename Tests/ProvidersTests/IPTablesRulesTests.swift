import DesiredState
import Engine
import Foundation
@testable import Providers
import Testing

/// Loads a desired state from YAML text through the real loader.
func desiredState(_ yaml: String) throws -> DesiredState {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-desired-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    try yaml.write(to: directory.appendingPathComponent("all.yaml"), atomically: true, encoding: .utf8)
    return try DesiredState.load(directory: directory.path)
}

@Suite struct IPTablesRulesTests {
    static let yaml = """
        kind: Network
        name: private
        cidr: 10.0.0.0/24
        bridge: br0
        ---
        kind: VirtualMachine
        name: cpro0007
        memory: 1GiB
        vcpus: 1
        interfaces: [{network: private, mac: "00:25:22:bd:d1:20", ip: 10.0.0.7}]
        ---
        kind: IPPair
        name: cpro0007
        vm: cpro0007
        public: 203.0.113.7
        private: 10.0.0.7
        ---
        kind: FirewallRule
        name: web
        vm: cpro0007
        protocol: tcp
        source: 0.0.0.0/0
        ports: [80, 443, "8000-8100"]
        ---
        kind: FirewallRule
        name: ssh
        vm: cpro0007
        protocol: tcp
        source: 198.51.100.0/24
        ports: [22]
        ---
        kind: FirewallRule
        name: ping
        vm: cpro0007
        protocol: icmp
        source: 0.0.0.0/0
        ---
        kind: FirewallRule
        name: admin
        vm: cpro0007
        protocol: all
        source: 192.0.2.1
        """

    @Test func restoreInputForAnEmptyMachineIsGolden() throws {
        let script = RestoreScript(planning: try desiredState(Self.yaml), live: IPTablesRuleset(), inventory: [])
        #expect(script.script.text == """
            *filter
            :RC-FORWARD - [0:0]
            :RC-VM-cpro0007 - [0:0]
            -A RC-FORWARD -d 10.0.0.7/32 -m comment --comment "rc:vm:cpro0007" -j RC-VM-cpro0007
            -A RC-VM-cpro0007 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
            -A RC-VM-cpro0007 -p tcp -m multiport --dports 80,443,8000:8100 -m comment --comment "rc:rule:web" -j ACCEPT
            -A RC-VM-cpro0007 -s 198.51.100.0/24 -p tcp -m tcp --dport 22 -m comment --comment "rc:rule:ssh" -j ACCEPT
            -A RC-VM-cpro0007 -p icmp -m comment --comment "rc:rule:ping" -j ACCEPT
            -A RC-VM-cpro0007 -s 192.0.2.1/32 -m comment --comment "rc:rule:admin" -j ACCEPT
            -A RC-VM-cpro0007 -j DROP
            -I FORWARD 1 -m comment --comment reconcile -j RC-FORWARD
            COMMIT
            *nat
            :RC-OUTPUT - [0:0]
            :RC-POSTROUTING - [0:0]
            :RC-PREROUTING - [0:0]
            -A RC-OUTPUT -d 203.0.113.7/32 -m comment --comment "rc:pair:cpro0007" -j DNAT --to-destination 10.0.0.7
            -A RC-POSTROUTING -s 10.0.0.7/32 -m comment --comment "rc:pair:cpro0007" -j SNAT --to-source 203.0.113.7
            -A RC-PREROUTING -d 203.0.113.7/32 -m comment --comment "rc:pair:cpro0007" -j DNAT --to-destination 10.0.0.7
            -I PREROUTING 1 -m comment --comment reconcile -j RC-PREROUTING
            -I OUTPUT 1 -m comment --comment reconcile -j RC-OUTPUT
            -I POSTROUTING 1 -m comment --comment reconcile -j RC-POSTROUTING
            COMMIT

            """)
        let explained = script.explain("iptables-restore: line 6 failed")
        #expect(explained.hasPrefix("line 6 (firewall_rule[web], /"))
        #expect(explained.hasSuffix("all.yaml:18:1): -A RC-VM-cpro0007 -p tcp -m multiport --dports 80,443,8000:8100 -m comment --comment \"rc:rule:web\" -j ACCEPT: iptables-restore: line 6 failed"))
    }

    @Test func onlyChangedChainsAreRewrittenAndOldOnesRemoved() throws {
        let desired = try desiredState(Self.yaml)
        let want = IPTablesRules(desired)
        var live = IPTablesRuleset()
        for (table, chains) in want.chains { live.tables[table] = chains.mapValues { $0.map(\.text) } }
        live.tables["filter"]?["FORWARD"] = ["-j DOCKER", "-m comment --comment reconcile -j RC-FORWARD"]
        live.tables["nat"]?["PREROUTING"] = ["-m comment --comment reconcile -j RC-PREROUTING"]
        live.tables["nat"]?["OUTPUT"] = ["-m comment --comment reconcile -j RC-OUTPUT"]
        live.tables["nat"]?["POSTROUTING"] = ["-m comment --comment reconcile -j RC-POSTROUTING"]
        live.tables["filter"]?["RC-VM-gone"] = ["-j DROP"]
        live.tables["filter"]?["DOCKER"] = ["-j RETURN"]
        // The jump below DOCKER stays there (the operator's order); the chain the inventory
        // records is removed.
        let inventory: Set<ResourceID> = [ResourceID(IPTablesRules.chainType, "RC-VM-gone")]
        #expect(RestoreScript(planning: desired, live: live, inventory: inventory).script.text == """
            *filter
            :RC-VM-gone - [0:0]
            -X RC-VM-gone
            COMMIT

            """)
        live.tables["filter"]?["RC-VM-gone"] = nil
        #expect(RestoreScript(planning: desired, live: live, inventory: inventory).script.isEmpty)
    }

    @Test func manyPortsAreSplitAcrossMultiportRules() throws {
        let ports = (1...20).map { "\(1000 + $0)" }.joined(separator: ", ")
        let state = try desiredState(Self.yaml.replacingOccurrences(of: "ports: [80, 443, \"8000-8100\"]", with: "ports: [\(ports)]"))
        let rules = (IPTablesRules(state).chains["filter"]?["RC-VM-cpro0007"] ?? []).filter { $0.owner.name == "web" }
        #expect(rules.count == 2)
        #expect(rules[0].text.contains("--dports 1001,1002,1003,1004,1005,1006,1007,1008,1009,1010,1011,1012,1013,1014,1015 "))
        #expect(rules[1].text.contains("--dports 1016,1017,1018,1019,1020 "))
    }

    @Test func longVMNamesGetStableChainNamesWithinTheLimit() {
        let name = IPTablesRules.chainName(vm: "a-very-long-virtual-machine-name-for-customer-7")
        #expect(name.count == 28 && name.hasPrefix("RC-VM-a-very-lo-"))
        #expect(name == IPTablesRules.chainName(vm: "a-very-long-virtual-machine-name-for-customer-7"))
        #expect(name != IPTablesRules.chainName(vm: "a-very-long-virtual-machine-name-for-customer-8"))
        #expect(IPTablesRules.chainName(vm: "cpro0007") == "RC-VM-cpro0007")
        // The pair whose 32-bit FNV hashes collided (one chain for two VMs).
        #expect(IPTablesRules.chainName(vm: "rcq-collision-00002789b") != IPTablesRules.chainName(vm: "rcq-collision-0000689c8"))
    }

    @Test func parsesIptablesSaveAndTags() {
        let ruleset = IPTablesRuleset.parse("""
            # Generated by iptables-save
            *filter
            :INPUT ACCEPT [0:0]
            :RC-VM-a - [0:0]
            -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
            -A RC-VM-a -m comment --comment "rc:rule:web" -j ACCEPT
            COMMIT
            *nat
            :PREROUTING ACCEPT [0:0]
            -A PREROUTING -m comment --comment reconcile -j RC-PREROUTING
            COMMIT
            """)
        #expect(ruleset.rules("filter", "INPUT") == ["-p tcp -m tcp --dport 22 -j ACCEPT"])
        #expect(ruleset.rules("filter", "RC-VM-a").map { $0.compactMap(IPTablesRuleset.tag(of:)) } == ["rc:rule:web"])
        #expect(ruleset.rules("nat", "PREROUTING").flatMap { $0.first.flatMap(IPTablesRuleset.tag(of:)) } == "reconcile")
        #expect(IPTablesRuleset.tag(of: "-m comment --comment \"rc:rule:web -j ACCEPT") == nil)
        #expect(IPTablesRuleset.tag(of: "-j ACCEPT") == nil)
    }

    @Test func aRuleJumpsToTheWordAfterItsLastJ() {
        #expect(IPTablesRuleset.jumpTarget(of: "-d 10.0.0.7/32 -m comment --comment \"rc:vm:a\" -j RC-VM-a") == "RC-VM-a")
        #expect(IPTablesRuleset.jumpTarget(of: "-j RC-FORWARD") == "RC-FORWARD")
        #expect(IPTablesRuleset.jumpTarget(of: "-d 203.0.113.7/32 -j DNAT --to-destination 10.0.0.7") == "DNAT")
        #expect(IPTablesRuleset.jumpTarget(of: "-s 10.0.0.0/8 -m tcp --dport 22") == nil)
        #expect(IPTablesRuleset.jumpTarget(of: "-d 10.0.0.7/32 -j") == nil)
        #expect(IPTablesRuleset.jumpTarget(of: "") == nil)
    }

    @Test func onlyLabelledPublicAddressesAreOursOnEveryInterface() {
        let shown = """
            1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
            3: pub0@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff
            5: old0: <BROADCAST,NOARP> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 32\\    link/ether 1a:4f:b0:9b:a4:b8 brd ff:ff:ff:ff:ff:ff
            3: pub0    inet 198.51.100.1/24 brd 198.51.100.255 scope global pub0\\       valid_lft forever preferred_lft forever
            3: pub0    inet 203.0.113.7/32 scope global pub0:rc\\       valid_lft forever preferred_lft forever
            3: pub0    inet 203.0.113.9/32 scope global pub0:rcx\\       valid_lft forever preferred_lft forever
            3: pub0    inet 203.0.113.10/32 scope global old0:rc\\       valid_lft forever preferred_lft forever
            3: pub0    inet 203.0.113.51/32 scope global pub0:rc
            5: old0    inet 203.0.113.8/32 scope global old0:rc
            """
        let addresses = PublicAddresses.parse(shown)
        #expect(addresses.interfaces == ["lo", "pub0", "old0"])
        #expect(addresses.ours == ["203.0.113.7": "pub0", "203.0.113.51": "pub0", "203.0.113.8": "old0"])
        #expect(addresses.on("pub0") == ["203.0.113.7", "203.0.113.51"])
        #expect(addresses.on("gone0") == nil)
    }
}
