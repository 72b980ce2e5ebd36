import DesiredState
import Engine

/// iptables has no verdict map, so per-address rules (`-d 10.0.0.7/32 -j RC-VM-a`, a pair's
/// DNAT or SNAT) are spread over a tree of chains split on the address's nibbles, each chain
/// holding at most ``fanout`` rules: a packet compares its address with at most 16 rules on
/// each of at most 8 levels (32 bits, 4 per level) — at most 128 comparisons whatever the
/// number of VMs, and a reply to an address no rule names leaves after the root's 16.
///
/// The tree is a function of the addresses alone, never of history: up to 16 addresses the
/// root holds their rules itself (the flat layout of reconcile before 0.6); past that, each
/// group of addresses sharing the next nibble-aligned prefix gets a chain named after it
/// (`RC-FWD-10.0.16.0-20`), jumped to by one tagged rule (`rc:chain:RC-FWD-10.0.16.0-20`)
/// that belongs to that chain's resource. A prefix all addresses share adds no level.
///
/// Why not ipset: its sets live outside `iptables-restore`'s transaction, so an apply would
/// become two transactions with a window between them, and port rules would become sets of
/// every port of every range. The tree is plain iptables, applied in the same one
/// `iptables-restore` as everything else, and keeps each VM's policy readable in its chain.
struct DispatchTree {
    static let fanout = 16

    /// One per-address rule: the address it matches and the rule.
    struct Leaf {
        var address: IPv4Address
        var rule: IPTablesRules.Rule
    }

    /// One tree: its root chain, the option that matches the address, and the prefix of the
    /// chains below the root.
    struct Tree {
        var root: String
        var match: String
        var prefix: String

        func holds(_ chain: String) -> Bool { chain == root || chain.hasPrefix(prefix) }
    }

    static let filter = Tree(root: "RC-FORWARD", match: "-d", prefix: "RC-FWD-")
    static let prerouting = Tree(root: "RC-PREROUTING", match: "-d", prefix: "RC-PRE-")
    static let output = Tree(root: "RC-OUTPUT", match: "-d", prefix: "RC-OUT-")
    static let postrouting = Tree(root: "RC-POSTROUTING", match: "-s", prefix: "RC-POST-")
    static let all = [filter, prerouting, output, postrouting]

    /// Whether a chain is one of the trees' inner chains (below a root).
    static func isInner(_ chain: String) -> Bool { all.contains { chain.hasPrefix($0.prefix) } }

    /// The tree's chains, root first. A chain of leaves keeps them in the order given (the
    /// flat layout's order); a chain that splits lists its groups in address order.
    static func chains(_ leaves: [Leaf], table: String, tree: Tree) -> [(chain: String, rules: [IPTablesRules.Rule])] {
        typealias Numbered = (position: Int, leaf: Leaf)
        var chains: [(chain: String, rules: [IPTablesRules.Rule])] = []
        func rule(_ leaf: Leaf, in chain: String) -> IPTablesRules.Rule {
            var rule = leaf.rule
            rule.chain = chain
            return rule
        }
        func fill(_ chain: String, _ leaves: ArraySlice<Numbered>, length: Int) {
            let index = chains.count
            chains.append((chain, []))
            guard leaves.count > fanout, length < 32, let first = leaves.first?.leaf.address.rawValue,
                  let last = leaves.last?.leaf.address.rawValue
            else {
                chains[index].rules = leaves.sorted { $0.position < $1.position }.map { rule($0.leaf, in: chain) }
                return
            }
            // The first nibble-aligned prefix at which the addresses part.
            var split = length + 4
            while split < 32, first >> (32 - split) == last >> (32 - split) { split += 4 }
            var start = leaves.startIndex
            while start < leaves.endIndex {
                let key = leaves[start].leaf.address.rawValue >> (32 - split)
                let end = leaves[start...].firstIndex { $0.leaf.address.rawValue >> (32 - split) != key } ?? leaves.endIndex
                if end - start == 1 {
                    chains[index].rules.append(rule(leaves[start].leaf, in: chain))
                } else {
                    let network = IPv4Network(address: IPv4Address(rawValue: key << (32 - split)), prefixLength: split)
                    let child = tree.prefix + "\(network.address)-\(split)"
                    let text = "\(tree.match) \(network) -m comment --comment \"rc:chain:\(child)\" -j \(child)"
                    chains[index].rules.append(IPTablesRules.Rule(table: table, chain: chain, text: text,
                                                                  owner: ResourceID(IPTablesRules.chainType, child), source: nil))
                    fill(child, leaves[start..<end], length: split)
                }
                start = end
            }
        }
        let numbered = leaves.enumerated().map { (position: $0.offset, leaf: $0.element) }
        fill(tree.root, numbered.sorted { $0.leaf.address < $1.leaf.address }[...], length: 0)
        return chains
    }
}
