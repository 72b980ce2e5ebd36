import Basics
import DesiredState
import Engine
import Foundation
import Testing

/// An in-memory machine for unit tests of the engine: resources are property dictionaries.
/// Providers themselves are tested against the real libvirt, iptables and dhcpd.
final class FakeMachine: @unchecked Sendable {
    private let lock = NSLock()
    private var _live: [ResourceID: [String: String]] = [:]
    private var _log: [String] = []

    var live: [ResourceID: [String: String]] {
        get { lock.withLock { _live } }
        set { lock.withLock { _live = newValue } }
    }

    /// Every mutation and handler run, in order: `converge a[x]`, `trigger service[d]`.
    var log: [String] { lock.withLock { _log } }

    func record(_ entry: String) { lock.withLock { _log.append(entry) } }
}

/// What a test declares for one fake resource.
struct FakeSpec: Sendable {
    var properties: [String: String]
    var dependsOn: [ResourceID] = []
    var notifies: [Notify] = []
    var conflict: String?
}

struct FakeProvider: Provider {
    var name = "fake"
    var resourceTypes: Set<String> = ["thing", "volume", "domain", "host", "service"]
    let machine: FakeMachine
    var desired: [ResourceID: FakeSpec]
    /// Resources whose converge reports an error.
    var failing: Set<ResourceID> = []
    /// Resources whose converge claims success but changes nothing (verification must catch it).
    var lying: Set<ResourceID> = []
    var failingHandlers: Set<ResourceID> = []
    /// Live state cannot be read: plan throws this.
    var unreadable: String?
    var waitsForEarlierProviders = false

    func declared(_ desired: DesiredState) -> [ResourceID] { self.desired.keys.sorted() }

    func plan(_ state: DesiredState, owned: Set<ResourceID>) async throws -> [Resource] {
        if let unreadable { throw RunError(unreadable) }
        let live = machine.live
        var resources = desired.map { id, spec -> Resource in
            let current = live[id]
            let changes = spec.properties.keys.sorted().compactMap { key -> PropertyChange? in
                current?[key] == spec.properties[key] ? nil : PropertyChange(key, from: current?[key], to: spec.properties[key])
            }
            let action: Resource.Action? = current == nil ? .create : changes.isEmpty ? nil : .update
            return Resource(id, action: action, changes: changes, dependsOn: spec.dependsOn, notifies: spec.notifies,
                            conflict: spec.conflict)
        }
        for id in owned where desired[id] == nil && live[id] != nil {
            resources.append(Resource(id, action: .delete))
        }
        return resources
    }

    func converge(_ resources: [Resource]) async -> [ResourceID: String] {
        var errors: [ResourceID: String] = [:]
        for resource in resources {
            machine.record("converge \(resource.id)")
            if failing.contains(resource.id) {
                errors[resource.id] = "\(resource.id) broke"
            } else if !lying.contains(resource.id) {
                var live = machine.live
                live[resource.id] = resource.action == .delete ? nil : desired[resource.id]?.properties
                machine.live = live
            }
        }
        return errors
    }

    /// What converge records on the machine for the batch.
    func effects(_ batch: [Resource]) -> [Effect] { batch.map { Effect("converge \($0.id)") } }

    func trigger(_ handler: ResourceID, notifiedBy: [Resource]) async throws {
        machine.record("trigger \(handler)")
        if failingHandlers.contains(handler) { throw RunError("\(handler) would not restart") }
    }
}

/// Fails the test on any mutation: dry-runs must never call one.
struct MutationForbiddenProvider: Provider {
    var inner: FakeProvider
    var name: String { inner.name }
    var resourceTypes: Set<String> { inner.resourceTypes }
    func declared(_ desired: DesiredState) -> [ResourceID] { inner.declared(desired) }

    func plan(_ state: DesiredState, owned: Set<ResourceID>) async throws -> [Resource] {
        try await inner.plan(state, owned: owned)
    }

    func converge(_ resources: [Resource]) async -> [ResourceID: String] {
        Issue.record("a dry-run called converge on \(resources.map(\.id))")
        return [:]
    }

    func effects(_ batch: [Resource]) -> [Effect] { inner.effects(batch) }

    func trigger(_ handler: ResourceID, notifiedBy: [Resource]) async throws {
        Issue.record("a dry-run triggered \(handler)")
    }
}
