import Basics
import DesiredState
import Engine

/// The rules reconcile wants in its own chains, rendered as `iptables-save` prints them,
/// each with the resource it belongs to.
///
/// filter: `FORWARD → RC-FORWARD`, which sends traffic for each managed VM address to the
/// VM's chain `RC-VM-<name>`: ESTABLISHED,RELATED accepted, then one rule per FirewallRule,
/// then DROP. Traffic to other addresses returns untouched. nat: `PREROUTING → RC-PREROUTING`
/// and `OUTPUT → RC-OUTPUT` DNAT each pair's public address to its private one;
/// `POSTROUTING → RC-POSTROUTING` SNATs the private address to the public one. Past 16
/// addresses, each of these per-address rule lists is a tree of chains (``DispatchTree``).
struct IPTablesRules {
    struct Rule: Equatable, Sendable {
        var table: String
        var chain: String
        /// The rule text after `-A CHAIN `.
        var text: String
        var owner: ResourceID
        var source: SourceLocation?
    }

    /// The tables reconcile has chains in; it reads and writes no other.
    static let tables = ["filter", "nat"]

    /// Built-in chain → our chain it jumps to, first thing, per table.
    static let jumps: [(table: String, chain: String, target: String)] = [
        ("filter", "FORWARD", "RC-FORWARD"),
        ("nat", "PREROUTING", "RC-PREROUTING"),
        ("nat", "OUTPUT", "RC-OUTPUT"),
        ("nat", "POSTROUTING", "RC-POSTROUTING"),
    ]
    /// The shared chains the built-in ones jump to: scaffolding, not objects anyone declared.
    static func isScaffolding(_ id: ResourceID) -> Bool {
        id.type == chainType && (jumps.contains { $0.target == id.name } || DispatchTree.isInner(id.name))
    }

    static func jumpRule(_ target: String) -> String { "-m comment --comment reconcile -j \(target)" }

    /// Where reconcile's jump sits in its built-in chain (0-based), when it is there exactly
    /// once; nil when it is missing or doubled (two writers, a hand edit), which is drift.
    ///
    /// Its place among foreign rules is the operator's: reconcile inserts it at the top when it
    /// is missing and otherwise leaves it where it is, so a rule put above it on purpose
    /// (`iptables -I FORWARD 1 -s 192.0.2.66 -j DROP`, a blocklist) keeps applying to VMs.
    static func jumpPosition(_ jump: (table: String, chain: String, target: String), in live: IPTablesRuleset) -> Int? {
        let rules = live.rules(jump.table, jump.chain) ?? []
        let rule = jumpRule(jump.target)
        guard let first = rules.firstIndex(of: rule), rules[(first + 1)...].firstIndex(of: rule) == nil else { return nil }
        return first
    }

    static let ruleType = "firewall_rule", pairType = "nat_pair", chainType = "iptables_chain", jumpType = "iptables_jump"
    static let addressType = PublicAddresses.resourceType
    static let owners = ReconcileTag.Owners(rule: ruleType, pair: pairType, chain: chainType, chainOfVM: { chainName(vm: $0) })

    /// Every chain reconcile wants, per table, with its rules in order (possibly none).
    private(set) var chains: [String: [String: [Rule]]] = [
        "filter": ["RC-FORWARD": []], "nat": ["RC-PREROUTING": [], "RC-OUTPUT": [], "RC-POSTROUTING": []],
    ]

    init(_ desired: DesiredState) {
        let rulesByVM = Dictionary(grouping: desired.firewallRules, by: \.vm)
        var dispatch: [DispatchTree.Leaf] = [], dnat: [DispatchTree.Leaf] = [], snat: [DispatchTree.Leaf] = []
        // Each VM's chain on its own, on every core: 7,000 of them are rendered per plan.
        for vm in desired.virtualMachines.concurrentMap({ Self.policy(of: $0, rules: rulesByVM[$0.name] ?? []) }) {
            guard let vm else { continue }
            chains["filter", default: [:]][vm.chain, default: []] += vm.rules
            dispatch += vm.dispatch
        }
        for pair in desired.ipPairs {
            let id = ResourceID(Self.pairType, pair.name)
            let comment = "-m comment --comment \"rc:pair:\(pair.name)\""
            let toPrivate = Rule(table: "nat", chain: "", text: "-d \(pair.publicIP)/32 \(comment) -j DNAT --to-destination \(pair.privateIP)",
                                 owner: id, source: pair.location)
            dnat.append(.init(address: pair.publicIP, rule: toPrivate))
            let toPublic = Rule(table: "nat", chain: "", text: "-s \(pair.privateIP)/32 \(comment) -j SNAT --to-source \(pair.publicIP)",
                                owner: id, source: pair.location)
            snat.append(.init(address: pair.privateIP, rule: toPublic))
        }
        for (leaves, table, tree) in [(dispatch, "filter", DispatchTree.filter), (dnat, "nat", DispatchTree.prerouting),
                                      (dnat, "nat", DispatchTree.output), (snat, "nat", DispatchTree.postrouting)] {
            for (chain, rules) in DispatchTree.chains(leaves, table: table, tree: tree) {
                chains[table, default: [:]][chain, default: []] += rules
            }
        }
        // Nothing declared for this firewall: no scaffolding either (no empty chains, no jumps).
        if chains.values.allSatisfy({ $0.values.allSatisfy(\.isEmpty) }) { chains = [:] }
    }

