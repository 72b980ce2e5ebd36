import DesiredState
import Foundation

/// One run of reconcile for one node: plan → (print) → guard → converge or report → record.
///
/// Level-based, like controller-runtime: a run never trusts why it was triggered; it re-reads
/// the desired state it is given and the live state through the providers.
public struct Reconciler: Sendable {
    public struct Options: Sendable {
        public var dryRun: Bool
        public var pruneGuard: PruneGuard
        public var trigger: String
        /// A plan made earlier (`reconcile apply FILE`): applied instead of the one made now,
        /// only if the two are the same but for when they were made.
        public var saved: Plan?

        public init(dryRun: Bool, pruneGuard: PruneGuard = PruneGuard(), trigger: String = "manual", saved: Plan? = nil) {
            self.dryRun = dryRun
            self.pruneGuard = pruneGuard
            self.trigger = trigger
            self.saved = saved
        }
    }

    public let node: String
    public let providers: [any Provider]
    public let recorder: any RunRecorder
    public let clock: @Sendable () -> Date

    public init(node: String, providers: [any Provider], recorder: any RunRecorder, clock: @escaping @Sendable () -> Date = Date.init) {
        self.node = node
        self.providers = providers
        self.recorder = recorder
        self.clock = clock
    }

    /// Runs once. `onPlan` sees the plan (and what apply will do for it) before anything
    /// changes; `onProgress` each outcome.
    /// Errors end up in the report (and the run log), not thrown; only a failure to record
    /// the run's start is thrown, since then nothing may be changed.
    public func run(
        _ desired: DesiredState, revision: String, revisionNote: String? = nil, signer: String? = nil, options: Options,
        onPlan: (PlanEffects) -> Void = { _ in }, onProgress: @escaping @Sendable (ResourceOutcome) -> Void = { _ in }
    ) async throws -> RunReport {
        let started = clock()
        var report = RunReport(trigger: options.trigger, revision: revision, node: node, dryRun: options.dryRun, startedAt: started)
        report.revisionNote = revisionNote
        report.signer = signer
        // 1. Record the start, so a run that dies mid-way is found as interrupted.
        report.id = try recorder.begin(report)
        do {
            // 2. Read live state and compare, one batch per provider; a provider that cannot
            // read fails only its own resources (and what waits on them).
            let owned = try recorder.inventory(node: node)
            let (resources, unread) = await planEach(desired, owned: owned)
            report.unreadProviders = unread.map(\.provider)
            report.error = unread.isEmpty ? nil : unread.map(\.reason).joined(separator: "; ")
            // A handler of an unread provider stays pending for a run that can read it.
            let pending = try recorder.pendingHandlers(node: node).filter { handler in
                providers.contains { !report.unreadProviders.contains($0.name) && $0.resourceTypes.contains(handler.type) }
            }
            var plan = Plan(resources, pendingHandlers: pending)
            // 3. A saved plan is applied only while the live state it was made from is unchanged.
            let stale = options.saved?.changedResources(since: plan) ?? []
            if let saved = options.saved, stale.isEmpty { plan = saved }
            onPlan(PlanEffects(plan: plan, providers: providers))
            // 4. Guard deletions.
            if !stale.isEmpty {
                report.status = .stale
                report.error = Self.joined(report.error, Self.staleness(stale))
            } else if let refusal = options.pruneGuard.refusal(plan, inventory: owned) {
                report.status = options.dryRun ? .changesPending : .refused
                report.error = Self.joined(report.error, refusal)
                report.outcomes = plannedOutcomes(plan)
            } else if options.dryRun {
                // 5a. Dry-run: report, change nothing.
                report.outcomes = plannedOutcomes(plan)
                report.outcomes.forEach(onProgress)
            } else {
                // 5b. What exists as declared is this state directory's to manage from now on
                // (a new state directory learns what an earlier one made), then converge,
                // verify, notify.
                let known = plan.resources.filter { $0.isInventoried && ($0.action == nil || $0.action == .update) && !owned.contains($0.id) }
                try recorder.addToInventory(known.map(\.id), node: node)
                let converger = Converger(providers: providers, desired: desired, owned: owned, node: node,
                                          recorder: recorder, progress: onProgress)
                report.outcomes = await converger.apply(plan)
                if Task.isCancelled { report.status = .interrupted }
            }
        } catch {
            report.error = Self.joined(report.error, "\(error)")
            report.status = .failed
        }
        report.counts = RunReport.Counts(report.outcomes)
        if report.status == .running {
            report.status =
                switch (options.dryRun, report.counts.failed > 0 || !report.unreadProviders.isEmpty, report.counts.wouldUpdate > 0) {
                case (_, true, _): .failed
                case (true, false, true): .changesPending
                case (true, false, false): .noChanges
                case (false, false, _): .converged
                }
        }
        // 6. Record the end.
        report.duration = clock().timeIntervalSince(started)
        try recorder.finish(report)
        return report
    }

    /// Each provider's plan, in order. One that cannot read its live state gets each resource
    /// it declares or owns failed with the reason, so that what depends on them is skipped
    /// (a retiring backend waits on them, see ``Provider/waitsForEarlierProviders``).
    private func planEach(_ desired: DesiredState, owned: Set<ResourceID>) async -> ([Resource], [(provider: String, reason: String)]) {
        var resources: [Resource] = []
        var unread: [(provider: String, reason: String)] = []
        for provider in providers {
            let owns = owned.filter { provider.resourceTypes.contains($0.type) }
            var planned: [Resource]
            do {
                planned = try await provider.plan(desired, owned: owns)
            } catch {
                let reason = "\(provider.name): cannot read live state: \(error)"
                unread.append((provider.name, reason))
                planned = owns.union(provider.declared(desired)).sorted().map { Resource($0, action: nil, conflict: reason, isInventoried: false) }
            }
            if provider.waitsForEarlierProviders {
                let earlier = resources.filter(\.needsWork).map(\.id)
                for index in planned.indices where planned[index].needsWork { planned[index].dependsOn += earlier }
            }
            if resources.isEmpty { resources = planned } else { resources += planned }  // 49,000 resources not copied for nothing
        }
        return (resources, unread)
    }

    static func joined(_ first: String?, _ second: String) -> String {
        first.map { "\($0); \(second)" } ?? second
    }

    /// `plan is stale: iptables_chain[RC-VM-a] changed since the plan was made`, naming up to five.
    static func staleness(_ changed: [ResourceID]) -> String {
        let named = changed.prefix(5).map(\.description).joined(separator: ", ")
        let more = changed.count > 5 ? " and \(changed.count - 5) more" : ""
        return "plan is stale: \(named)\(more) changed since the plan was made; nothing was applied (make a new plan)"
    }

    /// What a run that changes nothing reports for each planned resource and pending handler.
    private func plannedOutcomes(_ plan: Plan) -> [ResourceOutcome] {
        plan.resources.map { resource in
            if let conflict = resource.conflict {
                return ResourceOutcome(resource.id, .failed, action: resource.action, error: conflict)
            }
            guard let action = resource.action else {
                return ResourceOutcome(resource.id, .unchanged, changes: resource.pendingChanges)
            }
            return ResourceOutcome(resource.id, .wouldUpdate, action: action, changes: resource.changes)
        } + plan.pendingHandlers.map { ResourceOutcome($0, .wouldUpdate, changes: [PropertyChange("pending", from: nil, to: "notified by an earlier run")]) }
    }
}

/// A run stopped as a whole.
public struct RunError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
