import Basics
import DesiredState
import Engine

/// Compares the wanted table with the live one, resource by resource, and gives each
/// resource the exact steps that converge it (see ``NFTScript``) and the fingerprint of the
/// live containers it was compared with.
///
/// reconcile owns the whole table `inet reconcile` (and no other): a rule, element or chain
/// in it that no desired object accounts for is drift, and goes.
struct NFTComparison {
    let desired: DesiredState
    let want: NFTRules
    /// nil: the table does not exist.
    let live: NFTRuleset?
    /// What both backends compare the same way, and the node's addresses.
    let shared: NetfilterComparison
    let inventory: Set<ResourceID>

    var node: Node { shared.node }
    var retiring: Bool { shared.retiring }

    init(desired: DesiredState, live: NFTRuleset?, addresses: PublicAddresses, node: Node, inventory: Set<ResourceID>, retiring: Bool = false) {
        self.desired = desired
        want = NFTRules(desired)
        self.live = live
        shared = NetfilterComparison(desired: desired, addresses: addresses, node: node, retiring: retiring)
        self.inventory = inventory
    }

    /// A chain or a map of the table.
    enum Container: NetfilterPlace {
        case chain(String), map(String)

        var label: String {
            switch self {
            case .chain(let name): name
            case .map(let name): "@" + name
            }
        }
    }

    typealias Line = NetfilterLine<Container>

    var tableID: ResourceID { ResourceID(NFTRules.tableType, NFTRules.table) }
    var wantsTable: Bool { !retiring && want.wantsTable }

    /// Ours: recorded, or marked (a base chain of ours, an `rc:` comment).
    var ownsTable: Bool {
        guard let live else { return false }
        return inventory.contains(tableID) || NFTRules.baseChains.contains { live.chains[$0.name] != nil }
            || live.chains.values.contains { $0.rules.contains { ReconcileTag.isOurs(NFTRules.comment(of: $0)) } }
    }

    func wantedLines(_ container: Container) -> [NFTRules.Line] {
        guard wantsTable else { return [] }
        switch container {
        case .chain(let name): return want.chains[name] ?? []
        case .map(let name): return want.elements[name] ?? []
        }
    }

    func liveLines(_ container: Container) -> [String]? {
        switch container {
        case .chain(let name): live?.chains[name]?.rules
        case .map(let name): live?.maps[name]?.elements
        }
    }

    /// Containers whose live lines differ from the wanted ones (chains in order, maps as sets).
    var differing: Set<Container> {
        var result: Set<Container> = []
        let baseNames = Set(NFTRules.baseChains.map(\.name))
        var chains: Set<String> = wantsTable ? Set(want.chains.keys) : []
        chains.formUnion(live?.chains.keys ?? [String: NFTRuleset.Chain]().keys)
        chains.subtract(baseNames)
        for chain in chains where !(liveLines(.chain(chain))?.elementsEqual(wantedLines(.chain(chain)).lazy.map(\.text)) ?? false) {
            result.insert(.chain(chain))
        }
        for map in NFTRules.maps.map(\.name) where Set(liveLines(.map(map)) ?? []) != Set(wantedLines(.map(map)).map(\.text)) {
            result.insert(.map(map))
        }
        return result
    }

