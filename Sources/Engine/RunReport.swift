import Foundation

/// One run, as recorded and printed: what triggered it, against which revision, and how it ended.
public struct RunReport: Sendable, Codable {
    public enum Status: String, Sendable, Codable {
        /// Still going, or killed before it could finish (see ``interrupted``).
        case running
        /// Apply: everything is as declared.
        case converged
        /// Dry-run: nothing would change.
        case noChanges = "no-changes"
        /// Dry-run: changes would be made.
        case changesPending = "changes-pending"
        /// At least one resource failed, or a provider could not read its live state.
        case failed
        /// A guard refused the deletions; nothing was changed.
        case refused
        /// A saved plan was not applied: the desired revision or the live state it was made
        /// from changed since (see ``Plan/changedResources(since:)``); nothing was changed.
        case stale
        /// A run found still `running` by a later one: its process died.
        case interrupted
        /// The commit is not signed by an allowed key (`--verify-signatures`): nothing was
        /// planned, and the last applied state stays.
        case rejected
    }

    public struct Counts: Sendable, Codable, Equatable {
        public var unchanged = 0, updated = 0, wouldUpdate = 0, failed = 0, skipped = 0

        public init(_ outcomes: [ResourceOutcome]) {
            for outcome in outcomes {
                switch outcome.outcome {
                case .unchanged: unchanged += 1
                case .updated: updated += 1
                case .wouldUpdate: wouldUpdate += 1
                case .failed: failed += 1
                case .skipped: skipped += 1
                }
            }
        }

        public var total: Int { unchanged + updated + wouldUpdate + failed + skipped }
    }

    public var id: Int64?
    public var trigger: String
    /// A git commit id, or `sha256:…` of a directory's YAML files.
    public var revision: String
    /// For a commit: its author and subject.
    public var revisionNote: String?
    /// With `--verify-signatures`: who signed the commit (principal or user id, and key).
    public var signer: String?
    public var node: String
    public var dryRun: Bool
    public var startedAt: Date
    public var duration: Double
    public var status: Status
    public var counts: Counts
    /// What stopped the run, or a provider's part of it (live state unreadable, a refused prune).
    public var error: String?
    /// The providers that could not read their live state: their resources failed, the
    /// others' went on.
    public var unreadProviders: [String] = []
    public var outcomes: [ResourceOutcome]

    public init(trigger: String, revision: String, node: String, dryRun: Bool, startedAt: Date) {
        self.trigger = trigger
        self.revision = revision
        self.node = node
        self.dryRun = dryRun
        self.startedAt = startedAt
        duration = 0
        status = .running
        counts = Counts([])
        outcomes = []
    }
}

/// Where runs and the inventory are kept (the RunLog module implements it with SQLite).
///
/// Every method is called with the state directory's lock held.
public protocol RunRecorder: Sendable {
    /// Records a run as started and returns its id.
    func begin(_ run: RunReport) throws -> Int64
    /// Records a run's end: status, counts and every resource outcome.
    func finish(_ run: RunReport) throws
    /// What reconcile created on `node` and still manages.
    func inventory(node: String) throws -> Set<ResourceID>
    func addToInventory(_ resources: [ResourceID], node: String) throws
    func removeFromInventory(_ resources: [ResourceID], node: String) throws
    /// Handlers notified by a change whose run ended before running them (killed, or the
    /// handler failed): the next run runs them even when nothing else changed.
    func pendingHandlers(node: String) throws -> [ResourceID]
    func setHandler(_ handler: ResourceID, pending: Bool, node: String) throws
}
