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
    /// Our labelled public addresses; nil when the public interface does not exist.
    let addresses: Set<String>?
    /// Every address on the public interface, ours or not (a pair needs its own added only when it is not there).
    let presentAddresses: Set<String>?
    let strayAddresses: [String: String]
    let node: Node
    let inventory: Set<ResourceID>
    /// Plan only the removal of what is ours (another backend is now the Host's).
    let retiring: Bool
    let pairs: [String: IPPair]

    init(desired: DesiredState, live: NFTRuleset?, addresses: PublicAddresses, node: Node, inventory: Set<ResourceID>, retiring: Bool = false) {
        self.desired = desired
        want = NFTRules(desired)
        self.live = live
        self.addresses = node.publicInterface.flatMap(addresses.on) ?? (node.publicInterface == nil ? [] : nil)
        presentAddresses = node.publicInterface.flatMap(addresses.present) ?? (node.publicInterface == nil ? [] : nil)
        strayAddresses = addresses.ours.filter { $0.value != node.publicInterface }
        self.node = node
        self.inventory = inventory
        self.retiring = retiring
        pairs = Dictionary(desired.ipPairs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// A chain or a map of the table.
    enum Container: Hashable, Comparable {
        case chain(String), map(String)

        var label: String {
            switch self {
            case .chain(let name): name
            case .map(let name): "@" + name
            }
        }
    }

    struct Line: Equatable {
        var container: Container
        var text: String
    }

    /// A declared resource's wanted lines in the containers that differ, the containers it has
    /// lines in (one to three: a list, not a set), and whether it has lines in one as wanted.
    struct Wanted {
        var lines: [Line] = []
        var containers: [Container] = []
        var inMatching = false
        var source: SourceLocation?

        mutating func note(_ text: String, in container: Container, differs: Bool) {
            if !containers.contains(container) { containers.append(container) }
            if differs { lines.append(Line(container: container, text: text)) } else { inMatching = true }
        }
    }

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
        let steps = NFTSteps(comparison: self, differing: differing)
        // Wanted lines by owner, and whether each owner has lines in a container as wanted.
        var wanted: [ResourceID: Wanted] = [:]
        wanted.reserveCapacity(want.chains.values.reduce(0) { $0 + $1.count })
        func note(_ line: NFTRules.Line, in container: Container) {
            wanted[line.owner, default: Wanted(source: line.source)].note(line.text, in: container, differs: differing.contains(container))
        }
        if wantsTable {
            for chain in want.chains.keys.sorted() {
                if wanted[ResourceID(NFTRules.chainType, chain)] == nil { wanted[ResourceID(NFTRules.chainType, chain)] = Wanted(containers: [.chain(chain)]) }
                for line in want.chains[chain] ?? [] { note(line, in: .chain(chain)) }
            }
            for map in NFTRules.maps.map(\.name) { for line in want.elements[map] ?? [] { note(line, in: .map(map)) } }
        }
        // Live lines of the differing containers, by owner (an untagged element: the table's).
        var current: [ResourceID: [Line]] = [:]
        for container in differing.sorted() {
            let lines = liveLines(container) ?? []
            let chain: String? = if case .chain(let name) = container { name } else { nil }
            for text in lines { current[NFTRules.owner(of: text, chain: chain) ?? tableID, default: []].append(Line(container: container, text: text)) }
            if lines.isEmpty, let chain, live?.chains[chain] != nil { current[ResourceID(NFTRules.chainType, chain), default: []] += [] }
        }
        // Each declared resource on its own: 49,000 of them are compared on every core.
        var resources = Array(wanted).concurrentMap { [current] id, entry in
            let exists = id.type == NFTRules.chainType ? live?.chains[id.name] != nil : entry.inMatching || current[id] != nil
            var changes = Self.diff(from: current[id] ?? [], to: entry.lines)
            if id.type == NFTRules.chainType, changes.isEmpty, exists, case let container = Container.chain(id.name), differing.contains(container) {
                changes.append(PropertyChange("rule order", from: "changed by hand", to: "as declared"))
            }
            var conflict: String?
            if id.type == NFTRules.pairType, let pair = pairs[id.name] {
                switch PublicAddresses.placement(of: pair, on: node, ours: presentAddresses) {
                case .conflict(let why): conflict = why
                case .missing(let change): changes.append(change)
                case .present: break
                }
            }
            let action: Resource.Action? = !exists ? .create : changes.isEmpty ? nil : .update
            var resource = Resource(id, action: action, changes: changes, summary: summary(id), conflict: action == nil ? nil : conflict,
                                    source: entry.source)
            steps.attach(to: &resource, containers: entry.containers, wanted: entry.lines, live: current[id] ?? [])
            return resource
        }
        if let table = tableResource(current: current[tableID] ?? []) {
            var resource = table
            steps.attachTable(to: &resource, live: current[tableID] ?? [])
            resources.append(resource)
        }
        for id in current.keys.filter({ wanted[$0] == nil && $0 != tableID }).sorted() {
            var resource = Resource(id, action: .delete, changes: Self.diff(from: current[id] ?? [], to: []), isDeclaredObject: !retiring)
            steps.attach(to: &resource, containers: [], wanted: [], live: current[id] ?? [])
            resources.append(resource)
        }
        guard !retiring else { return resources }
        let pairAddresses = Set(desired.ipPairs.map(\.publicIP.description))
        let removedPairAddresses = Set(resources.filter { $0.action == .delete && $0.id.type == NFTRules.pairType }
            .flatMap { current[$0.id]?.filter { $0.container == .map(NFTRules.dnatMap) }.map { NFTRules.key(of: $0.text) } ?? [] })
        for address in (addresses ?? []).sorted() where !pairAddresses.contains(address) && !removedPairAddresses.contains(address) {
            resources.append(Resource(ResourceID(PublicAddresses.resourceType, address), action: .delete, isInventoried: false,
                                      steps: [PublicAddresses.removal(address, on: node.publicInterface ?? "")], fingerprint: Fingerprint.of([address])))
        }
        for (address, interface) in strayAddresses.sorted(by: { $0.key < $1.key }) {
            resources.append(Resource(ResourceID(PublicAddresses.resourceType, "\(address) on \(interface)"), action: .delete,
                                      changes: [PropertyChange("address", from: "\(address) on \(interface)", to: nil)], isInventoried: false,
                                      steps: [PublicAddresses.removal(address, on: interface)], fingerprint: Fingerprint.of([address, interface])))
        }
        return resources
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
                changes += Self.diff(from: (now?.rules ?? []).map { Line(container: .chain(chain.name), text: $0) },
                                     to: [Line(container: .chain(chain.name), text: chain.rule)])
            }
        }
        return Resource(tableID, action: changes.isEmpty ? nil : .update, changes: changes, isDeclaredObject: false)
    }

    private func summary(_ id: ResourceID) -> String? {
        guard id.type == NFTRules.pairType, let pair = pairs[id.name] else { return nil }
        return RuleLines.summary(of: pair)
    }

    /// Lines removed and added: `- vm_a: tcp dport 22 accept …`, `+ @pair_dnat: 203.0.113.7 … : 10.0.0.7`.
    static func diff(from current: [Line], to wanted: [Line]) -> [PropertyChange] {
        RuleLines.changes(from: current, to: wanted, text: \.text, place: \.container.label)
    }
}
