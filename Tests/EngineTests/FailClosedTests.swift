import DesiredState
import Engine
import Foundation
import RunLog
import Testing

/// A run log that cannot record pending handlers (a full disk, a locked database).
struct HandlerRecordingFails: RunRecorder {
    let log: RunLog

    struct Broken: Error, CustomStringConvertible { var description: String { "disk I/O error" } }

    func begin(_ run: RunReport) throws -> Int64 { try log.begin(run) }
    func finish(_ run: RunReport) throws { try log.finish(run) }
    func inventory(node: String) throws -> Set<ResourceID> { try log.inventory(node: node) }
    func addToInventory(_ resources: [ResourceID], node: String) throws { try log.addToInventory(resources, node: node) }
    func removeFromInventory(_ resources: [ResourceID], node: String) throws { try log.removeFromInventory(resources, node: node) }
    func pendingHandlers(node: String) throws -> [ResourceID] { try log.pendingHandlers(node: node) }
    func setHandler(_ handler: ResourceID, pending: Bool, node: String) throws { throw Broken() }
}

@Suite struct FailClosedTests {
    @Test func aChangeWhoseHandlerCannotBeRecordedIsNotMade() async throws {
        let state = try TemporaryStateDirectory()
        let machine = FakeMachine()
        let provider = FakeProvider(machine: machine, desired: [thingA: FakeSpec(properties: ["x": "1"], notifies: [Notify(dhcpd)])])
        let reconciler = Reconciler(node: "local", providers: [provider], recorder: HandlerRecordingFails(log: state.log))
        let report = try await reconciler.run(.empty, revision: "test", options: .init(dryRun: false))
        #expect(report.status == .failed)
        #expect(report.outcomes.first { $0.resource == thingA }?.error == "cannot record pending handlers: disk I/O error")
        #expect(machine.live.isEmpty && machine.log.isEmpty)
    }
}
