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

    /// What a run has done so far: outcomes, what failed or was skipped (their dependents are
    /// skipped), and the handlers notified.
    private struct Progress {
        var outcomes: [ResourceOutcome] = []
        var broken: Set<ResourceID> = []
        /// Handler → who asked, in asking order; handlers left pending by an earlier run first.
        var delayed: [ResourceID: [Resource]] = [:]
        var delayedOrder: [ResourceID]
        /// Handlers recorded as pending in the run log.
        var pending: Set<ResourceID>
        let report: @Sendable (ResourceOutcome) -> Void

        init(pendingHandlers: [ResourceID], report: @escaping @Sendable (ResourceOutcome) -> Void) {
            delayedOrder = pendingHandlers
            for handler in pendingHandlers { delayed[handler] = [] }
            pending = Set(pendingHandlers)
            self.report = report
        }

        mutating func record(_ outcome: ResourceOutcome) {
            outcomes.append(outcome)
            if outcome.outcome == .failed || outcome.outcome == .skipped { broken.insert(outcome.resource) }
            report(outcome)
        }
    }

    func apply(_ plan: Plan) async -> [ResourceOutcome] {
        var run = Progress(pendingHandlers: plan.pendingHandlers, report: progress)
        for (index, level) in plan.steps.enumerated() {
            // A cancelled run (the daemon stopping) ends between batches: what is left is
            // skipped, handlers stay pending for the next run.
            if Task.isCancelled {
                for resource in plan.steps[index...].joined() {
                    run.record(resource.needsWork
                               ? ResourceOutcome(resource.id, .skipped, action: resource.action, changes: resource.changes,
                                                 error: "skipped: the run was interrupted")
                               : ResourceOutcome(resource.id, .unchanged, changes: resource.pendingChanges))
                }
                return run.outcomes
            }
            let succeeded = await converge(level, &run)
            await notify(succeeded, &run)
        }
        for handler in run.delayedOrder where !Task.isCancelled {
            run.record(await trigger(handler, notifiedBy: run.delayed[handler] ?? []))
        }
        return run.outcomes
    }

    /// One level of the plan: what needs no work, waits on a failure or is in conflict is
    /// recorded as such; the rest goes to its provider, one batch each. Returns what changed.
    private func converge(_ level: [Resource], _ run: inout Progress) async -> [Resource] {
        var ready: [String: [Resource]] = [:]
        for resource in level {
            if !resource.needsWork {
                run.record(ResourceOutcome(resource.id, .unchanged, changes: resource.pendingChanges))
            } else if let dependency = resource.dependsOn.first(where: run.broken.contains) {
                run.record(ResourceOutcome(resource.id, .skipped, action: resource.action, changes: resource.changes,
                                           error: "skipped: \(dependency) did not converge"))
            } else if let conflict = resource.conflict {
                run.record(ResourceOutcome(resource.id, .failed, action: resource.action, error: conflict))
            } else if let provider = provider(for: resource.id) {
                ready[provider.name, default: []].append(resource)
            } else {
                run.record(ResourceOutcome(resource.id, .failed, action: resource.action,
                                           error: "no provider manages \(resource.id.type) on node \(node)"))
            }
        }
        var succeeded: [Resource] = []
        for provider in providers {
            guard let batch = ready[provider.name], !batch.isEmpty else { continue }
            // Handlers are remembered as pending before the change is made and forgotten
            // once they have run: a run killed in between leaves them to the next run.
            let newlyPending = Set(batch.flatMap { $0.notifies.map(\.target) }).subtracting(run.pending)
            do {
                for handler in newlyPending.sorted() { try recorder.setHandler(handler, pending: true, node: node) }
            } catch {
                // Unrecorded, a crash after the change would lose the restart it needs.
                for resource in batch {
                    run.record(ResourceOutcome(resource.id, .failed, action: resource.action, error: "cannot record pending handlers: \(error)"))
                }
                continue
            }
            var fired: Set<ResourceID> = []
            let byID = Dictionary(batch.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            for outcome in await converge(batch, with: provider) {
                run.record(outcome)
                if outcome.outcome == .updated, let resource = byID[outcome.resource] {
                    succeeded.append(resource)
                    fired.formUnion(resource.notifies.map(\.target))
                }
            }
            for handler in newlyPending.subtracting(fired) { try? recorder.setHandler(handler, pending: false, node: node) }
            run.pending.formUnion(newlyPending.intersection(fired))
        }
        return succeeded
    }

    /// The notifications of what changed: immediate handlers run now, delayed ones are
    /// remembered for the end of the run.
    private func notify(_ succeeded: [Resource], _ run: inout Progress) async {
        var immediate: [ResourceID: [Resource]] = [:]
        var immediateOrder: [ResourceID] = []
        for resource in succeeded {
            for notification in resource.notifies {
                switch notification.timing {
                case .immediate:
                    if immediate[notification.target] == nil { immediateOrder.append(notification.target) }
                    immediate[notification.target, default: []].append(resource)
                case .delayed:
                    if run.delayed[notification.target] == nil { run.delayedOrder.append(notification.target) }
                    run.delayed[notification.target, default: []].append(resource)
                }
            }
        }
        for handler in immediateOrder {
            run.record(await trigger(handler, notifiedBy: immediate[handler] ?? []))
        }
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
