import Basics
import Engine

/// The exact work each firewall resource needs, decided in the plan: the restore lines of
/// every chain it changes (the whole chain, as `iptables-restore --noflush` rewrites it), its
/// jump lines, its `ip` address lines and the tracked connections to forget; and the
/// fingerprint of the live chains and addresses it was compared with.
struct IPTablesSteps {
    typealias Chain = IPTablesComparison.Chain

    let comparison: IPTablesComparison
    let differing: Set<Chain>
    /// Per chain, computed once (the digests on every core): many resources share a chain (`RC-FORWARD`).
    private let digests: [Chain: String]
    private let chainSteps: [Chain: Step]

    init(comparison: IPTablesComparison, differing: Set<Chain>) {
        self.comparison = comparison
        self.differing = differing
        var chains: Set<Chain> = []
        for (table, wanted) in comparison.want.chains { for chain in wanted.keys { chains.insert(Chain(table: table, name: chain)) } }
        for (table, live) in comparison.live.tables { for chain in live.keys { chains.insert(Chain(table: table, name: chain)) } }
        let all = Array(chains)
        digests = Dictionary(uniqueKeysWithValues: zip(all, all.concurrentMap { Self.digest($0, comparison) }))
        chainSteps = Dictionary(uniqueKeysWithValues: differing.compactMap { chain in Self.chainStep(chain, comparison).map { (chain, $0) } })
    }

    /// A rule, pair or chain resource: `chains` are those it has wanted rules in, `live` its
    /// live rules in the chains that differ.
    func attach(to resource: inout Resource, chains: [Chain], live: [IPTablesComparison.Line]) {
        var touched = Set(chains)
        for line in live { touched.insert(Chain(table: line.table, name: line.chain)) }
        if resource.id.type == IPTablesRules.chainType {
            for table in IPTablesRules.tables
            where comparison.want.chains[table]?[resource.id.name] != nil || comparison.live.rules(table, resource.id.name) != nil {
                touched.insert(Chain(table: table, name: resource.id.name))
            }
        }
        let ordered = touched.sorted { ($0.table, $0.name) < ($1.table, $1.name) }
        // Each chain's digest is hashed once; a resource's fingerprint only names them.
        var fingerprint = ordered.map { "\($0.key)=\(digest($0))" }.joined(separator: ";")
        let pair = resource.id.type == IPTablesRules.pairType ? comparison.pairs[resource.id.name] : nil
        if let pair { fingerprint += ";" + addressState(pair.publicIP.description) }
        resource.fingerprint = fingerprint
        guard resource.action != nil, resource.conflict == nil else { return }
        resource.steps = ordered.compactMap { chainSteps[$0] }
        guard resource.id.type == IPTablesRules.pairType, !comparison.retiring, let interface = comparison.node.publicInterface,
              let action = resource.action else { return }
        let dnat = live.compactMap { line -> (public: String, private: String)? in
            guard line.table == "nat", DispatchTree.prerouting.holds(line.chain), line.rule.contains(" -j DNAT "),
                  let address = IPTablesComparison.destination(line) else { return nil }
            let words = line.rule.split(separator: " ").map(String.init)
            guard let to = words.firstIndex(of: "--to-destination"), to + 1 < words.count else { return nil }
            return (address, words[to + 1])
        }
        resource.steps += PublicAddresses.pairSteps(wanted: pair, action: action, liveDNAT: dnat, interface: interface,
                                                    present: comparison.presentAddresses, ours: comparison.addresses)
    }

    /// A labelled address no pair wants.
    func attachAddressRemoval(to resource: inout Resource, address: String, interface: String) {
        resource.fingerprint = Fingerprint.of([address, interface, addressState(address)])
        resource.steps = [PublicAddresses.removal(address, on: interface)]
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

    private func addressState(_ address: String) -> String {
        guard let addresses = comparison.addresses else { return "no public interface" }
        return addresses.contains(address) ? "on \(comparison.node.publicInterface ?? "")" : "absent"
    }

    private func digest(_ chain: Chain) -> String { digests[chain] ?? Self.digest(chain, comparison) }

    private static func digest(_ chain: Chain, _ comparison: IPTablesComparison) -> String {
        Fingerprint.of(comparison.live.rules(chain.table, chain.name) ?? ["(absent)"])
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
