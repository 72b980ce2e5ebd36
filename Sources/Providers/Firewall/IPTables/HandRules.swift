import DesiredState
import Engine

/// With `--adopt`: the hand-made iptables rules that reconcile's own replace — each desired
/// VM's chain reached by `-d VM -j CHAIN` (flushed and deleted, with its dispatch), its
/// ACCEPTs and final DROP in built-in chains, and each desired pair's DNAT and SNAT — as
/// resources whose steps join the same `iptables-restore` as the `RC-*` chains: the swap is
/// one transaction, so no packet meets neither set of rules. Tracked connections are kept.
enum HandRules {
    static let resourceType = "iptables_hand_rules"

    static func resources(saved: String, desired: DesiredState) -> [Resource] {
        var vmOf: [String: VirtualMachine] = [:]
        for vm in desired.virtualMachines { for ip in vm.interfaces.compactMap(\.ip) { vmOf[ip.description] = vm } }
        let pairs = Dictionary(desired.ipPairs.map { ("\($0.publicIP)>\($0.privateIP)", $0) }, uniquingKeysWith: { first, _ in first })
        let (lines, vmChains) = SavedRules.classify(saved, addresses: Set(vmOf.keys))
        let handChains = vmChains.filter { !$0.key.hasPrefix("RC-") }
        var removals: [ResourceID: (lines: [String], changes: [PropertyChange], dependsOn: [ResourceID], table: String)] = [:]
        func drop(_ id: ResourceID, _ table: String, _ line: String, change: PropertyChange, dependsOn: ResourceID) {
            removals[id, default: ([], [], [], table)].lines.append(line)
            removals[id]?.changes.append(change)
            if removals[id]?.dependsOn.contains(dependsOn) == false { removals[id]?.dependsOn.append(dependsOn) }
        }
        for item in lines where !item.chain.hasPrefix("RC-") && handChains[item.chain] == nil {
            switch item.role {
            case .dispatch(let address), .accept(let address, _), .defaultDrop(let address), .otherVerdict(let address, _):
                guard let vm = vmOf[address] else { continue }
                let id = ResourceID(resourceType, "\(item.table)/\(vm.name)")
                let chain = ResourceID(IPTablesRules.chainType, vm.firewallChain)
                drop(id, item.table, "-D \(item.chain) \(item.rule)", change: PropertyChange("\(item.table)/\(item.chain)", from: item.rule, to: nil), dependsOn: chain)
                if case .dispatch = item.role, let jump = handChains.first(where: { $0.value == address && item.rule.hasSuffix("-j \($0.key)") })?.key {
                    for inner in lines where inner.table == item.table && inner.chain == jump {
                        removals[id]?.changes.append(PropertyChange("\(item.table)/\(jump)", from: inner.rule, to: nil))
                    }
                    removals[id]?.lines += ["-F \(jump)", "-X \(jump)"]
                }
            case .dnat(let publicIP, let privateIP, _), .snat(let privateIP, let publicIP):
                guard let pair = pairs["\(publicIP)>\(privateIP)"] else { continue }
                drop(ResourceID(resourceType, "nat/\(pair.name)"), item.table, "-D \(item.chain) \(item.rule)",
                       change: PropertyChange("nat/\(item.chain)", from: item.rule, to: nil), dependsOn: ResourceID(IPTablesRules.pairType, pair.name))
            default:
                continue
            }
        }
        return removals.keys.sorted().compactMap { id -> Resource? in
            guard let removal = removals[id] else { return nil }
            let changes = removal.changes.map { change in
                var change = change
                change.note = "hand-made: reconcile's rules replace it in the same transaction"
                return change
            }
            return Resource(id, action: .delete, changes: changes, dependsOn: removal.dependsOn, isInventoried: false, isDeclaredObject: false,
                            steps: [.iptables(.removeHandRules(table: removal.table, name: id.name, lines: removal.lines))],
                            fingerprint: Fingerprint.of(removal.lines))
        }
    }
}
