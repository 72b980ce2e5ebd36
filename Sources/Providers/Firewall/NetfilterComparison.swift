import Basics
import DesiredState
import Engine

/// One rule or map element where it sits (iptables: a chain of a table; nftables: a chain or a
/// map of reconcile's table), compared as it is.
struct NetfilterLine<Place: Hashable & Sendable>: Equatable, Sendable {
    var place: Place
    var text: String
}

/// A declared resource's lines: where it is declared, its wanted lines in the places that
/// differ, every place it has lines in (one to three: a list), and whether it has lines in a
/// place that is as wanted (and so exists).
struct NetfilterWanted<Place: Hashable & Sendable>: Sendable {
    var source: SourceLocation?
    var lines: [NetfilterLine<Place>] = []
    var places: [Place] = []
    var inMatching = false

    mutating func note(_ text: String, in place: Place, differs: Bool, source: SourceLocation?) {
        if self.source == nil { self.source = source }
        if !places.contains(place) { places.append(place) }
        if differs { lines.append(NetfilterLine(place: place, text: text)) } else { inMatching = true }
    }
}

/// What a backend's ruleset tells the shared comparison (``NetfilterComparison``): how its
/// places are named, what exists, who is in conflict, and the steps of each resource.
protocol NetfilterBackend: Sendable {
    associatedtype Place: NetfilterPlace
    typealias Line = NetfilterLine<Place>

    /// The resource types of its rules, pairs and chains.
    var owners: ReconcileTag.Owners { get }
    /// Whether a chain of this name is live.
    func chainExists(_ name: String) -> Bool
    /// Why a declared resource cannot be made (a chain of that name someone else made). Default: nothing.
    func conflict(_ id: ResourceID) -> String?
    /// Whether a chain holds its rules in another order than declared (a hand edit).
    func orderChanged(_ id: ResourceID) -> Bool
    /// Whether removing it counts as removing something users declared (the prune guard's
    /// count). Default: yes.
    func isDeclaredObject(_ id: ResourceID) -> Bool
    /// The DNAT mappings among live lines: public address → private one.
    func dnat(_ lines: [Line]) -> [(public: String, private: String)]
    /// Gives a resource its steps and the fingerprint of the live state it was compared with.
    func attach(to resource: inout Resource, wanted: NetfilterWanted<Place>, live: [Line])
}

extension NetfilterBackend {
    func conflict(_ id: ResourceID) -> String? { nil }
    func isDeclaredObject(_ id: ResourceID) -> Bool { true }
}

/// Where a backend's lines sit; `label` is how the plan names it: `filter/RC-VM-a`, `@pair_dnat`.
protocol NetfilterPlace: Hashable, Comparable, Sendable {
    var label: String { get }
}

/// What both netfilter backends compare the same way, whatever their rulesets look like:
/// each declared resource's wanted lines against its live ones, its pair's public address,
/// the removal of what is live and no longer declared, and of the labelled addresses no pair
/// wants. ``IPTablesComparison`` and ``NFTComparison`` say what their lines are (through a
/// ``NetfilterBackend``) and add what only they have: jumps from built-in chains; the table.
struct NetfilterComparison: Sendable {
    let node: Node
    let pairs: [String: IPPair]
    /// Our labelled public addresses; nil when the public interface does not exist.
    let addresses: Set<String>?
    /// Every address on the public interface, ours or not (a pair needs its own added only when it is not there).
    let presentAddresses: Set<String>?
    /// Our labelled addresses on other interfaces than the public one (it changed): to remove.
    let strayAddresses: [String: String]
    /// Only the removal of what is ours (another backend is now the Host's).
    let retiring: Bool

