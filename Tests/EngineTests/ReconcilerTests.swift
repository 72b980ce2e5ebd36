import DesiredState
import Engine
import Foundation
import RunLog
import Testing

/// A run log in a fresh temporary state directory.
struct TemporaryStateDirectory: ~Copyable {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-state-\(UUID().uuidString)").path
    let log: RunLog

    init() throws { log = try RunLog(stateDirectory: path) }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

let thingA = ResourceID("thing", "a"), thingB = ResourceID("thing", "b")
let volume = ResourceID("volume", "vm1-root"), domain = ResourceID("domain", "vm1")
let dhcpd = ResourceID("service", "dhcpd")

func reconcile(
    _ provider: some Provider, _ state: borrowing TemporaryStateDirectory, dryRun: Bool = false,
    pruneGuard: PruneGuard = PruneGuard()
) async throws -> RunReport {
    let reconciler = Reconciler(node: "local", providers: [provider], recorder: state.log)
    return try await reconciler.run(.empty, revision: "test", options: .init(dryRun: dryRun, pruneGuard: pruneGuard))
}

@Suite struct ReconcilerTests {
    @Test func dryRunReportsChangesAndNeverMutates() async throws {
        let state = try TemporaryStateDirectory()
        let machine = FakeMachine()
        machine.live = [thingA: ["size": "1"]]
        let inner = FakeProvider(machine: machine, desired: [
            thingA: FakeSpec(properties: ["size": "2"], notifies: [Notify(dhcpd)]),
            thingB: FakeSpec(properties: ["size": "1"]),
        ])
        let report = try await reconcile(MutationForbiddenProvider(inner: inner), state, dryRun: true)
        #expect(report.status == .changesPending)
        #expect(report.outcomes.map(\.outcome) == [.wouldUpdate, .wouldUpdate])
        #expect(report.outcomes.first?.changes == [PropertyChange("size", from: "1", to: "2")])
        #expect(machine.live == [thingA: ["size": "1"]] && machine.log.isEmpty)
        #expect(try state.log.inventory(node: "local").isEmpty)
    }

    @Test func applyTwiceLeavesTheSecondRunAllUnchanged() async throws {
        let state = try TemporaryStateDirectory()
        let machine = FakeMachine()
        let provider = FakeProvider(machine: machine, desired: [
            thingA: FakeSpec(properties: ["size": "2"]), thingB: FakeSpec(properties: ["size": "1"]),
        ])
        let first = try await reconcile(provider, state)
        #expect(first.status == .converged && first.counts.updated == 2)
        let second = try await reconcile(provider, state)
        #expect(second.status == .converged)
        #expect(second.outcomes.allSatisfy { $0.outcome == .unchanged } && second.counts.unchanged == 2)
        #expect(machine.log.count == 2)
    }

    @Test func dependenciesConvergeFirstAndFailuresSkipOnlyDependents() async throws {
        let state = try TemporaryStateDirectory()
        let machine = FakeMachine()
        var provider = FakeProvider(machine: machine, desired: [
            domain: FakeSpec(properties: ["memory": "2 GiB"], dependsOn: [volume]),
            volume: FakeSpec(properties: ["size": "20 GiB"]),
            thingA: FakeSpec(properties: ["size": "1"]),
        ])
        provider.failing = [volume]
        let report = try await reconcile(provider, state)
        #expect(report.status == .failed)
        let outcomes = Dictionary(uniqueKeysWithValues: report.outcomes.map { ($0.resource, $0) })
        #expect(outcomes[volume]?.outcome == .failed && outcomes[volume]?.error == "volume[vm1-root] broke")
        #expect(outcomes[domain]?.outcome == .skipped && outcomes[domain]?.error == "skipped: volume[vm1-root] did not converge")
        #expect(outcomes[thingA]?.outcome == .updated)
        #expect(!machine.log.contains("converge domain[vm1]"))

        provider.failing = []
        let retry = try await reconcile(provider, state)
        #expect(retry.status == .converged)
        let order = machine.log.filter { $0.hasPrefix("converge volume") || $0.hasPrefix("converge domain") }
        #expect(order == ["converge volume[vm1-root]", "converge volume[vm1-root]", "converge domain[vm1]"])
    }

