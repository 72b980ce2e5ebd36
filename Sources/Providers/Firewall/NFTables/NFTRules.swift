import Basics
import DesiredState
import Engine

/// What reconcile wants in its nftables table, `inet reconcile`, rendered as `nft list` prints
/// it, each line with the resource it belongs to.
///
/// Dispatch and NAT are map lookups, so a packet's cost does not grow with the number of VMs
/// (kube-proxy's nftables mode, KEP-3866): `rc_forward` sends a packet for a VM address to the
/// VM's chain `vm_<name>` through the verdict map `vm_dispatch` (ESTABLISHED,RELATED accepted,
/// one rule per FirewallRule, then DROP); `rc_prerouting`/`rc_output` DNAT through `pair_dnat`,
/// `rc_postrouting` SNATs through `pair_snat`. Elements carry `rc:` comments as rules do.
struct NFTRules {
    static let family = "inet", name = "reconcile"
    static var table: String { "\(family) \(name)" }
    static let dispatchMap = "vm_dispatch", dnatMap = "pair_dnat", snatMap = "pair_snat"
    static let tableType = "nft_table", chainType = "nft_chain", ruleType = "nft_rule", pairType = "nft_pair"
    static let owners = ReconcileTag.Owners(rule: ruleType, pair: pairType, chain: chainType, chainOfVM: { chainName(vm: $0) })

    /// The maps, with their types as `nft list` prints them.
    static let maps: [(name: String, type: String)] = [
        (dispatchMap, "ipv4_addr : verdict"), (dnatMap, "ipv4_addr : ipv4_addr"), (snatMap, "ipv4_addr : ipv4_addr"),
    ]

    /// The base chains: their hook line and their one rule.
    static let baseChains: [(name: String, header: String, rule: String)] = [
        ("rc_forward", "type filter hook forward priority filter; policy accept;", "ip daddr vmap @\(dispatchMap)"),
        ("rc_prerouting", "type nat hook prerouting priority dstnat; policy accept;", "dnat ip to ip daddr map @\(dnatMap)"),
        ("rc_output", "type nat hook output priority -100; policy accept;", "dnat ip to ip daddr map @\(dnatMap)"),
        ("rc_postrouting", "type nat hook postrouting priority srcnat; policy accept;", "snat ip to ip saddr map @\(snatMap)"),
    ]

    struct Line: Equatable {
        var text: String
        var owner: ResourceID
        var source: SourceLocation?
    }

    /// VM chain → its rules, in order.
    private(set) var chains: [String: [Line]] = [:]
    /// Map → its elements.
    private(set) var elements: [String: [Line]] = [:]

    /// Whether anything is declared for this firewall: without, no table either.
    var wantsTable: Bool { !chains.isEmpty || elements.values.contains { !$0.isEmpty } }

    init(_ desired: DesiredState) {
        let rulesByVM = Dictionary(grouping: desired.firewallRules, by: \.vm)
        // Each VM's chain on its own, on every core: 7,000 of them are rendered per plan.
        for vm in desired.virtualMachines.concurrentMap({ Self.policy(of: $0, rules: rulesByVM[$0.name] ?? []) }) {
            guard let vm else { continue }
            elements[Self.dispatchMap, default: []] += vm.dispatch
            chains[vm.chain] = vm.rules
        }
        for pair in desired.ipPairs {
            let id = ResourceID(Self.pairType, pair.name), tag = "comment \"rc:pair:\(pair.name)\""
            elements[Self.dnatMap, default: []].append(Line(text: "\(pair.publicIP) \(tag) : \(pair.privateIP)", owner: id, source: pair.location))
            elements[Self.snatMap, default: []].append(Line(text: "\(pair.privateIP) \(tag) : \(pair.publicIP)", owner: id, source: pair.location))
        }
    }

    /// A VM's chain `vm_<name>` (ESTABLISHED,RELATED accepted, its rules, DROP) and the
    /// dispatch elements sending its addresses there; nil for a VM without an address.
    private static func policy(of vm: VirtualMachine, rules: [FirewallRule]) -> (chain: String, rules: [Line], dispatch: [Line])? {
        let addresses = vm.interfaces.compactMap(\.ip)
        guard !addresses.isEmpty else { return nil }
        let chain = chainName(vm: vm.name)
        let chainID = ResourceID(chainType, chain)
        let dispatch = addresses.map { Line(text: "\($0) comment \"rc:vm:\(vm.name)\" : goto \(chain)", owner: chainID, source: vm.location) }
        var policy = [Line(text: "ct state established,related accept", owner: chainID, source: vm.location)]
        for rule in rules { policy.append(Line(text: render(rule), owner: ResourceID(ruleType, rule.name), source: rule.location)) }
        policy.append(Line(text: "drop", owner: chainID, source: vm.location))
        return (chain, policy, dispatch)
    }

    /// `vm_<name>`: VM names are `[a-z0-9-]`, which nft takes unquoted.
    static func chainName(vm: String) -> String { "vm_" + vm }

    /// One FirewallRule as `nft list` prints it.
    static func render(_ rule: FirewallRule) -> String {
        var words: [String] = []
        if rule.source.prefixLength == 32 {
            words.append("ip saddr \(rule.source.address)")
        } else if rule.source.prefixLength > 0 {
            words.append("ip saddr \(rule.source)")
        }
        switch rule.ipProtocol {
        case .icmp: words.append("meta l4proto icmp")
        case .all: break
        case .tcp, .udp:
            let proto = rule.ipProtocol.rawValue
            switch rule.ports.count {
            case 0: words.append("meta l4proto \(proto)")
            case 1: words.append("\(proto) dport \(rule.ports[0].nft)")
            default: words.append("\(proto) dport { \(merged(rule.ports).map(\.nft).joined(separator: ", ")) }")
            }
        }
        words.append("accept comment \"rc:rule:\(rule.name)\"")
        return words.joined(separator: " ")
    }

    /// Ports as nft keeps an anonymous set of them: sorted, overlapping and adjacent ranges
    /// merged (`{ 80, 81, 70-79 }` is printed `{ 70-81 }`).
    static func merged(_ ports: [PortRange]) -> [PortRange] {
        var result: [PortRange] = []
        for port in ports.sorted(by: { $0.lower < $1.lower }) {
            if let last = result.last, port.lower <= last.upper + 1 {
                result[result.count - 1].upper = max(last.upper, port.upper)
            } else {
                result.append(port)
            }
        }
        return result
    }

    /// Who a live rule or element belongs to: its `rc:` comment, or the chain it is in (for
    /// an element, nil: a hand-made element belongs to no resource of ours but the table).
    static func owner(of line: String, chain: String?) -> ResourceID? {
        comment(of: line).flatMap(ReconcileTag.init)?.owner(owners) ?? chain.map { ResourceID(chainType, $0) }
    }

    /// The text of `comment "…"` in a rule or element.
    static func comment(of line: String) -> String? {
        guard let start = line.range(of: "comment \"")?.upperBound else { return nil }
        guard let end = line[start...].firstIndex(of: "\"") else { return nil }
        return String(line[start..<end])
    }

    /// An element's key: its first word (`10.0.0.7 comment … : goto vm_a` → `10.0.0.7`).
    static func key(of element: String) -> String { String(element.prefix { $0 != " " }) }
}

extension PortRange {
    /// `80`, or `8000-8100` as nft writes ranges.
    var nft: String { lower == upper ? "\(lower)" : "\(lower)-\(upper)" }
}
