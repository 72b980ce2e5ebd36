import Basics
import Engine

/// The exact work each firewall resource needs, decided in the plan: the restore lines of
/// every chain it changes (the whole chain, as `iptables-restore --noflush` rewrites it), its
/// jump lines, its `ip` address lines and the tracked connections to forget; and the
/// fingerprint of the live chains and addresses it was compared with.
struct IPTablesSteps {
    typealias Chain = IPTablesComparison.Chain

    let comparison: IPTablesComparison
    private let digests: LiveDigests<Chain>
    /// Each differing chain's step, made once: many resources share a chain (`RC-FORWARD`).
    private let chainSteps: [Chain: Step]

    init(comparison: IPTablesComparison, differing: Set<Chain>) {
        self.comparison = comparison
        var chains: Set<Chain> = []
        for (table, wanted) in comparison.want.chains { for chain in wanted.keys { chains.insert(Chain(table: table, name: chain)) } }
        for (table, live) in comparison.live.tables { for chain in live.keys { chains.insert(Chain(table: table, name: chain)) } }
        let live = comparison.live
        digests = LiveDigests(Array(chains)) { live.rules($0.table, $0.name) }
        chainSteps = Dictionary(uniqueKeysWithValues: differing.compactMap { chain in Self.chainStep(chain, comparison).map { (chain, $0) } })
    }

    /// A rule, pair or chain resource: `chains` are those it has wanted rules in, `live` its
    /// live rules in the chains that differ.
    func attach(to resource: inout Resource, chains: [Chain], live: [IPTablesComparison.Line]) {
        var touched = Set(chains)
        for line in live { touched.insert(line.place) }
        if resource.id.type == IPTablesRules.chainType {
            for table in IPTablesRules.tables
            where comparison.want.chains[table]?[resource.id.name] != nil || comparison.live.rules(table, resource.id.name) != nil {
                touched.insert(Chain(table: table, name: resource.id.name))
            }
        }
        let ordered = touched.sorted()
        resource.fingerprint = comparison.shared.fingerprint(resource.id, places: ordered, digests: digests, pairType: IPTablesRules.pairType)
        guard resource.action != nil, resource.conflict == nil else { return }
        resource.steps = ordered.compactMap { chainSteps[$0] }
        guard resource.id.type == IPTablesRules.pairType, !comparison.retiring, let interface = comparison.node.publicInterface,
              let action = resource.action else { return }
        resource.steps += PublicAddresses.pairSteps(wanted: comparison.shared.pairs[resource.id.name], action: action, liveDNAT: IPTablesComparison.dnat(live), interface: interface,
                                                    present: comparison.shared.presentAddresses, ours: comparison.shared.addresses)
    }

    /// The jump from a built-in chain: its copies and place are the live state it was planned from.
    func attach(to resource: inout Resource, jump: (table: String, chain: String, target: String)) {
        let rule = IPTablesRules.jumpRule(jump.target)
        let rules = comparison.live.rules(jump.table, jump.chain) ?? []
        let copies = rules.indices.filter { rules[$0] == rule }
        resource.fingerprint = Fingerprint.of(copies.map(String.init))
        guard resource.action != nil else { return }
        // Duplicates go; the first copy's place is kept (at the top when there is none).
        var lines = copies.map { _ in "-D \(jump.chain) \(rule)" }
        if comparison.want.wantsJump(to: jump.target) { lines.append("-I \(jump.chain) \((copies.first ?? 0) + 1) \(rule)") }
        resource.steps = [.iptables(.jump(table: jump.table, chain: jump.chain, lines: lines))]
    }

    /// The whole chain as wanted, or its removal; nil for a chain that is someone else's.
    private static func chainStep(_ chain: Chain, _ comparison: IPTablesComparison) -> Step? {
        if let rules = comparison.want.chains[chain.table]?[chain.name] {
            return comparison.ownership.isForeign(chain.table, chain.name) ? nil
                : .iptables(.chain(table: chain.table, chain: chain.name, lines: rules.map { "-A \(chain.name) \($0.text)" }))
        }
        return chain.name.hasPrefix("RC-") && comparison.ownership.owns(chain.table, chain.name)
            ? .iptables(.removeChain(table: chain.table, chain: chain.name)) : nil
    }
}
