import DesiredState

extension Plan {
    /// A plan as a file holds it (`reconcile plan --out`): every resource with its steps and
    /// the fingerprint of the live state it was planned from. A step shared by many resources
    /// (a hosts file carried by each reservation) is stored once and named by its index.
    public struct Stored: Codable, Sendable {
        public struct Entry: Codable, Sendable {
            public var resource: String
            public var action: Resource.Action?
            public var changes: [PropertyChange]
            public var pendingChanges: [PropertyChange]
            public var summary: String?
            public var conflict: String?
            public var dependsOn: [String]
            public var notifies: [Notify]
            public var guardedDeletion: Bool
            public var isInventoried: Bool
            public var isDeclaredObject: Bool
            public var isDeletedInTransaction: Bool
            public var source: SourceLocation?
            public var fingerprint: String
            /// Indices into ``Stored/steps``.
            public var steps: [Int]
        }

        public var resources: [Entry]
        public var steps: [Step]
        public var pendingHandlers: [String]
    }

    public var stored: Stored {
        var index: [String: Int] = [:]
        var steps: [Step] = []
        let entries = resources.map { resource in
            Stored.Entry(
                resource: resource.id.description, action: resource.action, changes: resource.changes, pendingChanges: resource.pendingChanges,
                summary: resource.summary, conflict: resource.conflict, dependsOn: resource.dependsOn.map(\.description),
                notifies: resource.notifies, guardedDeletion: resource.guardedDeletion, isInventoried: resource.isInventoried,
                isDeclaredObject: resource.isDeclaredObject, isDeletedInTransaction: resource.isDeletedInTransaction, source: resource.source, fingerprint: resource.fingerprint,
                steps: resource.steps.map { step in
                    if let known = index[step.key] { return known }
                    steps.append(step)
                    index[step.key] = steps.count - 1
                    return steps.count - 1
                })
        }
        return Stored(resources: entries, steps: steps, pendingHandlers: pendingHandlers.map(\.description))
    }

    /// The plan a file holds. - Throws: ``RunError`` naming the first malformed entry.
    public init(_ stored: Stored) throws {
        func id(_ text: String) throws -> ResourceID {
            guard let id = ResourceID(parsing: text) else { throw RunError("not a resource name: \(text)") }
            return id
        }
        let resources = try stored.resources.map { entry in
            var resource = Resource(
                try id(entry.resource), action: entry.action, changes: entry.changes, summary: entry.summary,
                dependsOn: try entry.dependsOn.map(id), notifies: entry.notifies, conflict: entry.conflict,
                guardedDeletion: entry.guardedDeletion, isInventoried: entry.isInventoried, isDeclaredObject: entry.isDeclaredObject,
                source: entry.source, pendingChanges: entry.pendingChanges, fingerprint: entry.fingerprint)
            resource.isDeletedInTransaction = entry.isDeletedInTransaction
            resource.steps = try entry.steps.map { index in
                guard stored.steps.indices.contains(index) else { throw RunError("\(entry.resource): no step \(index)") }
                return stored.steps[index]
            }
            return resource
        }
        self.init(resources, pendingHandlers: try stored.pendingHandlers.map(id))
    }

    /// The resources whose live state changed between this plan and `fresh`, made now from the
    /// same desired revision: a different fingerprint, action, conflict or step, or a resource
    /// only one of them has (a handler pending in only one counts too). Empty: applying this
    /// plan is applying `fresh`.
    public func changedResources(since fresh: Plan) -> [ResourceID] {
        let now = Dictionary(fresh.resources.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        // Each shared step compared once: a hosts file is carried by thousands of reservations.
        let freshSteps = Dictionary(fresh.resources.uniqueSteps.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        let differingSteps = Set(resources.uniqueSteps.filter { freshSteps[$0.key] != $0 }.map(\.key))
        var changed: Set<ResourceID> = []
        for resource in resources {
            guard let current = now[resource.id], current.fingerprint == resource.fingerprint, current.action == resource.action,
                  current.conflict == resource.conflict, current.steps.map(\.key) == resource.steps.map(\.key),
                  !resource.steps.contains(where: { differingSteps.contains($0.key) })
            else { changed.insert(resource.id); continue }
        }
        let planned = Set(resources.map(\.id))
        changed.formUnion(fresh.resources.map(\.id).filter { !planned.contains($0) })
        changed.formUnion(Set(pendingHandlers).symmetricDifference(fresh.pendingHandlers))
        return changed.sorted()
    }
}
