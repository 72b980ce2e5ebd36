import DesiredState
import Engine
@testable import Providers
import Testing

/// What the comparison makes of live rules that differ from the wanted ones in each way drift
/// happens, without iptables: the integration tests show the same on a real one.
@Suite struct IPTablesComparisonTests {
    static let yaml = IPTablesRulesTests.yaml + """

        ---
        kind: VirtualMachine
        name: cpro0051
        memory: 1GiB
        vcpus: 1
        interfaces: [{network: private, mac: "00:25:22:bd:d1:33", ip: 10.0.0.51}]
        ---
        kind: FirewallRule
        name: mail
        vm: cpro0051
        protocol: tcp
        source: 0.0.0.0/0
        ports: [25]
        """

    let desired: DesiredState
    let want: IPTablesRules
    /// The live rules as reconcile leaves them.
    let converged: IPTablesRuleset

    init() throws {
        desired = try desiredState(Self.yaml)
        want = IPTablesRules(desired)
        var live = IPTablesRuleset()
        for (table, chains) in want.chains { live.tables[table] = chains.mapValues { $0.map(\.text) } }
        for jump in IPTablesRules.jumps { live.tables[jump.table]?[jump.chain] = [IPTablesRules.jumpRule(jump.target), "-j FOREIGN"] }
        converged = live
    }

    /// The resources that need work, as `~ type[name]: change; change`, sorted.
    func work(inventory: Set<ResourceID> = [], addresses: [String: String] = ["203.0.113.7": "pub0"],
              _ change: (inout IPTablesRuleset) -> Void) -> [String] {
        var live = converged
        change(&live)
        var node = Node.implicitLocal
        node.publicInterface = "pub0"
        let comparison = IPTablesComparison(desired: desired, want: want, live: live,
                                            addresses: .init(interfaces: ["pub0", "old0"], ours: addresses), node: node, inventory: inventory)
        return comparison.resources().filter(\.needsWork).map { resource in
            "\(resource.action?.symbol ?? "!") \(resource.id): " + resource.changes.map(\.description).sorted().joined(separator: "; ")
        }.sorted()
    }

    @Test func convergedRulesNeedNothing() {
        #expect(work { _ in }.isEmpty)
    }

