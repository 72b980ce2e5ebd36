import Daemon
import Foundation
import Testing

/// Only a missing `suspend.json` means "not suspended"; anything else stops the daemon applying.
@Suite struct SuspensionTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-suspend-\(UUID().uuidString)").path

    init() throws { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }

    @Test func missingIsNotSuspendedAndSavedIsSuspended() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try Suspension.current(stateDirectory: directory) == nil)
        try Suspension(reason: "maintenance").save(stateDirectory: directory)
        #expect(try Suspension.current(stateDirectory: directory)?.reason == "maintenance")
    }

    @Test func aCorruptOrUnreadableFileIsAnErrorNeverNotSuspended() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "{\"reason\": \"maint".write(toFile: directory + "/suspend.json", atomically: true, encoding: .utf8)
        #expect(throws: SuspensionUnreadable.self) { try Suspension.current(stateDirectory: directory) }
        try FileManager.default.removeItem(atPath: directory + "/suspend.json")
        try FileManager.default.createDirectory(atPath: directory + "/suspend.json", withIntermediateDirectories: true)
        #expect(throws: SuspensionUnreadable.self) { try Suspension.current(stateDirectory: directory) }
    }
}
