/// Refuses deletions that look like an accident, unless the run allows pruning: a guarded one
/// (a running VM's disk), all of a node's declared objects, more than a share of them, or
/// objects the inventory does not know (a new or wrong state directory).
public struct PruneGuard: Sendable {
    public var allowPrune: Bool
    /// The largest share of declared objects a run may delete without `--allow-prune`.
    public var maxShare: Double

    public init(allowPrune: Bool = false, maxShare: Double = 0.5) {
        self.allowPrune = allowPrune
        self.maxShare = maxShare
    }

    /// Why the plan's deletions are refused, or nil when they may go ahead.
    ///
    /// The share counts declared objects only (``Resource/isDeclaredObject``): VMs, pairs,
    /// rules and reservations that exist on the node now, changed or not. Scaffolding such as
    /// shared chains and include lines would otherwise make "remove everything" look small.
    /// - Parameter inventory: what this state directory's runs created or managed on the node.
    public func refusal(_ plan: Plan, inventory: Set<ResourceID>) -> String? {
        guard !allowPrune else { return nil }
        if let guarded = plan.deletions.first(where: \.guardedDeletion) {
            return "refusing to delete \(guarded.id) without --allow-prune"
        }
        // Counted in one pass, without copying 49,000 resources.
        var managed = 0, deletions: [ResourceID] = []
        for resource in plan.resources where resource.isInventoried && resource.isDeclaredObject {
            if resource.action != .create { managed += 1 }
            if resource.action == .delete { deletions.append(resource.id) }
        }
        guard !deletions.isEmpty else { return nil }
        let unknown = deletions.filter { !inventory.contains($0) }
        if !unknown.isEmpty {
            let examples = unknown.prefix(3).map(\.description).joined(separator: ", ")
            return "refusing to delete \(unknown.count) objects this state directory's inventory does not list (\(examples)"
                + "\(unknown.count > 3 ? ", …" : "")) without --allow-prune; is --state-dir the one that manages this node?"
        }
        if deletions.count >= managed {
            return "refusing to delete all \(managed) declared objects of this node (VMs, pairs, rules, reservations) without --allow-prune"
        }
        let share = Double(deletions.count) / Double(managed)
        if share > maxShare {
            let percent = Int((maxShare * 100).rounded())
            return "refusing to delete \(deletions.count) of \(managed) declared objects of this node (more than \(percent)%) without --allow-prune"
        }
        return nil
    }
}