    @Test func aFailedRunIsRecordedWithTheError() async throws {
        let state = try TemporaryStateDirectory()
        var provider = FakeProvider(machine: FakeMachine(), desired: [thingA: FakeSpec(properties: ["x": "1"]), thingB: FakeSpec(properties: ["x": "1"])])
        provider.failing = [thingA]
        let report = try await reconcile(provider, state)
        let id = try #require(report.id)
        let recorded = try #require(try state.log.run(id: id))
        #expect(recorded.status == .failed && recorded.counts.failed == 1 && recorded.counts.updated == 1)
        #expect(recorded.outcomes.first { $0.resource == thingA }?.error == "thing[a] broke")
    }

    @Test func convergeThatChangesNothingFailsVerification() async throws {
        let state = try TemporaryStateDirectory()
        var provider = FakeProvider(machine: FakeMachine(), desired: [thingA: FakeSpec(properties: ["x": "1"])])
        provider.lying = [thingA]
        let report = try await reconcile(provider, state)
        #expect(report.status == .failed)
        #expect(report.outcomes.first?.error == "still differs after converging: x: 1")
    }

    @Test func aConflictFailsWithoutCallingTheProvider() async throws {
        let state = try TemporaryStateDirectory()
        let machine = FakeMachine()
        let provider = FakeProvider(machine: machine, desired: [domain: FakeSpec(properties: [:], conflict: "domain vm1 exists and is not managed by reconcile")])
        let report = try await reconcile(provider, state)
        #expect(report.status == .failed && report.outcomes.first?.error == "domain vm1 exists and is not managed by reconcile")
        #expect(machine.log.isEmpty)
    }

    @Test func delayedNotificationsRunOnceAtTheEndAndOnlyForSuccesses() async throws {
        let state = try TemporaryStateDirectory()
        let machine = FakeMachine()
        var desired: [ResourceID: FakeSpec] = [:]
        for index in 0..<10 {
            desired[ResourceID("host", "h\(index)")] = FakeSpec(properties: ["ip": "10.0.0.\(index)"], notifies: [Notify(dhcpd)])
        }
        var provider = FakeProvider(machine: machine, desired: desired)
        let first = try await reconcile(provider, state)
        #expect(machine.log.filter { $0.hasPrefix("trigger") } == ["trigger service[dhcpd]"])
        #expect(machine.log.last == "trigger service[dhcpd]")
        let handler = try #require(first.outcomes.last)
        #expect(handler.resource == dhcpd && handler.outcome == .updated)

        // Only failures notify: nothing fires.
        provider.desired[ResourceID("host", "h1")]?.properties["ip"] = "10.0.0.99"
        provider.failing = [ResourceID("host", "h1")]
        _ = try await reconcile(provider, state)
        #expect(machine.log.filter { $0.hasPrefix("trigger") }.count == 1)

        // Unchanged resources do not notify either.
        provider.failing = []
        provider.desired[ResourceID("host", "h1")]?.properties["ip"] = "10.0.0.1"
        _ = try await reconcile(provider, state)
        #expect(machine.log.filter { $0.hasPrefix("trigger") }.count == 1)
    }

    @Test func immediateNotificationsRunBeforeLaterLevels() async throws {
        let state = try TemporaryStateDirectory()
        let machine = FakeMachine()
        let provider = FakeProvider(machine: machine, desired: [
            volume: FakeSpec(properties: ["size": "1"], notifies: [Notify(dhcpd, timing: .immediate)]),
            domain: FakeSpec(properties: ["memory": "1"], dependsOn: [volume]),
        ])
        _ = try await reconcile(provider, state)
        #expect(machine.log == ["converge volume[vm1-root]", "trigger service[dhcpd]", "converge domain[vm1]"])
    }

