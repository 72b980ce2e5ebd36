import Basics
import DesiredState
import Engine

/// Compares the wanted rules with `iptables-save`'s, resource by resource.
///
/// A chain whose live rules are the wanted ones, in order, has nothing to change: only the
/// chains that differ are compared rule by rule, so a no-op run at 77,000 rules compares
/// 7,000 chains.
struct IPTablesComparison {
    let desired: DesiredState
    let want: IPTablesRules
    let live: IPTablesRuleset
    /// What both backends compare the same way, and the node's addresses.
    let shared: NetfilterComparison
    /// Which live RC-* chains are ours.
    let ownership: ChainOwnership

    var node: Node { shared.node }
    var retiring: Bool { shared.retiring }

    init(desired: DesiredState, want: IPTablesRules, live: IPTablesRuleset, addresses: PublicAddresses,
         node: Node, inventory: Set<ResourceID>, retiring: Bool = false) {
        self.desired = desired
        self.want = want
        self.live = live
        shared = NetfilterComparison(desired: desired, addresses: addresses, node: node, retiring: retiring)
        ownership = ChainOwnership(live: live, inventory: inventory)
    }

    /// One rule in its chain.
    typealias Line = NetfilterLine<Chain>

    struct Chain: NetfilterPlace {
        var table: String
        var name: String

        var key: String { "\(table)/\(name)" }
        var label: String { key }

        static func < (first: Chain, second: Chain) -> Bool { (first.table, first.name) < (second.table, second.name) }
    }

    /// The wanted chains whose live rules differ, and the live RC-* chains no longer wanted.
    var differingChains: Set<Chain> {
        var chains: Set<Chain> = []
        for (table, wanted) in want.chains {
            for (chain, rules) in wanted where !IPTablesRules.same(live.rules(table, chain), rules) {
                chains.insert(Chain(table: table, name: chain))
            }
        }
        for (table, liveChains) in live.tables {
            for chain in liveChains.keys where chain.hasPrefix("RC-") && want.chains[table]?[chain] == nil && ownership.owns(table, chain) {
                chains.insert(Chain(table: table, name: chain))
            }
        }
        return chains
    }

    /// The live rules of the differing chains, grouped by the resource they belong to.
    private func liveByOwner(in chains: Set<Chain>) -> [ResourceID: [Line]] {
        var owners: [ResourceID: [Line]] = [:]
        // In a fixed order: the plan lists each resource's rule changes in the order found.
        for chain in chains.sorted() {
            guard let rules = live.rules(chain.table, chain.name) else { continue }
            for rule in rules { owners[Self.owner(of: rule, chain: chain.name), default: []].append(Line(place: chain, text: rule)) }
            // An empty chain is still its own resource's to fill or remove.
            if rules.isEmpty { owners[ResourceID(IPTablesRules.chainType, chain.name), default: []] += [] }
        }
        return owners
    }

    /// Who a live rule belongs to: its tag, or the chain it is in.
    static func owner(of rule: String, chain: String) -> ResourceID {
        IPTablesRuleset.tag(of: rule).flatMap(ReconcileTag.init)?.owner(IPTablesRules.owners) ?? ResourceID(IPTablesRules.chainType, chain)
    }

    func resources() -> [Resource] {
        let differing = differingChains
        var wanted: [ResourceID: NetfilterWanted<Chain>] = [:]
        wanted.reserveCapacity(want.chains.values.reduce(0) { $0 + $1.count } + desired.firewallRules.count + desired.ipPairs.count)
        for table in want.chains.keys.sorted() {
            let chains = want.chains[table] ?? [:]
            for chain in chains.keys.sorted() {
                let place = Chain(table: table, name: chain)
                let differs = differing.contains(place)
                let chainID = ResourceID(IPTablesRules.chainType, chain)
                if wanted[chainID] == nil { wanted[chainID] = NetfilterWanted() }
                for rule in chains[chain] ?? [] { wanted[rule.owner, default: NetfilterWanted()].note(rule.text, in: place, differs: differs, source: rule.source) }
            }
        }
        let current = differing.isEmpty ? [:] : liveByOwner(in: differing)
        let backend = Backend(comparison: self, steps: IPTablesSteps(comparison: self, differing: differing), differing: differing)
        var resources = shared.resources(backend, wanted: wanted, current: current)
        for jump in IPTablesRules.jumps {
            guard var resource = jumpResource(jump) else { continue }
            backend.steps.attach(to: &resource, jump: jump)
            resources.append(resource)
        }
        return resources
    }

