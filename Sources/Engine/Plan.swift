/// Every resource of a run, in the order the plan prints and apply walks them.
public struct Plan: Sendable {
    /// Deletions first, then the rest in dependency order (a resource after those it depends
    /// on; so is a deletion that depends on something, or is made in one transaction with
    /// its provider's other changes).
    public let resources: [Resource]
    /// Handlers an earlier run was notified to run but did not (see ``RunRecorder/pendingHandlers(node:)``).
    public let pendingHandlers: [ResourceID]

    public struct Counts: Sendable, Codable, Equatable {
        public var add = 0, change = 0, remove = 0, unchanged = 0, conflicts = 0

        public init(add: Int = 0, change: Int = 0, remove: Int = 0, unchanged: Int = 0, conflicts: Int = 0) {
            (self.add, self.change, self.remove, self.unchanged, self.conflicts) = (add, change, remove, unchanged, conflicts)
        }
    }

    /// The order apply walks: the deletions, then each dependency level in turn.
    public let steps: [[Resource]]

    public init(_ resources: [Resource], pendingHandlers: [ResourceID] = []) {
        self.pendingHandlers = pendingHandlers
        // Indices are sorted, not resources: moving 49,000 large values about costs more than comparing them.
        let order = resources.indices.sorted { resources[$0].id < resources[$1].id }
        let goesFirst = { (resource: Resource) in resource.action == .delete && resource.dependsOn.isEmpty && !resource.isDeletedInTransaction }
        let first = order.filter { goesFirst(resources[$0]) }.map { resources[$0] }
        let rest = order.filter { !goesFirst(resources[$0]) }.map { resources[$0] }
        steps = [first] + DependencyOrder.levels(rest)
        self.resources = steps.flatMap { $0 }
    }

    public var counts: Counts {
        var counts = Counts(change: pendingHandlers.count)
        for resource in resources {
            if resource.conflict != nil { counts.conflicts += 1; continue }
            switch resource.action {
            case .create: counts.add += 1
            case .update: counts.change += 1
            case .delete: counts.remove += 1
            case nil: counts.unchanged += 1
            }
        }
        return counts
    }

    public var hasChanges: Bool { !pendingHandlers.isEmpty || resources.contains(where: \.needsWork) }

    public var deletions: [Resource] { resources.filter { $0.action == .delete } }
}

/// Groups resources into levels: each depends only on resources of earlier levels.
enum DependencyOrder {
    /// - Parameter sorted: the resources in the order of their ids.
    static func levels(_ sorted: [Resource]) -> [[Resource]] {
        // Most plans (all firewall and DHCP ones) have no dependencies: one level.
        guard sorted.contains(where: { !$0.dependsOn.isEmpty }) else { return sorted.isEmpty ? [] : [sorted] }
        let byID = Dictionary(sorted.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var depth: [ResourceID: Int] = [:]
        func depthOf(_ id: ResourceID, visiting: Set<ResourceID>) -> Int {
            if let known = depth[id] { return known }
            guard let resource = byID[id], !visiting.contains(id) else { return -1 }  // outside the plan, or a cycle
            let deps = resource.dependsOn.map { depthOf($0, visiting: visiting.union([id])) }
            let value = (deps.max() ?? -1) + 1
            depth[id] = value
            return value
        }
        var levels: [[Resource]] = []
        for resource in sorted {
            let level = depthOf(resource.id, visiting: [])
            while levels.count <= level { levels.append([]) }
            levels[level].append(resource)
        }
        return levels
    }
}
