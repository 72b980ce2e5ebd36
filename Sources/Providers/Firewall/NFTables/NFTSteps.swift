import Engine

/// The exact work each nftables resource needs, decided in the plan: the whole of each VM
/// chain it changes, its map elements to add or delete, the table's own declaration, its
/// public address and the connections to forget; and the fingerprint of the live containers
/// it was compared with. ``NFTScript`` turns a batch's steps into one `nft -f` transaction.
struct NFTSteps {
    typealias Container = NFTComparison.Container

    let comparison: NFTComparison
    let differing: Set<Container>
    private let digests: LiveDigests<Container>
    /// Each differing VM chain's step, made once: its rule resources and its chain resource share it.
    private let chainSteps: [String: Step]

    init(comparison: NFTComparison, differing: Set<Container>) {
        self.comparison = comparison
        self.differing = differing
        var chains = Set(comparison.want.chains.keys)
        chains.formUnion(comparison.live?.chains.keys ?? [String: NFTRuleset.Chain]().keys)
        // A map's elements sorted: nft prints them in hash order.
        digests = LiveDigests(chains.map(Container.chain) + NFTRules.maps.map { Container.map($0.name) }) { container in
            if case .map = container { comparison.liveLines(container)?.sorted() } else { comparison.liveLines(container) }
        }
        var chainSteps: [String: Step] = [:]
        for case .chain(let chain) in differing { chainSteps[chain] = Self.chainStep(chain, comparison) }
        self.chainSteps = chainSteps
    }

    /// `wanted` are its wanted lines in the containers that differ, `live` its live ones there.
    func attach(to resource: inout Resource, containers: [Container], wanted: [NFTComparison.Line], live: [NFTComparison.Line]) {
        var touched = containers
        for line in live where !touched.contains(line.place) { touched.append(line.place) }
        if resource.id.type == NFTRules.chainType, !touched.contains(.chain(resource.id.name)) { touched.append(.chain(resource.id.name)) }
        let ordered = touched.sorted()
        resource.fingerprint = comparison.shared.fingerprint(resource.id, places: ordered, digests: digests, pairType: NFTRules.pairType)
        guard resource.action != nil, resource.conflict == nil else { return }
        if !comparison.wantsTable {
            // The table goes whole: that one step removes every chain and element in it.
            resource.steps = [.nftables(.deleteTable(table: NFTRules.table))]
            return
        }
        var steps: [Step] = []
        for container in ordered where differing.contains(container) {
            guard case .chain(let chain) = container else { continue }
            steps.append(chainStep(chain))
        }
        // Elements: those only live go, those only wanted come (a changed one does both).
        for line in live {
            guard case .map(let map) = line.place, !wanted.contains(line) else { continue }
            steps.append(.nftables(.deleteElement(map: map, key: NFTRules.key(of: line.text))))
        }
        for line in wanted where !live.contains(line) {
            guard case .map(let map) = line.place else { continue }
            steps.append(.nftables(.addElement(map: map, key: NFTRules.key(of: line.text), element: line.text)))
        }
        if resource.id.type == NFTRules.pairType, !comparison.retiring, let interface = comparison.node.publicInterface, let action = resource.action {
            steps += PublicAddresses.pairSteps(wanted: comparison.shared.pairs[resource.id.name], action: action, liveDNAT: NFTComparison.dnat(live), interface: interface,
                                               present: comparison.shared.presentAddresses, ours: comparison.shared.addresses)
        }
        resource.steps = steps
    }

    /// The table: declared whole (`add` of what exists is a no-op; base chains are flushed and
    /// refilled), or deleted whole.
    /// `live` are the table's own live lines: map elements nobody declared.
    func attachTable(to resource: inout Resource, live: [NFTComparison.Line]) {
        var parts: [String] = []
        for chain in NFTRules.baseChains {
            let live = comparison.live?.chains[chain.name]
            parts += [chain.name, live.map { ($0.header ?? "") + "\n" + $0.rules.joined(separator: "\n") } ?? "(absent)"]
        }
        for map in NFTRules.maps { parts += [map.name, comparison.live?.maps[map.name]?.type ?? "(absent)", digests[.map(map.name)]] }
        resource.fingerprint = Fingerprint.of(parts)
        guard let action = resource.action, resource.conflict == nil else { return }
        guard action != .delete else {
            resource.steps = [.nftables(.deleteTable(table: NFTRules.table))]
            return
        }
        var lines = ["add table \(NFTRules.table)"]
        lines += NFTRules.maps.map { "add map \(NFTRules.table) \($0.name) { type \($0.type); }" }
        for chain in NFTRules.baseChains {
            lines += ["add chain \(NFTRules.table) \(chain.name) { \(chain.header) }", "flush chain \(NFTRules.table) \(chain.name)",
                      "add rule \(NFTRules.table) \(chain.name) \(chain.rule)"]
        }
        var steps: [Step] = [.nftables(.writeTable(table: NFTRules.table, lines: lines))]
        // Elements nobody declared (added by hand) go.
        for line in live {
            guard case .map(let map) = line.place else { continue }
            steps.append(.nftables(.deleteElement(map: map, key: NFTRules.key(of: line.text))))
        }
        resource.steps = steps
    }

    private func chainStep(_ chain: String) -> Step { chainSteps[chain] ?? Self.chainStep(chain, comparison) }

    /// The chain rewritten whole, or deleted when no longer wanted.
    private static func chainStep(_ chain: String, _ comparison: NFTComparison) -> Step {
        comparison.want.chains[chain] == nil
            ? .nftables(.deleteChain(chain: chain))
            : .nftables(.writeChain(chain: chain, rules: comparison.wantedLines(.chain(chain)).map(\.text)))
    }

}