    /// iptables' side of the shared comparison.
    struct Backend: NetfilterBackend {
        let comparison: IPTablesComparison
        let steps: IPTablesSteps
        let differing: Set<Chain>

        var owners: ReconcileTag.Owners { IPTablesRules.owners }
        func chainExists(_ name: String) -> Bool { comparison.live.tables.values.contains { $0[name] != nil } }

        func conflict(_ id: ResourceID) -> String? {
            guard id.type == IPTablesRules.chainType, let table = IPTablesRules.tables.first(where: { comparison.want.chains[$0]?[id.name] != nil }),
                  comparison.ownership.isForeign(table, id.name) else { return nil }
            return "chain \(id.name) exists in the \(table) table and was not created by reconcile; rename or remove it"
        }

        /// Whether a chain that differs holds rules it should hold in another order. Rules
        /// missing or extra are other resources' changes, not an order problem.
        func orderChanged(_ id: ResourceID) -> Bool {
            for (table, chains) in comparison.want.chains where differing.contains(Chain(table: table, name: id.name)) {
                guard let wanted = chains[id.name]?.map(\.text) else { continue }
                let current = comparison.live.rules(table, id.name) ?? []
                let common = Set(current).intersection(wanted)
                return current.filter(common.contains) != wanted.filter(common.contains)
            }
            return false
        }

        func isDeclaredObject(_ id: ResourceID) -> Bool { !IPTablesRules.isScaffolding(id) }
        func dnat(_ lines: [Line]) -> [(public: String, private: String)] { IPTablesComparison.dnat(lines) }

        func attach(to resource: inout Resource, wanted: NetfilterWanted<Chain>, live: [Line]) {
            steps.attach(to: &resource, chains: wanted.places, live: live)
        }
    }

    /// The DNAT rules among `lines` (in the dispatch of nat/PREROUTING): `-d PUBLIC/32 … -j DNAT --to-destination PRIVATE`.
    static func dnat(_ lines: [Line]) -> [(public: String, private: String)] {
        lines.compactMap { line in
            guard line.place.table == "nat", DispatchTree.prerouting.holds(line.place.name), line.text.contains(" -j DNAT "),
                  let address = destination(line) else { return nil }
            let words = line.text.split(separator: " ").map(String.init)
            guard let to = words.firstIndex(of: "--to-destination"), to + 1 < words.count else { return nil }
            return (address, words[to + 1])
        }
    }

    private func jumpResource(_ jump: (table: String, chain: String, target: String)) -> Resource? {
        let id = ResourceID(IPTablesRules.jumpType, "\(jump.table)/\(jump.chain)")
        let rules = live.rules(jump.table, jump.chain) ?? []
        let copies = rules.filter { $0 == IPTablesRules.jumpRule(jump.target) }.count
        guard want.wantsJump(to: jump.target) else {
            return copies == 0 ? nil : Resource(id, action: .delete, changes: [PropertyChange("jump to \(jump.target)", from: "\(copies)", to: nil)],
                                                isInventoried: false)
        }
        if IPTablesRules.jumpPosition(jump, in: live) != nil { return Resource(id, action: nil, isInventoried: false) }
        guard copies > 1 else {
            return Resource(id, action: .create, changes: [PropertyChange("jump to \(jump.target)", from: nil, to: "rule 1")], isInventoried: false)
        }
        return Resource(id, action: .update, changes: [PropertyChange("jumps to \(jump.target)", from: "\(copies)", to: "1")], isInventoried: false)
    }

    /// The address a DNAT rule matches (`-d 203.0.113.7/32 …`).
    static func destination(_ line: Line) -> String? {
        let words = line.text.split(separator: " ")
        guard let d = words.firstIndex(of: "-d"), d + 1 < words.count else { return nil }
        return words[d + 1].split(separator: "/").first.map(String.init)
    }
}
