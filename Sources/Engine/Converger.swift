import DesiredState

/// Applies a plan: level by level in dependency order, each provider's ready resources in one
/// call, then one re-read per provider to verify; then the notifications.
struct Converger {
    let providers: [any Provider]
    let desired: DesiredState
    let owned: Set<ResourceID>
    let node: String
    let recorder: any RunRecorder
    let progress: @Sendable (ResourceOutcome) -> Void

    func apply(_ plan: Plan) async -> [ResourceOutcome] {
        var outcomes: [ResourceOutcome] = []
        var broken: Set<ResourceID> = []  // failed or skipped: their dependents are skipped
        var delayed: [ResourceID: [Resource]] = [:]  // handler → who asked, in asking order
        var delayedOrder = plan.pendingHandlers
        for handler in plan.pendingHandlers { delayed[handler] = [] }
        var pending = Set(plan.pendingHandlers)

        func record(_ outcome: ResourceOutcome) {
            outcomes.append(outcome)
            if outcome.outcome == .failed || outcome.outcome == .skipped { broken.insert(outcome.resource) }
            progress(outcome)
        }

        for (index, level) in plan.steps.enumerated() {
            // A cancelled run (the daemon stopping) ends between batches: what is left is
            // skipped, handlers stay pending for the next run.
            if Task.isCancelled {
                for resource in plan.steps[index...].joined() {
                    record(resource.needsWork
                           ? ResourceOutcome(resource.id, .skipped, action: resource.action, changes: resource.changes,
                                             error: "skipped: the run was interrupted")
                           : ResourceOutcome(resource.id, .unchanged, changes: resource.pendingChanges))
                }
                return outcomes
            }
            var ready: [String: [Resource]] = [:]
            for resource in level {
                if !resource.needsWork {
                    record(ResourceOutcome(resource.id, .unchanged, changes: resource.pendingChanges))
                } else if let dependency = resource.dependsOn.first(where: broken.contains) {
                    record(ResourceOutcome(resource.id, .skipped, action: resource.action, changes: resource.changes,
                                           error: "skipped: \(dependency) did not converge"))
                } else if let conflict = resource.conflict {
                    record(ResourceOutcome(resource.id, .failed, action: resource.action, error: conflict))
                } else if let provider = provider(for: resource.id) {
                    ready[provider.name, default: []].append(resource)
                } else {
                    record(ResourceOutcome(resource.id, .failed, action: resource.action,
                                           error: "no provider manages \(resource.id.type) on node \(node)"))
                }
            }
            var succeeded: [Resource] = []
            for provider in providers {
                guard let batch = ready[provider.name], !batch.isEmpty else { continue }
                // Handlers are remembered as pending before the change is made and forgotten
                // once they have run: a run killed in between leaves them to the next run.
                let newlyPending = Set(batch.flatMap { $0.notifies.map(\.target) }).subtracting(pending)
                do {
                    for handler in newlyPending.sorted() { try recorder.setHandler(handler, pending: true, node: node) }
                } catch {
                    // Unrecorded, a crash after the change would lose the restart it needs.
                    for resource in batch {
                        record(ResourceOutcome(resource.id, .failed, action: resource.action, error: "cannot record pending handlers: \(error)"))
                    }
                    continue
                }
                var fired: Set<ResourceID> = []
                let byID = Dictionary(batch.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
                for outcome in await converge(batch, with: provider) {
                    record(outcome)
                    if outcome.outcome == .updated, let resource = byID[outcome.resource] {
                        succeeded.append(resource)
                        fired.formUnion(resource.notifies.map(\.target))
                    }
                }
                for handler in newlyPending.subtracting(fired) { try? recorder.setHandler(handler, pending: false, node: node) }
                pending.formUnion(newlyPending.intersection(fired))
            }
            var immediate: [ResourceID: [Resource]] = [:]
            var immediateOrder: [ResourceID] = []
            for resource in succeeded {
                for notification in resource.notifies {
                    switch notification.timing {
                    case .immediate:
                        if immediate[notification.target] == nil { immediateOrder.append(notification.target) }
                        immediate[notification.target, default: []].append(resource)
                    case .delayed:
                        if delayed[notification.target] == nil { delayedOrder.append(notification.target) }
                        delayed[notification.target, default: []].append(resource)
                    }
                }
            }
            for handler in immediateOrder {
                record(await trigger(handler, notifiedBy: immediate[handler] ?? []))
            }
        }
        for handler in delayedOrder where !Task.isCancelled {
            record(await trigger(handler, notifiedBy: delayed[handler] ?? []))
        }
        return outcomes
    }

    /// Converges one provider's batch, then verifies it against a fresh read of live state.
    private func converge(_ batch: [Resource], with provider: any Provider) async -> [ResourceOutcome] {
        let creates = batch.filter { $0.action == .create && $0.isInventoried }.map(\.id)
        do {
            // Recorded before creating, so a crash in between still lets a later run prune it.
            try recorder.addToInventory(creates, node: node)
        } catch {
            return batch.map { ResourceOutcome($0.id, .failed, action: $0.action, error: "cannot record inventory: \(error)") }
        }
        let errors = await provider.converge(batch)
        let fresh: [ResourceID: Resource]
        do {
            let replanned = try await provider.plan(desired, owned: owned)
            fresh = Dictionary(replanned.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        } catch {
            return batch.map {
                ResourceOutcome($0.id, .failed, action: $0.action, error: errors[$0.id] ?? "cannot verify: \(error)")
            }
        }
        var outcomes: [ResourceOutcome] = []
        var deleted: [ResourceID] = []
        for resource in batch {
            if let error = errors[resource.id] {
                outcomes.append(ResourceOutcome(resource.id, .failed, action: resource.action, error: error))
            } else if let remaining = fresh[resource.id], remaining.action != nil {
                let diffs = remaining.changes.map(\.description).joined(separator: "; ")
                outcomes.append(ResourceOutcome(resource.id, .failed, action: resource.action,
                                                error: "still differs after converging: \(diffs.isEmpty ? remaining.action?.rawValue ?? "" : diffs)"))
            } else {
                if resource.action == .delete { deleted.append(resource.id) }
                outcomes.append(ResourceOutcome(resource.id, .updated, action: resource.action, changes: resource.changes))
            }
        }
        do {
            try recorder.removeFromInventory(deleted, node: node)
        } catch {
            // The deletion happened; a stale inventory entry is pruned harmlessly next run.
        }
        return outcomes
    }

    private func trigger(_ handler: ResourceID, notifiedBy: [Resource]) async -> ResourceOutcome {
        let askers = notifiedBy.isEmpty ? "an earlier run that ended before running it" : notifiedBy.map(\.id.description).joined(separator: ", ")
        let reason = PropertyChange("notified by", from: nil, to: askers)
        guard let provider = provider(for: handler) else {
            return ResourceOutcome(handler, .failed, error: "no provider handles \(handler)")
        }
        do {
            try await provider.trigger(handler, notifiedBy: notifiedBy)
            try? recorder.setHandler(handler, pending: false, node: node)
            return ResourceOutcome(handler, .updated, changes: [reason])
        } catch {
            return ResourceOutcome(handler, .failed, changes: [reason], error: "\(error)")
        }
    }

    private func provider(for id: ResourceID) -> (any Provider)? {
        providers.first { $0.resourceTypes.contains(id.type) }
    }
}
