import DesiredState
import Engine

/// Compares the wanted rules with `iptables-save`'s, resource by resource.
struct FirewallComparison {
    let desired: DesiredState
    let want: FirewallRules
    let live: IPTablesRuleset
    /// Our labelled public addresses; nil when the public interface does not exist.
    let addresses: Set<String>?
    let node: Node
    private let wantedChains: [String: [String: [String]]]
    private let pairs: [String: IPPair]

    init(desired: DesiredState, want: FirewallRules, live: IPTablesRuleset, addresses: Set<String>?, node: Node) {
        self.desired = desired
        self.want = want
        self.live = live
        self.addresses = addresses
        self.node = node
        wantedChains = want.chains
        pairs = Dictionary(desired.ipPairs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// One rule where it sits. Compared as it is; its text (`table/chain: rule`) is made only
    /// for the rules that differ: a no-op run compares 77,000 of them.
    struct Line: Equatable {
        var table: String
        var chain: String
        var rule: String

        var text: String { "\(table)/\(chain): \(rule)" }
    }

    /// The rules of the live RC-* chains, grouped by the resource they belong to.
    private var liveByOwner: [ResourceID: [Line]] {
        var owners: [ResourceID: [Line]] = [:]
        for (table, chains) in live.tables {
            for (chain, rules) in chains where chain.hasPrefix("RC-") {
                for rule in rules {
                    owners[Self.owner(of: rule, chain: chain), default: []].append(Line(table: table, chain: chain, rule: rule))
                }
                if rules.isEmpty, chain.hasPrefix("RC-VM-") { owners[ResourceID(FirewallRules.chainType, chain), default: []] += [] }
            }
        }
        return owners
    }

    /// Who a live rule belongs to: its tag, or the chain it is in.
    static func owner(of rule: String, chain: String) -> ResourceID {
        let tag = IPTablesRuleset.tag(of: rule) ?? ""
        if tag.hasPrefix("rc:rule:") { return ResourceID(FirewallRules.ruleType, String(tag.dropFirst(8))) }
        if tag.hasPrefix("rc:pair:") { return ResourceID(FirewallRules.pairType, String(tag.dropFirst(8))) }
        if tag.hasPrefix("rc:vm:") { return ResourceID(FirewallRules.chainType, FirewallRules.chainName(vm: String(tag.dropFirst(6)))) }
        return ResourceID(FirewallRules.chainType, chain)
    }

    func resources() -> [Resource] {
        var wanted: [ResourceID: [Line]] = [:]
        var sources: [ResourceID: SourceLocation] = [:]
        for rule in want.rules {
            wanted[rule.owner, default: []].append(Line(table: rule.table, chain: rule.chain, rule: rule.text))
            if sources[rule.owner] == nil { sources[rule.owner] = rule.source }
        }
        for chain in wantedChains.values.flatMap(\.keys) { wanted[ResourceID(FirewallRules.chainType, chain), default: []] += [] }
        let liveLines = liveByOwner
        let liveChains = Set(live.tables.values.flatMap(\.keys))
        var resources: [Resource] = []

        // In no particular order: the plan orders resources itself.
        for (id, lines) in wanted {
            let current = liveLines[id]
            let exists = id.type == FirewallRules.chainType ? liveChains.contains(id.name) : current != nil
            var changes = Self.diff(from: current ?? [], to: lines)
            var conflict: String?
            if id.type == FirewallRules.pairType, let pair = pairs[id.name] {
                if node.publicInterface == nil {
                    conflict = "host \(node.name) has the firewall role but no publicInterface for \(pair.publicIP)"
                } else if addresses == nil {
                    conflict = "public interface \(node.publicInterface ?? "") does not exist on host \(node.name)"
                } else if addresses?.contains(pair.publicIP.description) == false {
                    changes.append(PropertyChange("address", from: nil, to: "\(pair.publicIP) on \(node.publicInterface ?? "")"))
                }
            }
            if id.type == FirewallRules.chainType, changes.isEmpty, exists, orderDiffers(chain: id.name) {
                changes.append(PropertyChange("rule order", from: "changed by hand", to: "as declared"))
            }
            let action: Resource.Action? = !exists ? .create : changes.isEmpty ? nil : .update
            resources.append(Resource(id, action: action, changes: changes, summary: summary(id),
                                      conflict: action == nil ? nil : conflict, source: sources[id]))
        }
        for (id, _) in liveLines.sorted(by: { $0.key < $1.key }) where wanted[id] == nil {
            resources.append(Resource(id, action: .delete))
        }
        let pairAddresses = Set(desired.ipPairs.map(\.publicIP.description))
        let removedPairs = Set(resources.filter { $0.action == .delete && $0.id.type == FirewallRules.pairType }.map(\.id.name))
        for address in (addresses ?? []).sorted() where !pairAddresses.contains(address) && removedPairs.isEmpty {
            resources.append(Resource(ResourceID(FirewallRules.addressType, address), action: .delete, isInventoried: false))
        }
        resources += FirewallRules.jumps.map { jump in
            let id = ResourceID(FirewallRules.jumpType, "\(jump.table)/\(jump.chain)")
            let rules = live.rules(jump.table, jump.chain) ?? []
            let rule = FirewallRules.jumpRule(jump.target)
            if rules.first == rule { return Resource(id, action: nil, isInventoried: false) }
            let position = rules.firstIndex(of: rule).map { "rule \($0 + 1)" }
            return Resource(id, action: position == nil ? .create : .update,
                            changes: [PropertyChange("jump to \(jump.target)", from: position, to: "rule 1")], isInventoried: false)
        }
        return resources
    }

    private func summary(_ id: ResourceID) -> String? {
        guard id.type == FirewallRules.pairType, let pair = pairs[id.name] else { return nil }
        return "\(pair.publicIP) ⇄ \(pair.privateIP)"
    }

    /// Whether a chain holds rules it should hold in another order (a hand edit). Rules
    /// missing or extra are other resources' changes, not an order problem.
    private func orderDiffers(chain: String) -> Bool {
        for (table, chains) in wantedChains {
            guard let wanted = chains[chain] else { continue }
            let current = live.rules(table, chain) ?? []
            let common = Set(current).intersection(wanted)
            return current.filter(common.contains) != wanted.filter(common.contains)
        }
        return false
    }

    /// Rules removed and added, one change per rule: `rule: (none) → -A …`.
    static func diff(from current: [Line], to wanted: [Line]) -> [PropertyChange] {
        if current == wanted { return [] }
        let removed = current.filter { !wanted.contains($0) }
        let added = wanted.filter { !current.contains($0) }
        return removed.map { PropertyChange("rule", from: $0.text, to: nil) } + added.map { PropertyChange("rule", from: nil, to: $0.text) }
    }
}
