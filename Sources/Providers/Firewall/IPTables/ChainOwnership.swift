import Engine

/// Which live `RC-*` chains are reconcile's: those its inventory records, and those its
/// marks point to (a rule inside tagged as reconcile tags them (``ReconcileTag``), or a tagged rule of ours jumping to it).
/// Any other chain is someone else's, whatever its name: never flushed, never deleted
/// (a hand-made `RC-HANDMADE` was once deleted as "no longer declared").
struct ChainOwnership {
    let live: IPTablesRuleset
    let inventory: Set<ResourceID>
    /// Chains a rule of ours jumps to: reconcile's jumps from the built-in chains and the
    /// tagged rules of the dispatch trees (``DispatchTree``).
    private let targets: Set<String>

    init(live: IPTablesRuleset, inventory: Set<ResourceID>) {
        self.live = live
        self.inventory = inventory
        var targets: Set<String> = []
        for jump in IPTablesRules.jumps where live.rules(jump.table, jump.chain)?.contains(IPTablesRules.jumpRule(jump.target)) == true {
            targets.insert(jump.target)
        }
        for (table, chains) in live.tables where IPTablesRules.tables.contains(table) {
            for (chain, rules) in chains where DispatchTree.all.contains(where: { $0.holds(chain) }) {
                for rule in rules where ReconcileTag.isOurs(IPTablesRuleset.tag(of: rule)) {
                    if let target = IPTablesRuleset.jumpTarget(of: rule) { targets.insert(target) }
                }
            }
        }
        self.targets = targets
    }

    func owns(_ table: String, _ chain: String) -> Bool {
        inventory.contains(ResourceID(IPTablesRules.chainType, chain)) || targets.contains(chain)
            || (live.rules(table, chain) ?? []).contains { ReconcileTag.isOurs(IPTablesRuleset.tag(of: $0)) }
    }

    /// Whether `chain` exists in `table` and is someone else's.
    func isForeign(_ table: String, _ chain: String) -> Bool {
        live.rules(table, chain) != nil && !owns(table, chain)
    }
}