    func resources() -> [Resource] {
        guard live != nil || wantsTable else { return [] }
        if live != nil, !ownsTable {
            // A table holding our name that is not ours: never written, never removed.
            guard wantsTable else { return [] }
            return [Resource(tableID, action: .update, conflict: "table \(NFTRules.table) exists and was not created by reconcile; rename or remove it",
                             isInventoried: false, isDeclaredObject: false)]
        }
        let differing = differing
        // Wanted lines by owner, and whether each owner has lines in a container as wanted.
        var wanted: [ResourceID: NetfilterWanted<Container>] = [:]
        wanted.reserveCapacity(want.chains.values.reduce(0) { $0 + $1.count })
        func note(_ line: NFTRules.Line, in container: Container) {
            wanted[line.owner, default: NetfilterWanted()].note(line.text, in: container, differs: differing.contains(container), source: line.source)
        }
        if wantsTable {
            for chain in want.chains.keys.sorted() {
                if wanted[ResourceID(NFTRules.chainType, chain)] == nil { wanted[ResourceID(NFTRules.chainType, chain)] = NetfilterWanted(places: [.chain(chain)]) }
                for line in want.chains[chain] ?? [] { note(line, in: .chain(chain)) }
            }
            for map in NFTRules.maps.map(\.name) { for line in want.elements[map] ?? [] { note(line, in: .map(map)) } }
        }
        // Live lines of the differing containers, by owner (an untagged element: the table's).
        var current: [ResourceID: [Line]] = [:]
        for container in differing.sorted() {
            let lines = liveLines(container) ?? []
            let chain: String? = if case .chain(let name) = container { name } else { nil }
            for text in lines { current[NFTRules.owner(of: text, chain: chain) ?? tableID, default: []].append(Line(place: container, text: text)) }
            if lines.isEmpty, let chain, live?.chains[chain] != nil { current[ResourceID(NFTRules.chainType, chain), default: []] += [] }
        }
        let steps = NFTSteps(comparison: self, differing: differing)
        let tableLines = current.removeValue(forKey: tableID) ?? []
        var resources = shared.resources(Backend(comparison: self, steps: steps), wanted: wanted, current: current)
        if var table = tableResource(current: tableLines) {
            steps.attachTable(to: &table, live: tableLines)
            resources.append(table)
        }
        return resources
    }

    /// nftables' side of the shared comparison.
    struct Backend: NetfilterBackend {
        let comparison: NFTComparison
        /// The steps, made for the containers that differ.
        let steps: NFTSteps

        var owners: ReconcileTag.Owners { NFTRules.owners }
        func chainExists(_ name: String) -> Bool { comparison.live?.chains[name] != nil }
        /// A chain is rewritten whole: one that differs with no line changes differs by order.
        func orderChanged(_ id: ResourceID) -> Bool { steps.differing.contains(.chain(id.name)) }
        func dnat(_ lines: [Line]) -> [(public: String, private: String)] { NFTComparison.dnat(lines) }

        func attach(to resource: inout Resource, wanted: NetfilterWanted<Container>, live: [Line]) {
            steps.attach(to: &resource, containers: wanted.places, wanted: wanted.lines, live: live)
        }
    }

    /// The pairs' DNAT among `lines`: elements of the DNAT map, `PUBLIC … : PRIVATE`.
    static func dnat(_ lines: [Line]) -> [(public: String, private: String)] {
        lines.filter { $0.place == .map(NFTRules.dnatMap) }.compactMap { line in
            line.text.components(separatedBy: " : ").last.map { (NFTRules.key(of: line.text), $0) }
        }
    }

    /// The table itself: its maps and base chains, and elements nobody declared.
    private func tableResource(current: [Line]) -> Resource? {
        guard let live else {
            return Resource(tableID, action: .create, summary: "maps \(NFTRules.maps.map(\.name).joined(separator: ", ")); hooks forward, prerouting, output, postrouting",
                            isInventoried: true, isDeclaredObject: false)
        }
        guard wantsTable else {
            return Resource(tableID, action: .delete, summary: "\(live.chains.count) chains, \(live.maps.values.map(\.elements.count).reduce(0, +)) map elements",
                            isDeclaredObject: false)
        }
        var changes = Self.diff(from: current, to: [])
        for map in NFTRules.maps where live.maps[map.name]?.type != map.type {
            changes.append(PropertyChange("map \(map.name)", from: live.maps[map.name]?.type, to: map.type))
        }
        for chain in NFTRules.baseChains {
            let now = live.chains[chain.name]
            if now?.header != chain.header { changes.append(PropertyChange("chain \(chain.name)", from: now?.header, to: chain.header)) }
            if now?.rules != [chain.rule] {
                changes += Self.diff(from: (now?.rules ?? []).map { Line(place: .chain(chain.name), text: $0) },
                                     to: [Line(place: .chain(chain.name), text: chain.rule)])
            }
        }
        return Resource(tableID, action: changes.isEmpty ? nil : .update, changes: changes, isDeclaredObject: false)
    }

    /// Lines removed and added: `- vm_a: tcp dport 22 accept …`, `+ @pair_dnat: 203.0.113.7 … : 10.0.0.7`.
    static func diff(from current: [Line], to wanted: [Line]) -> [PropertyChange] {
        RuleLines.changes(from: current, to: wanted, text: \.text, place: \.place.label)
    }
}
