import DesiredState

/// One managed thing as planned for this run: what differs from the machine and how to fix it.
///
/// A provider fills it in from one batched read of live state (Chef's `load_current_value`
/// and comparison), with the exact ``steps`` that converge it; the engine decides whether to
/// act on it, and the same provider executes those steps and nothing else. Dry-run, apply and
/// a saved plan share this value, so what the plan shows is what apply does.
public struct Resource: Sendable {
    public enum Action: String, Sendable, Codable {
        case create, update, delete

        /// The plan's sign for it.
        public var symbol: String {
            switch self {
            case .create: "+"
            case .update: "~"
            case .delete: "-"
            }
        }
    }

    public var id: ResourceID
    /// nil: the resource is as declared.
    public var action: Action?
    /// Only the declared properties that differ.
    public var changes: [PropertyChange]
    /// A one-line description shown beside created resources: `203.0.113.8 ⇄ 10.0.0.8`.
    public var summary: String?
    /// Stored changes the running system does not have yet, e.g. memory that takes effect at
    /// the next restart. Shown and recorded; no action of their own.
    public var pendingChanges: [PropertyChange]
    /// Resources that must converge first; if one fails, this one is skipped.
    public var dependsOn: [ResourceID]
    /// Handlers to run when this resource is changed successfully.
    public var notifies: [Notify]
    /// Why this resource cannot be converged (e.g. a foreign object holds its name). Shown
    /// in the plan; the resource fails at apply without any call to its provider.
    public var conflict: String?
    /// A deletion that needs `--allow-prune` whatever the share, e.g. a running VM's disk.
    public var guardedDeletion: Bool
    /// Whether the inventory records it; handlers and adopted singletons are not recorded.
    public var isInventoried: Bool
    /// Whether it stands for an object a user declares (a VM, an IP pair, a firewall rule, a
    /// reservation), as the prune guard counts them; false for scaffolding reconcile adds
    /// around them (shared chains, jumps, include lines) and for parts of an object (a VM's volumes).
    public var isDeclaredObject: Bool
    /// Where the desired state declares it.
    public var source: SourceLocation?
    /// What converging it does, exactly (empty when nothing is to be done).
    public var steps: [Step]
    /// A deletion its provider makes in one transaction with its other changes (nftables):
    /// it is not moved ahead of them, as deletions otherwise are.
    public var isDeletedInTransaction = false
    /// What identifies the live state it was planned from: equal fingerprints, same live
    /// state (see ``Fingerprint``; a provider may compose it from digests of what it shares).
    public var fingerprint: String

    public init(
        _ id: ResourceID, action: Action?, changes: [PropertyChange] = [], summary: String? = nil,
        dependsOn: [ResourceID] = [], notifies: [Notify] = [], conflict: String? = nil,
        guardedDeletion: Bool = false, isInventoried: Bool = true, isDeclaredObject: Bool = true, source: SourceLocation? = nil,
        pendingChanges: [PropertyChange] = [], steps: [Step] = [], fingerprint: String = ""
    ) {
        self.steps = steps
        self.fingerprint = fingerprint
        self.isDeclaredObject = isDeclaredObject
        self.id = id
        self.action = action
        self.changes = changes
        self.summary = summary
        self.dependsOn = dependsOn
        self.notifies = notifies
        self.conflict = conflict
        self.guardedDeletion = guardedDeletion
        self.isInventoried = isInventoried
        self.source = source
        self.pendingChanges = pendingChanges
    }

    public var needsWork: Bool { action != nil || conflict != nil }
}

/// A request to run a handler (e.g. restart dhcpd) after a resource changed.
public struct Notify: Hashable, Sendable, Codable {
    public enum Timing: String, Sendable, Codable {
        /// Once, at the end of the run, however many resources asked.
        case delayed
        /// Right after the notifying resource's step of the run.
        case immediate
    }

    public var target: ResourceID
    public var timing: Timing

    public init(_ target: ResourceID, timing: Timing = .delayed) {
        self.target = target
        self.timing = timing
    }
}

extension Array where Element == Resource {
    /// Every resource of a batch failed with the same error, as `Provider.converge` reports it.
    public func failing(with message: String) -> [ResourceID: String] {
        Dictionary(map { ($0.id, message) }, uniquingKeysWith: { first, _ in first })
    }
}