    @Test func aFailingHandlerFailsTheRun() async throws {
        let state = try TemporaryStateDirectory()
        var provider = FakeProvider(machine: FakeMachine(), desired: [thingA: FakeSpec(properties: ["x": "1"], notifies: [Notify(dhcpd)])])
        provider.failingHandlers = [dhcpd]
        let report = try await reconcile(provider, state)
        #expect(report.status == .failed && report.outcomes.last?.error == "service[dhcpd] would not restart")
    }

    @Test func aHandlerThatDidNotRunIsRunByTheNextRunEvenWithoutChanges() async throws {
        let state = try TemporaryStateDirectory()
        let machine = FakeMachine()
        var provider = FakeProvider(machine: machine, desired: [thingA: FakeSpec(properties: ["x": "1"], notifies: [Notify(dhcpd)])])
        provider.failingHandlers = [dhcpd]
        #expect(try await reconcile(provider, state).status == .failed)
        #expect(try state.log.pendingHandlers(node: "local") == [dhcpd])

        provider.failingHandlers = []
        let dry = try await reconcile(MutationForbiddenProvider(inner: provider), state, dryRun: true)
        #expect(dry.status == .changesPending && dry.outcomes.last?.resource == dhcpd)
        let report = try await reconcile(provider, state)
        #expect(report.status == .converged && report.counts.updated == 1 && report.counts.unchanged == 1)
        #expect(report.outcomes.last?.changes == [PropertyChange("notified by", from: nil, to: "an earlier run that ended before running it")])
        #expect(try state.log.pendingHandlers(node: "local").isEmpty)
        #expect(machine.log.filter { $0 == "trigger service[dhcpd]" }.count == 2)
    }

    @Test func aFailedChangeLeavesNoHandlerPending() async throws {
        let state = try TemporaryStateDirectory()
        var provider = FakeProvider(machine: FakeMachine(), desired: [thingA: FakeSpec(properties: ["x": "1"], notifies: [Notify(dhcpd)])])
        provider.failing = [thingA]
        _ = try await reconcile(provider, state)
        #expect(try state.log.pendingHandlers(node: "local").isEmpty)
    }

    @Test func pruningDeletesOnlyInventoriedResourcesDeletionsFirst() async throws {
        let state = try TemporaryStateDirectory()
        let machine = FakeMachine()
        let foreign = ResourceID("thing", "foreign")
        machine.live = [foreign: ["x": "1"]]
        var desired: [ResourceID: FakeSpec] = [:]
        for index in 0..<4 { desired[ResourceID("thing", "t\(index)")] = FakeSpec(properties: ["x": "1"]) }
        var provider = FakeProvider(machine: machine, desired: desired)
        _ = try await reconcile(provider, state)
        #expect(try state.log.inventory(node: "local").count == 4)

        provider.desired[ResourceID("thing", "t0")] = nil
        provider.desired[thingA] = FakeSpec(properties: ["x": "1"])
        let report = try await reconcile(provider, state)
        #expect(report.status == .converged)
        #expect(report.outcomes.first?.resource == ResourceID("thing", "t0") && report.outcomes.first?.action == .delete)
        #expect(machine.live[ResourceID("thing", "t0")] == nil && machine.live[foreign] != nil)
        #expect(try state.log.inventory(node: "local") == Set([thingA] + (1..<4).map { ResourceID("thing", "t\($0)") }))
    }

    @Test func deletionsArePlannedFirst() {
        let plan = Plan([Resource(thingA, action: .create), Resource(thingB, action: .delete), Resource(domain, action: nil)])
        #expect(plan.resources.map(\.id) == [thingB, domain, thingA])
    }

