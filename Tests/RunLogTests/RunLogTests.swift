import Engine
import Foundation
import RunLog
import Testing

@Suite final class RunLogTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-log-\(UUID().uuidString)").path

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func report(_ status: RunReport.Status, dryRun: Bool = false) -> RunReport {
        var run = RunReport(trigger: "manual", revision: "sha256:0123", node: "hv1", dryRun: dryRun, startedAt: Date(timeIntervalSince1970: 1_800_000_000))
        run.status = status
        return run
    }

    @Test func runsAreListedNewestFirstWithOutcomes() throws {
        let log = try RunLog(stateDirectory: directory)
        var first = report(.running)
        first.id = try log.begin(first)
        first.status = .converged
        first.duration = 1.5
        first.outcomes = [
            ResourceOutcome(ResourceID("libvirt_domain", "cpro0007"), .updated, action: .update,
                            changes: [PropertyChange("memory", from: "2 GiB", to: "4 GiB", note: "live")]),
            ResourceOutcome(ResourceID("nat_pair", "cpro0007"), .failed, action: .create, error: "iptables-restore exited 1"),
        ]
        first.counts = RunReport.Counts(first.outcomes)
        try log.finish(first)
        var second = report(.running, dryRun: true)
        second.id = try log.begin(second)

        #expect(try log.runs().map(\.id) == [second.id, first.id])
        let firstID = try #require(first.id)
        let loaded = try #require(try log.run(id: firstID))
        #expect(loaded.status == .converged && loaded.duration == 1.5 && loaded.revision == "sha256:0123")
        #expect(loaded.outcomes == first.outcomes)
        #expect(loaded.counts.failed == 1 && loaded.counts.updated == 1)
        #expect(try log.run(id: 999) == nil)
    }

    @Test func aLargeRunCanBeReadWithItsFirstChangedOutcomesOnly() throws {
        let log = try RunLog(stateDirectory: directory)
        var run = report(.running)
        run.id = try log.begin(run)
        run.status = .converged
        run.outcomes = (0..<200).map { index in
            index.isMultiple(of: 2)
                ? ResourceOutcome(ResourceID("firewall_rule", "r\(index)"), .unchanged)
                : ResourceOutcome(ResourceID("firewall_rule", "r\(index)"), .updated, action: .create,
                                  changes: [PropertyChange("rule", from: nil, to: "-j ACCEPT \(index)")])
        }
        run.counts = RunReport.Counts(run.outcomes)
        try log.finish(run)

        let id = try #require(run.id)
        let firstTen = try #require(try log.run(id: id, changedLimit: 10))
        #expect(firstTen.outcomes == Array(run.outcomes.filter { $0.outcome == .updated }.prefix(10)))
        #expect(firstTen.counts.updated == 100)
        #expect(try log.recentRuns(limit: 5, changedLimit: 3).first?.outcomes.map(\.resource.name) == ["r1", "r3", "r5"])
        #expect(try log.run(id: id)?.outcomes.count == 100)  // unchanged ones without changes are not recorded
    }

    @Test func aRunStillMarkedRunningIsInterruptedWhenTheNextBegins() throws {
        let log = try RunLog(stateDirectory: directory)
        let dead = try log.begin(report(.running))
        _ = try log.begin(report(.running))
        #expect(try log.run(id: dead)?.status == .interrupted)
    }

    @Test func inventoryIsPerNode() throws {
        let log = try RunLog(stateDirectory: directory)
        let a = ResourceID("libvirt_domain", "a"), b = ResourceID("dhcp_host", "b")
        try log.addToInventory([a, b], node: "hv1")
        try log.addToInventory([a], node: "hv1")  // idempotent
        try log.addToInventory([b], node: "hv2")
        try log.removeFromInventory([b], node: "hv1")
        #expect(try log.inventory(node: "hv1") == [a])
        #expect(try log.inventory(node: "hv2") == [b])
        // Reopened: it is on disk.
        #expect(try RunLog(stateDirectory: directory).inventory(node: "hv1") == [a])
        #expect(try log.integrityCheck() == "ok")
    }
}