    init(desired: DesiredState, addresses: PublicAddresses, node: Node, retiring: Bool) {
        self.node = node
        pairs = Dictionary(desired.ipPairs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.addresses = node.publicInterface.flatMap(addresses.on) ?? (node.publicInterface == nil ? [] : nil)
        presentAddresses = node.publicInterface.flatMap(addresses.present) ?? (node.publicInterface == nil ? [] : nil)
        strayAddresses = addresses.ours.filter { $0.value != node.publicInterface }
        self.retiring = retiring
    }

    /// The declared resources (compared on every core: 49,000 of them), then the removals of
    /// what `current` holds (live lines of the places that differ, by owner) and no declared
    /// resource wants, then the removals of labelled addresses no pair wants.
    func resources<Backend: NetfilterBackend>(_ backend: Backend, wanted: [ResourceID: NetfilterWanted<Backend.Place>],
                                              current: [ResourceID: [Backend.Line]]) -> [Resource] {
        let pairType = backend.owners.pair
        var resources = Array(wanted).concurrentMap { [current] id, entry in declared(id, entry, live: current[id], backend) }
        for id in current.keys.filter({ wanted[$0] == nil }).sorted() {
            // A removal says what goes: its lines, and a pair's public address.
            var changes = diff(from: current[id] ?? [], to: [])
            if id.type == pairType, !retiring, let interface = node.publicInterface,
               let address = backend.dnat(current[id] ?? []).first?.public, addresses?.contains(address) == true {
                changes.append(PropertyChange("address", from: "\(address) on \(interface)", to: nil))
            }
            // Retiring, the objects move to the other backend: nothing declared is removed.
            var resource = Resource(id, action: .delete, changes: changes, isDeclaredObject: backend.isDeclaredObject(id) && !retiring)
            backend.attach(to: &resource, wanted: NetfilterWanted(), live: current[id] ?? [])
            resources.append(resource)
        }
        guard !retiring else { return resources }
        let removedPairs = resources.filter { $0.action == .delete && $0.id.type == pairType }
        let goingWithPairs = Set(removedPairs.flatMap { backend.dnat(current[$0.id] ?? []).map { $0.public } })
        let pairAddresses = Set(pairs.values.map(\.publicIP.description))
        for address in (addresses ?? []).sorted() where !pairAddresses.contains(address) && !goingWithPairs.contains(address) {
            resources.append(addressRemoval(ResourceID(PublicAddresses.resourceType, address), address: address, interface: node.publicInterface ?? ""))
        }
        for (address, interface) in strayAddresses.sorted(by: { $0.key < $1.key }) {
            resources.append(addressRemoval(ResourceID(PublicAddresses.resourceType, "\(address) on \(interface)"), address: address, interface: interface,
                                            changes: [PropertyChange("address", from: "\(address) on \(interface)", to: nil)]))
        }
        return resources
    }

    /// A labelled address no pair wants, removed.
    private func addressRemoval(_ id: ResourceID, address: String, interface: String, changes: [PropertyChange] = []) -> Resource {
        Resource(id, action: .delete, changes: changes, isInventoried: false, steps: [PublicAddresses.removal(address, on: interface)],
                 fingerprint: Fingerprint.of([address, interface, addressState(address)]))
    }

    /// A declared resource: its line changes, its pair's address, a chain's order, and why it cannot be made.
    private func declared<Backend: NetfilterBackend>(_ id: ResourceID, _ entry: NetfilterWanted<Backend.Place>, live: [Backend.Line]?,
                                                     _ backend: Backend) -> Resource {
        let (pairType, chainType) = (backend.owners.pair, backend.owners.chain)
        // A chain exists when it is live; another resource when it has lines anywhere.
        let exists = id.type == chainType ? backend.chainExists(id.name) : entry.inMatching || live != nil
        var changes = diff(from: live ?? [], to: entry.lines)
        var conflict = backend.conflict(id)
        if id.type == pairType, let pair = pairs[id.name] {
            switch PublicAddresses.placement(of: pair, on: node, ours: presentAddresses) {
            case .conflict(let why): conflict = why
            case .missing(let change): changes.append(change)
            case .present: break
            }
        }
        if id.type == chainType, changes.isEmpty, exists, backend.orderChanged(id) {
            changes.append(PropertyChange("rule order", from: "changed by hand", to: "as declared"))
        }
        let action: Resource.Action? = !exists ? .create : changes.isEmpty ? nil : .update
        let summary = id.type == pairType ? pairs[id.name].map(RuleLines.summary) : nil
        var resource = Resource(id, action: action, changes: changes, summary: summary, conflict: action == nil ? nil : conflict,
                                isDeclaredObject: backend.isDeclaredObject(id), source: entry.source)
        backend.attach(to: &resource, wanted: entry, live: live ?? [])
        return resource
    }

    /// Lines removed and added: `- filter/RC-VM-a: -j ACCEPT`, `+ @pair_dnat: 203.0.113.7 … : 10.0.0.7`.
    /// (Closures, not key paths: a key path through a generic type is made at run time on each
    /// call, demangling its type — 49,000 calls cost a no-op ~10 %.)
    func diff<Place: NetfilterPlace>(from current: [NetfilterLine<Place>], to wanted: [NetfilterLine<Place>]) -> [PropertyChange] {
        RuleLines.changes(from: current, to: wanted, text: { $0.text }, place: { $0.place.label })
    }

    /// A resource's fingerprint: the digests of the places it touches, and a pair's address.
    func fingerprint<Place>(_ id: ResourceID, places: [Place], digests: LiveDigests<Place>, pairType: String) -> String {
        let pair = id.type == pairType ? pairs[id.name] : nil
        return digests.fingerprint(places) + (pair.map { ";" + addressState($0.publicIP.description) } ?? "")
    }

    /// The labelled-address state a pair's fingerprint names.
    func addressState(_ address: String) -> String {
        guard let addresses else { return "no public interface" }
        return addresses.contains(address) ? "on \(node.publicInterface ?? "")" : "absent"
    }
}

/// Each place's live lines hashed once, on every core: many resources share a place
/// (`RC-FORWARD`, a map), and a resource's fingerprint only names its places' digests.
struct LiveDigests<Place: NetfilterPlace>: Sendable {
    private let digests: [Place: String]

    /// - Parameter lines: a place's live lines, in an order that does not change by itself (nil: absent).
    init(_ places: [Place], lines: @Sendable (Place) -> [String]?) {
        digests = Dictionary(uniqueKeysWithValues: zip(places, places.concurrentMap { Fingerprint.of(lines($0) ?? ["(absent)"]) }))
    }

    subscript(place: Place) -> String { digests[place] ?? Fingerprint.of(["(absent)"]) }

    /// `filter/RC-VM-a=<digest>;…`, in the order given.
    func fingerprint(_ places: [Place]) -> String { places.map { "\($0.label)=\(self[$0])" }.joined(separator: ";") }
}
