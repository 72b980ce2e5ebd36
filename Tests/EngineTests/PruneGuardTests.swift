import Engine
import Testing

/// The guard counts what users declare, and refuses deleting what the inventory never knew.
@Suite struct PruneGuardTests {
    let rules = (0..<3).map { ResourceID("firewall_rule", "r\($0)") }
    /// Shared chains and include lines: present on every node, declared by nobody.
    let scaffolding = ["RC-FORWARD", "RC-PREROUTING", "RC-OUTPUT", "RC-POSTROUTING"].map { ResourceID("iptables_chain", $0) }

    func plan(deleting deleted: [ResourceID], keeping kept: [ResourceID]) -> Plan {
        Plan(deleted.map { Resource($0, action: .delete) } + kept.map { Resource($0, action: nil) }
             + scaffolding.map { Resource($0, action: nil, isDeclaredObject: false) })
    }

    @Test func removingEveryDeclaredObjectNeedsAllowPruneWhateverTheScaffolding() {
        let refusal = PruneGuard().refusal(plan(deleting: rules, keeping: []), inventory: Set(rules + scaffolding))
        #expect(refusal == "refusing to delete all 3 declared objects of this node (VMs, pairs, rules, reservations) without --allow-prune")
        #expect(PruneGuard(allowPrune: true).refusal(plan(deleting: rules, keeping: []), inventory: []) == nil)
    }

    @Test func theShareIsOverDeclaredObjects() {
        let kept = (0..<2).map { ResourceID("nat_pair", "p\($0)") }
        // 2 of 4 declared objects is at the limit; the 4 scaffolding chains do not dilute it.
        #expect(PruneGuard().refusal(plan(deleting: Array(rules.prefix(2)), keeping: kept), inventory: Set(rules)) == nil)
        #expect(PruneGuard().refusal(plan(deleting: rules, keeping: kept), inventory: Set(rules))
                == "refusing to delete 3 of 5 declared objects of this node (more than 50%) without --allow-prune")
    }

    @Test func deletingWhatTheInventoryDoesNotListIsRefused() {
        let kept = (0..<10).map { ResourceID("nat_pair", "p\($0)") }
        let refusal = PruneGuard().refusal(plan(deleting: [rules[0]], keeping: kept), inventory: Set(kept))
        #expect(refusal == "refusing to delete 1 objects this state directory's inventory does not list (firewall_rule[r0]) without --allow-prune; is --state-dir the one that manages this node?")
    }
}

/// How the inventory stores an id, and reads it back.
@Suite struct ResourceIDTextTests {
    @Test func anIdReadsBackFromItsText() {
        for id in [ResourceID("nft_rule", "web"), ResourceID("dns_record", "a.example.test. A"), ResourceID("volume", "pool/v[1]"), ResourceID("x", "")] {
            #expect(ResourceID(parsing: id.description) == id)
        }
        for text in ["", "]", "nft_rule", "nft_rule[web", "nft_rule]web["] { #expect(ResourceID(parsing: text) == nil) }
    }
}
