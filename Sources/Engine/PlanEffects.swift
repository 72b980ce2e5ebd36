import Basics

/// What apply will do to the machine for a plan (`--show-commands`): the batches
/// ``Converger`` hands to the providers when nothing fails — the plan's levels in order, each
/// level's resources that need work one batch per provider, in provider order — each with the
/// effects its provider performs for it. A resource in conflict, and what waits on it, is in
/// no batch.
public struct PlanEffects: Sendable {
    public let plan: Plan
    let providers: [any Provider]

    public struct Batch: Sendable {
        public var provider: String
        public var effects: [Effect]
    }

    public init(plan: Plan, providers: [any Provider]) {
        self.plan = plan
        self.providers = providers
    }

    public var batches: [Batch] {
        var broken: Set<ResourceID> = []
        var batches: [Batch] = []
        for level in plan.steps {
            var ready: [String: [Resource]] = [:]
            for resource in level where resource.needsWork {
                guard resource.conflict == nil, !resource.dependsOn.contains(where: broken.contains),
                      let provider = providers.first(where: { $0.resourceTypes.contains(resource.id.type) }) else {
                    broken.insert(resource.id)
                    continue
                }
                ready[provider.name, default: []].append(resource)
            }
            for provider in providers {
                guard let batch = ready[provider.name], !batch.isEmpty else { continue }
                batches.append(Batch(provider: provider.name, effects: provider.effects(batch)))
            }
        }
        return batches
    }
}
