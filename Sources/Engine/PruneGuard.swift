/// Refuses deletions that look like an accident: all of a node's managed resources, more than
/// a share of them, or a guarded one (a running VM's disk), unless the run allows pruning.
public struct PruneGuard: Sendable {
    public var allowPrune: Bool
    /// The largest share of managed resources a run may delete without `--allow-prune`.
    public var maxShare: Double

    public init(allowPrune: Bool = false, maxShare: Double = 0.5) {
        self.allowPrune = allowPrune
        self.maxShare = maxShare
    }

    /// Why the plan's deletions are refused, or nil when they may go ahead.
    ///
    /// "Managed" counts what reconcile manages on the node now: every inventoried resource of
    /// the plan that exists, changed or not, whether or not the inventory remembers it.
    public func refusal(_ plan: Plan) -> String? {
        guard !allowPrune else { return nil }
        let managed = plan.resources.filter { $0.isInventoried && $0.action != .create }.count
        let deletions = plan.deletions.filter(\.isInventoried)
        if let guarded = plan.deletions.first(where: \.guardedDeletion) {
            return "refusing to delete \(guarded.id) without --allow-prune"
        }
        guard !deletions.isEmpty, managed > 0 else { return nil }
        if deletions.count >= managed {
            return "refusing to delete all \(managed) managed resources of this node without --allow-prune"
        }
        let share = Double(deletions.count) / Double(managed)
        if share > maxShare {
            let percent = Int((maxShare * 100).rounded())
            return "refusing to delete \(deletions.count) of \(managed) managed resources (more than \(percent)%) without --allow-prune"
        }
        return nil
    }
}
