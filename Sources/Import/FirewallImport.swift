import Providers

/// The firewall rules and IP pairs of a node's iptables, as `iptables-save` prints them, for the
/// VMs at known addresses (`reconcile import`), from the lines ``SavedRules`` classifies.
struct FirewallImport {
    typealias Rule = SavedRules.Rule

    struct Pair: Equatable {
        var name: String?
        var publicIP: String
        var privateIP: String
    }

    /// Accepted traffic by VM address, in rule order.
    var rules: [String: [Rule]] = [:]
    var pairs: [Pair] = []
    var unmapped: [ImportedCloud.Unmapped] = []

    static func read(_ text: String, addresses: Set<String>) -> FirewallImport {
        var imported = FirewallImport()
        var dnat: [String: (privateIP: String, name: String?, line: SavedRules.Line)] = [:]
        var snat: [String: (publicIP: String, line: SavedRules.Line)] = [:]
        var unrelated: [String: Int] = [:]
        func unmappable(_ line: SavedRules.Line, _ why: String) {
            imported.unmapped.append(.init(source: "iptables-save line \(line.number) (\(line.table))", text: "-A \(line.chain) \(line.text)", why: why))
        }
        for item in SavedRules.classify(text, addresses: addresses).lines {
            switch item.role {
            case .accept(let vm, let rule?): imported.rules[vm, default: []].append(rule)
            case .accept: unmappable(item.line, "reconcile accepts by protocol (tcp, udp, icmp or all), source and destination ports only")
            case .otherVerdict(_, let why), .unknown(let why): unmappable(item.line, why)
            case .dnat(let publicIP, let privateIP, let name): dnat[publicIP] = (privateIP, name, item.line)
            case .snat(let privateIP, let publicIP): snat[privateIP] = (publicIP, item.line)
            case .unrelated: unrelated[item.line.table == "filter" || item.line.table == "nat" ? "\(item.line.table) \(item.line.chain)" : item.line.table, default: 0] += 1
            case .dispatch, .defaultDrop, .established, .reconciles: continue
            }
        }
        for (publicIP, target) in dnat.sorted(by: { $0.value.line.number < $1.value.line.number }) {
            if snat[target.privateIP]?.publicIP == publicIP {
                imported.pairs.append(Pair(name: target.name, publicIP: publicIP, privateIP: target.privateIP))
            } else {
                unmappable(target.line, "a DNAT without the SNAT back (-s \(target.privateIP) -j SNAT --to-source \(publicIP)); a pair needs both")
            }
        }
        for (privateIP, target) in snat.sorted(by: { $0.value.line.number < $1.value.line.number })
        where dnat[target.publicIP]?.privateIP != privateIP {
            unmappable(target.line, "an SNAT without the DNAT in (-d \(target.publicIP) -j DNAT --to-destination \(privateIP)); a pair needs both")
        }
        for (chain, count) in unrelated.sorted(by: { $0.key < $1.key }) {
            imported.unmapped.append(.init(source: "iptables \(chain)", text: "\(count) rules", why: "about no VM: not reconcile's to declare, left as they are"))
        }
        return imported
    }

}