    /// Whether reconcile's jump from a built-in chain is wanted (its target chain is).
    func wantsJump(to target: String) -> Bool {
        chains.values.contains { $0[target] != nil }
    }

    /// A VM's chain `RC-VM-<name>` (ESTABLISHED,RELATED accepted, its rules, DROP) and the
    /// dispatch rules sending its addresses there; nil for a VM without an address.
    private static func policy(of vm: VirtualMachine, rules: [FirewallRule]) -> (chain: String, rules: [Rule], dispatch: [DispatchTree.Leaf])? {
        let addresses = vm.interfaces.compactMap(\.ip)
        guard !addresses.isEmpty else { return nil }
        let chain = chainName(vm: vm.name)
        let chainID = ResourceID(chainType, chain)
        let dispatch = addresses.map { address in
            let text = "-d \(address)/32 -m comment --comment \"rc:vm:\(vm.name)\" -j \(chain)"
            return DispatchTree.Leaf(address: address, rule: Rule(table: "filter", chain: "", text: text, owner: chainID, source: vm.location))
        }
        var policy = [Rule(table: "filter", chain: chain, text: "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", owner: chainID, source: vm.location)]
        for rule in rules {
            for text in render(rule) { policy.append(Rule(table: "filter", chain: chain, text: text, owner: ResourceID(ruleType, rule.name), source: rule.location)) }
        }
        policy.append(Rule(table: "filter", chain: chain, text: "-j DROP", owner: chainID, source: vm.location))
        return (chain, policy, dispatch)
    }

    /// Whether a live chain holds exactly the wanted rules, in order (nil: the chain is absent).
    static func same(_ live: [String]?, _ wanted: [Rule]?) -> Bool {
        guard let live, let wanted else { return live == nil && wanted == nil }
        return live.elementsEqual(wanted) { $0 == $1.text }
    }

    /// The chain of a VM's inbound policy (see ``VirtualMachine/firewallChain(for:)``).
    static func chainName(vm: String) -> String { VirtualMachine.firewallChain(for: vm) }

    /// One FirewallRule as iptables-save prints it: one rule, or several when it lists more
    /// than the 15 ports a multiport match takes.
    static func render(_ rule: FirewallRule) -> [String] {
        let source = rule.source.prefixLength == 0 ? "" : "-s \(rule.source) "
        let comment = "-m comment --comment \"rc:rule:\(rule.name)\" -j ACCEPT"
        switch rule.ipProtocol {
        case .icmp: return ["\(source)-p icmp \(comment)"]
        case .all: return [source.isEmpty ? comment : "\(source)\(comment)"]
        case .tcp, .udp:
            let proto = rule.ipProtocol.rawValue
            guard !rule.ports.isEmpty else { return ["\(source)-p \(proto) \(comment)"] }
            if rule.ports.count == 1, let port = rule.ports.first {
                return ["\(source)-p \(proto) -m \(proto) --dport \(port.iptables) \(comment)"]
            }
            // multiport takes 15 ports per rule, a range counting as two.
            var groups: [[PortRange]] = [[]]
            var weight = 0
            for port in rule.ports {
                let cost = port.lower == port.upper ? 1 : 2
                if weight + cost > 15 { groups.append([]); weight = 0 }
                groups[groups.count - 1].append(port)
                weight += cost
            }
            return groups.map { group in
                "\(source)-p \(proto) -m multiport --dports \(group.map(\.iptables).joined(separator: ",")) \(comment)"
            }
        }
    }
}

extension PortRange {
    /// `80`, or `8000:8100` as iptables writes ranges.
    var iptables: String { lower == upper ? "\(lower)" : "\(lower):\(upper)" }
}