    @Test(arguments: [(4, 4, "refusing to delete all 4 declared objects of this node (VMs, pairs, rules, reservations) without --allow-prune"),
                      (3, 4, "refusing to delete 3 of 4 declared objects of this node (more than 50%) without --allow-prune")])
    func largeDeletionsAreRefusedWithoutAllowPrune(_ removed: Int, _ total: Int, _ message: String) async throws {
        let state = try TemporaryStateDirectory()
        let machine = FakeMachine()
        var desired: [ResourceID: FakeSpec] = [:]
        for index in 0..<total { desired[ResourceID("thing", "t\(index)")] = FakeSpec(properties: ["x": "1"]) }
        var provider = FakeProvider(machine: machine, desired: desired)
        _ = try await reconcile(provider, state)
        for index in 0..<removed { provider.desired[ResourceID("thing", "t\(index)")] = nil }
        let before = machine.live

        let refused = try await reconcile(provider, state)
        #expect(refused.status == .refused && refused.error == message)
        #expect(machine.live == before)

        let allowed = try await reconcile(provider, state, pruneGuard: PruneGuard(allowPrune: true))
        #expect(allowed.status == .converged && allowed.counts.updated == removed)
        #expect(machine.live.count == total - removed)
    }

    @Test func aShareAtTheLimitIsAllowed() async throws {
        let state = try TemporaryStateDirectory()
        let machine = FakeMachine()
        var provider = FakeProvider(machine: machine, desired: [thingA: FakeSpec(properties: ["x": "1"]), thingB: FakeSpec(properties: ["x": "1"])])
        _ = try await reconcile(provider, state)
        provider.desired[thingB] = nil
        let report = try await reconcile(provider, state)
        #expect(report.status == .converged && machine.live[thingB] == nil)
    }

    @Test func anUnreadableLiveStateFailsTheRunAndIsRecorded() async throws {
        let state = try TemporaryStateDirectory()
        let broken = FakeProvider(name: "broken", machine: FakeMachine(), desired: [:], unreadable: "iptables-save exited 1")
        let report = try await reconcile(broken, state)
        #expect(report.status == .failed && report.error == "broken: cannot read live state: iptables-save exited 1")
        #expect(report.unreadProviders == ["broken"])
        let id = try #require(report.id)
        let recorded = try #require(try state.log.run(id: id))
        #expect(recorded.error == report.error && recorded.unreadProviders == ["broken"])
    }

    /// One provider's unreadable live state fails its own resources and what waits on them;
    /// the others converge.
    @Test func anUnreadableProviderFailsOnlyItsOwnResources() async throws {
        let state = try TemporaryStateDirectory()
        let machine = FakeMachine()
        let record = ResourceID("record", "cpro0007.example.test A"), rule = ResourceID("thing", "rule")
        let firewall = FakeProvider(name: "nftables", resourceTypes: ["thing"], machine: machine, desired: [rule: FakeSpec(properties: ["port": "80"])])
        var dns = FakeProvider(name: "dns", resourceTypes: ["record"], machine: machine, desired: [record: FakeSpec(properties: ["A": "10.0.0.7"])])
        // A retiring backend removes what it made only once the providers before it converged.
        let old = ResourceID("old", "RC-VM-cpro0007")
        machine.live[old] = ["rules": "1"]
        var retiring = FakeProvider(name: "iptables (retiring)", resourceTypes: ["old"], machine: machine, desired: [:])
        retiring.waitsForEarlierProviders = true
        try state.log.addToInventory([old], node: "hv1")
        dns.unreadable = "dig exited 9: connection refused"
        let reconciler = Reconciler(node: "hv1", providers: [firewall, dns, retiring], recorder: state.log)
        let report = try await reconciler.run(.empty, revision: "r", options: .init(dryRun: false, pruneGuard: PruneGuard(allowPrune: true)))
        #expect(report.status == .failed && report.unreadProviders == ["dns"])
        let byID = Dictionary(uniqueKeysWithValues: report.outcomes.map { ($0.resource, $0) })
        #expect(byID[rule]?.outcome == .updated && machine.live[rule] == ["port": "80"])
        #expect(byID[record]?.outcome == .failed && byID[record]?.error == "dns: cannot read live state: dig exited 9: connection refused")
        #expect(byID[old]?.outcome == .skipped && machine.live[old] != nil, "\(byID[old].map { "\($0)" } ?? "none")")
        #expect(try state.log.inventory(node: "hv1").contains(record) == false)
    }
}