    @Test func aHandRuleInOurChainIsTheChainsChange() {
        #expect(work { $0.tables["filter"]?["RC-VM-cpro0007"]?.insert("-j ACCEPT", at: 0) } == [
            "~ iptables_chain[RC-VM-cpro0007]: - filter/RC-VM-cpro0007: -j ACCEPT",
        ])
    }

    @Test func aMissingRuleIsCreatedAndAFlushedChainRefilled() {
        #expect(work { $0.tables["filter"]?["RC-VM-cpro0051"] = [] } == [
            "+ firewall_rule[mail]: + filter/RC-VM-cpro0051: -p tcp -m tcp --dport 25 -m comment --comment \"rc:rule:mail\" -j ACCEPT",
            "~ iptables_chain[RC-VM-cpro0051]: + filter/RC-VM-cpro0051: -j DROP; + filter/RC-VM-cpro0051: -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        ])
    }

    @Test func aDeletedChainIsCreatedWithItsRules() {
        #expect(work { $0.tables["filter"]?["RC-VM-cpro0051"] = nil } == [
            "+ firewall_rule[mail]: + filter/RC-VM-cpro0051: -p tcp -m tcp --dport 25 -m comment --comment \"rc:rule:mail\" -j ACCEPT",
            "+ iptables_chain[RC-VM-cpro0051]: + filter/RC-VM-cpro0051: -j DROP; + filter/RC-VM-cpro0051: -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        ])
    }

    @Test func chainsAndRulesNoLongerDeclaredAreDeleted() {
        #expect(work(inventory: [ResourceID(IPTablesRules.chainType, "RC-VM-empty")]) { live in
            live.tables["filter"]?["RC-VM-gone"] = ["-m comment --comment \"rc:rule:old\" -j ACCEPT", "-j DROP"]
            live.tables["filter"]?["RC-VM-cpro0051"]?.insert("-m comment --comment \"rc:rule:older\" -j ACCEPT", at: 1)
            live.tables["filter"]?["RC-VM-empty"] = []
        } == [
            "- firewall_rule[old]: - filter/RC-VM-gone: -m comment --comment \"rc:rule:old\" -j ACCEPT",
            "- firewall_rule[older]: - filter/RC-VM-cpro0051: -m comment --comment \"rc:rule:older\" -j ACCEPT",
            "- iptables_chain[RC-VM-empty]: ",
            "- iptables_chain[RC-VM-gone]: - filter/RC-VM-gone: -j DROP",
        ])
    }

    @Test func rulesInAnotherOrderAreTheChainsChange() {
        #expect(work { $0.tables["filter"]?["RC-VM-cpro0007"]?.swapAt(1, 2) } == ["~ iptables_chain[RC-VM-cpro0007]: rule order: changed by hand → as declared"])
    }

    @Test func aPairMissingOneOfItsRulesIsChanged() {
        #expect(work { $0.tables["nat"]?["RC-OUTPUT"] = [] } == [
            "~ nat_pair[cpro0007]: + nat/RC-OUTPUT: -d 203.0.113.7/32 -m comment --comment \"rc:pair:cpro0007\" -j DNAT --to-destination 10.0.0.7",
        ])
    }

    @Test func aRuleMovedToAnotherChainIsChanged() {
        #expect(work { live in
            live.tables["filter"]?["RC-VM-cpro0051"]?.removeAll { $0.contains("rc:rule:mail") }
            live.tables["filter"]?["RC-VM-cpro0007"]?.insert("-p tcp -m tcp --dport 25 -m comment --comment \"rc:rule:mail\" -j ACCEPT", at: 1)
        } == [
            "~ firewall_rule[mail]: + filter/RC-VM-cpro0051: -p tcp -m tcp --dport 25 -m comment --comment \"rc:rule:mail\" -j ACCEPT; "
                + "- filter/RC-VM-cpro0007: -p tcp -m tcp --dport 25 -m comment --comment \"rc:rule:mail\" -j ACCEPT",
        ])
    }

    @Test func aDeletedJumpIsPutBackFirstAndAMovedOneStaysWhereTheOperatorPutIt() {
        #expect(work { live in
            live.tables["filter"]?["FORWARD"]?.reverse()  // a foreign rule above ours: the operator's choice
            live.tables["nat"]?["OUTPUT"] = ["-j FOREIGN"]
        } == [
            "+ iptables_jump[nat/OUTPUT]: jump to RC-OUTPUT: rule 1",
        ])
    }

    @Test func aDoubledJumpIsDrift() {
        #expect(work { $0.tables["filter"]?["FORWARD"]?.append(IPTablesRules.jumpRule("RC-FORWARD")) } == [
            "~ iptables_jump[filter/FORWARD]: jumps to RC-FORWARD: 2 → 1",
        ])
        let restore = RestoreScript(planning: desired, live: {
            var live = converged
            live.tables["filter"]?["FORWARD"] = ["-j FOREIGN", IPTablesRules.jumpRule("RC-FORWARD"), IPTablesRules.jumpRule("RC-FORWARD")]
            return live
        }(), inventory: [])
        #expect(restore.script.lines == [
            "*filter", "-D FORWARD -m comment --comment reconcile -j RC-FORWARD", "-D FORWARD -m comment --comment reconcile -j RC-FORWARD",
            "-I FORWARD 2 -m comment --comment reconcile -j RC-FORWARD", "COMMIT",
        ])
    }

    @Test func aForeignRCChainIsNeverOursToRemove() {
        var live = converged
        live.tables["filter"]?["RC-HANDMADE"] = ["-s 192.0.2.1/32 -j DROP"]
        live.tables["filter"]?["INPUT"] = ["-j RC-HANDMADE"]
        #expect(work { $0 = live }.isEmpty)
        #expect(RestoreScript(planning: desired, live: live, inventory: []).script.isEmpty)
        // One reconcile created (the inventory says so, or its rules carry our tags) is removed.
        let recorded: Set<ResourceID> = [ResourceID(IPTablesRules.chainType, "RC-HANDMADE")]
        #expect(work(inventory: recorded) { $0 = live } == ["- iptables_chain[RC-HANDMADE]: - filter/RC-HANDMADE: -s 192.0.2.1/32 -j DROP"])
        var tagged = converged
        tagged.tables["filter"]?["RC-VM-gone"] = ["-m comment --comment \"rc:rule:old\" -j ACCEPT"]
        #expect(work { $0 = tagged } == ["- firewall_rule[old]: - filter/RC-VM-gone: -m comment --comment \"rc:rule:old\" -j ACCEPT"])
    }

    @Test func aForeignChainHoldingAWantedNameIsAConflict() {
        var live = converged
        live.tables["filter"]?["RC-VM-cpro0051"] = ["-j ACCEPT"]
        live.tables["filter"]?["RC-FORWARD"]?.removeAll { $0.contains("rc:vm:cpro0051") }
        var node = Node.implicitLocal
        node.publicInterface = "pub0"
        let chain = IPTablesComparison(desired: desired, want: want, live: live, addresses: .init(interfaces: ["pub0"], ours: ["203.0.113.7": "pub0"]),
                                       node: node, inventory: []).resources().first { $0.id == ResourceID(IPTablesRules.chainType, "RC-VM-cpro0051") }
        #expect(chain?.conflict == "chain RC-VM-cpro0051 exists in the filter table and was not created by reconcile; rename or remove it")
    }

    @Test func nothingDeclaredWantsNoScaffoldingAndRemovesOurs() throws {
        let empty = try desiredState("kind: Network\nname: private\ncidr: 10.0.0.0/24\nbridge: br0\n")
        let none = IPTablesRules(empty)
        #expect(none.chains.isEmpty)
        var node = Node.implicitLocal
        node.publicInterface = "pub0"
        // On a machine without our chains: nothing at all.
        let fresh = IPTablesComparison(desired: empty, want: none, live: IPTablesRuleset(), addresses: .init(interfaces: ["pub0"]),
                                       node: node, inventory: [])
        #expect(fresh.resources().isEmpty)
        // Where they were (all declared objects gone, pruning allowed): jumps out, then chains.
        var live = converged
        for chain in ["RC-VM-cpro0007", "RC-VM-cpro0051"] { live.tables["filter"]?[chain] = nil }
        live.tables["filter"]?["RC-FORWARD"] = []
        for chain in ["RC-PREROUTING", "RC-OUTPUT", "RC-POSTROUTING"] { live.tables["nat"]?[chain] = [] }
        let inventory = Set(["RC-FORWARD", "RC-PREROUTING", "RC-OUTPUT", "RC-POSTROUTING"].map { ResourceID(IPTablesRules.chainType, $0) })
        let restore = RestoreScript(planning: empty, live: live, inventory: inventory)
        #expect(restore.script.lines == [
            "*filter", ":RC-FORWARD - [0:0]", "-D FORWARD -m comment --comment reconcile -j RC-FORWARD", "-X RC-FORWARD", "COMMIT",
            "*nat", ":RC-OUTPUT - [0:0]", ":RC-POSTROUTING - [0:0]", ":RC-PREROUTING - [0:0]",
            "-D PREROUTING -m comment --comment reconcile -j RC-PREROUTING", "-D OUTPUT -m comment --comment reconcile -j RC-OUTPUT",
            "-D POSTROUTING -m comment --comment reconcile -j RC-POSTROUTING",
            "-X RC-OUTPUT", "-X RC-POSTROUTING", "-X RC-PREROUTING", "COMMIT",
        ])
    }

    @Test func aRemovedPairSaysWhatGoes() throws {
        let pair = "kind: IPPair\nname: cpro0007\nvm: cpro0007\npublic: 203.0.113.7\nprivate: 10.0.0.7\n---\n"
        let withoutPair = try desiredState(Self.yaml.replacingOccurrences(of: pair, with: ""))
        var node = Node.implicitLocal
        node.publicInterface = "pub0"
        let comparison = IPTablesComparison(desired: withoutPair, want: IPTablesRules(withoutPair), live: converged,
                                            addresses: .init(interfaces: ["pub0"], ours: ["203.0.113.7": "pub0"]), node: node, inventory: [])
        let removal = try #require(comparison.resources().first { $0.id == ResourceID(IPTablesRules.pairType, "cpro0007") })
        #expect(removal.action == .delete)
        #expect(removal.changes.map(\.description) == [
            "- nat/RC-OUTPUT: -d 203.0.113.7/32 -m comment --comment \"rc:pair:cpro0007\" -j DNAT --to-destination 10.0.0.7",
            "- nat/RC-POSTROUTING: -s 10.0.0.7/32 -m comment --comment \"rc:pair:cpro0007\" -j SNAT --to-source 203.0.113.7",
            "- nat/RC-PREROUTING: -d 203.0.113.7/32 -m comment --comment \"rc:pair:cpro0007\" -j DNAT --to-destination 10.0.0.7",
            "address: 203.0.113.7 on pub0 → (none)",
        ])
    }

    @Test func ourAddressesLeftOnAnOldPublicInterfaceAreRemoved() {
        #expect(work(addresses: ["203.0.113.7": "old0"]) { _ in } == [
            "- public_address[203.0.113.7 on old0]: address: 203.0.113.7 on old0 → (none)",
            "~ nat_pair[cpro0007]: address: 203.0.113.7 on pub0",
        ])
    }
}

extension RestoreScript {
    /// What converge runs for a plan of `desired` against `live`: the steps of every resource to change.
    init(planning desired: DesiredState, live: IPTablesRuleset, inventory: Set<ResourceID>) {
        var node = Node.implicitLocal
        node.publicInterface = "pub0"
        let comparison = IPTablesComparison(desired: desired, want: IPTablesRules(desired), live: live,
                                            addresses: .init(interfaces: ["pub0"], ours: Dictionary(uniqueKeysWithValues: desired.ipPairs.map { ($0.publicIP.description, "pub0") })),
                                            node: node, inventory: inventory)
        self.init(comparison.resources().filter { $0.action != nil && $0.conflict == nil })
    }
}
