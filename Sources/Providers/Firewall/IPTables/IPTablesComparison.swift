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
    /// Our labelled public addresses; nil when the public interface does not exist.
    let addresses: Set<String>?
    /// Every address on the public interface, ours or not (a pair needs its own added only when it is not there).
    let presentAddresses: Set<String>?
    let node: Node
    /// Which live RC-* chains are ours.
    let ownership: ChainOwnership
    /// Our labelled addresses on other interfaces than the public one (it changed): to remove.
    let strayAddresses: [String: String]
    let pairs: [String: IPPair]
    /// Only the removal of our chains and jumps (see ``IPTablesProvider/retiring``).
    let retiring: Bool

    init(desired: DesiredState, want: IPTablesRules, live: IPTablesRuleset, addresses: PublicAddresses,
         node: Node, inventory: Set<ResourceID>, retiring: Bool = false) {
        self.retiring = retiring
        self.desired = desired
        self.want = want
        self.live = live
        self.addresses = node.publicInterface.flatMap(addresses.on) ?? (node.publicInterface == nil ? [] : nil)
        presentAddresses = node.publicInterface.flatMap(addresses.present) ?? (node.publicInterface == nil ? [] : nil)
        strayAddresses = addresses.ours.filter { $0.value != node.publicInterface }
        self.node = node
        ownership = ChainOwnership(live: live, inventory: inventory)
        pairs = Dictionary(desired.ipPairs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// One rule where it sits. Compared as it is; its text (`table/chain: rule`) is made only
    /// for the rules that differ.
    struct Line: Equatable {
        var table: String
        var chain: String
        var rule: String

        var text: String { "\(table)/\(chain): \(rule)" }
    }

    struct Chain: Hashable {
        var table: String
        var name: String

        var key: String { "\(table)/\(name)" }
    }

    /// One wanted resource: where it is declared, its rules in the chains that differ, and
    /// whether it has rules in chains that are as wanted (and so exists).
    private struct Wanted {
        var source: SourceLocation?
        var lines: [Line] = []
        var inMatchingChain = false
        /// Every chain it has rules in, differing or not.
        var chains: [Chain] = []

        mutating func add(_ rule: IPTablesRules.Rule, differs: Bool) {
            if source == nil { source = rule.source }
            if chains.last != Chain(table: rule.table, name: rule.chain) { chains.append(Chain(table: rule.table, name: rule.chain)) }
            if differs { lines.append(Line(table: rule.table, chain: rule.chain, rule: rule.text)) } else { inMatchingChain = true }
        }
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
        for chain in chains.sorted(by: { ($0.table, $0.name) < ($1.table, $1.name) }) {
            guard let rules = live.rules(chain.table, chain.name) else { continue }
            for rule in rules {
                owners[Self.owner(of: rule, chain: chain.name), default: []].append(Line(table: chain.table, chain: chain.name, rule: rule))
            }
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
        var wanted: [ResourceID: Wanted] = [:]
        wanted.reserveCapacity(want.chains.values.reduce(0) { $0 + $1.count } + desired.firewallRules.count + desired.ipPairs.count)
        for table in want.chains.keys.sorted() {
            let chains = want.chains[table] ?? [:]
            for chain in chains.keys.sorted() {
                let rules = chains[chain] ?? []
                let differs = differing.contains(Chain(table: table, name: chain))
                let chainID = ResourceID(IPTablesRules.chainType, chain)
                if wanted[chainID] == nil { wanted[chainID] = Wanted() }
                for rule in rules { wanted[rule.owner, default: Wanted()].add(rule, differs: differs) }
            }
        }
        let current = differing.isEmpty ? [:] : liveByOwner(in: differing)
        let steps = IPTablesSteps(comparison: self, differing: differing)

        // In no particular order (the plan orders resources itself), on every core.
        var resources = Array(wanted).concurrentMap { [current] id, entry in
            let exists = id.type == IPTablesRules.chainType
                ? live.tables.values.contains { $0[id.name] != nil }
                : entry.inMatchingChain || current[id] != nil
            var changes = Self.diff(from: current[id] ?? [], to: entry.lines)
            var conflict: String?
            if id.type == IPTablesRules.chainType, let table = IPTablesRules.tables.first(where: { want.chains[$0]?[id.name] != nil }),
               ownership.isForeign(table, id.name) {
                conflict = "chain \(id.name) exists in the \(table) table and was not created by reconcile; rename or remove it"
            }
            if id.type == IPTablesRules.pairType, let pair = pairs[id.name] {
                switch PublicAddresses.placement(of: pair, on: node, ours: presentAddresses) {
                case .conflict(let why): conflict = why
                case .missing(let change): changes.append(change)
                case .present: break
                }
            }
            if id.type == IPTablesRules.chainType, changes.isEmpty, exists, orderDiffers(chain: id.name, among: differing) {
                changes.append(PropertyChange("rule order", from: "changed by hand", to: "as declared"))
            }
            let action: Resource.Action? = !exists ? .create : changes.isEmpty ? nil : .update
            var resource = Resource(id, action: action, changes: changes, summary: summary(id),
                                    conflict: action == nil ? nil : conflict, isDeclaredObject: !IPTablesRules.isScaffolding(id), source: entry.source)
            steps.attach(to: &resource, chains: entry.chains, live: current[id] ?? [])
            return resource
        }
        for id in current.keys.filter({ wanted[$0] == nil }).sorted() {
            // A removal says what goes: its rules, and a pair's public address.
            var changes = Self.diff(from: current[id] ?? [], to: [])
            if id.type == IPTablesRules.pairType, !retiring, let interface = node.publicInterface,
               let address = current[id]?.lazy.compactMap(Self.destination).first, addresses?.contains(address) == true {
                changes.append(PropertyChange("address", from: "\(address) on \(interface)", to: nil))
            }
            // Retiring, the objects move to the other backend: nothing declared is removed.
            var resource = Resource(id, action: .delete, changes: changes, isDeclaredObject: !IPTablesRules.isScaffolding(id) && !retiring)
            steps.attach(to: &resource, chains: [], live: current[id] ?? [])
            resources.append(resource)
        }
        // Our labelled addresses that no pair wants and no removed pair takes away.
        for address in retiring ? [] : orphanAddresses(removed: resources.filter { $0.action == .delete }, current: current) {
            var resource = Resource(ResourceID(IPTablesRules.addressType, address), action: .delete, isInventoried: false)
            steps.attachAddressRemoval(to: &resource, address: address, interface: node.publicInterface ?? "")
            resources.append(resource)
        }
        for (address, interface) in retiring ? [] : strayAddresses.sorted(by: { $0.key < $1.key }) {
            var resource = Resource(ResourceID(IPTablesRules.addressType, "\(address) on \(interface)"), action: .delete,
                                    changes: [PropertyChange("address", from: "\(address) on \(interface)", to: nil)], isInventoried: false)
            steps.attachAddressRemoval(to: &resource, address: address, interface: interface)
            resources.append(resource)
        }
        for jump in IPTablesRules.jumps {
            guard var resource = jumpResource(jump) else { continue }
            steps.attach(to: &resource, jump: jump)
            resources.append(resource)
        }
        return resources
    }

    /// Our labelled addresses on the public interface that no pair wants and no removed pair takes away.
    private func orphanAddresses(removed: [Resource], current: [ResourceID: [Line]]) -> [String] {
        let pairAddresses = Set(desired.ipPairs.map(\.publicIP.description))
        let removedPairAddresses = Set(removed.filter { $0.id.type == IPTablesRules.pairType }.flatMap { current[$0.id]?.compactMap(Self.destination) ?? [] })
        return (addresses ?? []).sorted().filter { !pairAddresses.contains($0) && !removedPairAddresses.contains($0) }
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
        let words = line.rule.split(separator: " ")
        guard let d = words.firstIndex(of: "-d"), d + 1 < words.count else { return nil }
        return words[d + 1].split(separator: "/").first.map(String.init)
    }

    private func summary(_ id: ResourceID) -> String? {
        guard id.type == IPTablesRules.pairType, let pair = pairs[id.name] else { return nil }
        return RuleLines.summary(of: pair)
    }

    /// Whether a chain that differs holds rules it should hold in another order (a hand
    /// edit). Rules missing or extra are other resources' changes, not an order problem.
    private func orderDiffers(chain: String, among differing: Set<Chain>) -> Bool {
        for (table, chains) in want.chains where differing.contains(Chain(table: table, name: chain)) {
            guard let wanted = chains[chain]?.map(\.text) else { continue }
            let current = live.rules(table, chain) ?? []
            let common = Set(current).intersection(wanted)
            return current.filter(common.contains) != wanted.filter(common.contains)
        }
        return false
    }

    /// Rules removed and added, one line per rule: `- filter/RC-VM-a: -j ACCEPT`, `+ …`.
    static func diff(from current: [Line], to wanted: [Line]) -> [PropertyChange] {
        RuleLines.changes(from: current, to: wanted, text: \.rule, place: { "\($0.table)/\($0.chain)" })
    }
}
