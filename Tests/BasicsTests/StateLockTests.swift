import Basics
import Foundation
import Testing
import TestSupport

@Suite final class StateLockTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-lock-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    @Test func aSecondHolderIsRefusedWithTheFirstOnesPid() throws {
        do {
            let first = try StateLock(directory: directory, timeout: 0)
            do {
                _ = try StateLock(directory: directory, timeout: 0)
                Issue.record("took a held lock")
            } catch let held as StateLock.Held {
                #expect(held.holder.hasPrefix("pid \(getpid()) since 20"))
            }
            withExtendedLifetime(first) {}
        }
        // Released with the first holder.
        _ = try StateLock(directory: directory, timeout: 0)
    }

    @Test func waitingUpToTheTimeoutThenGivingUp() throws {
        let first = try StateLock(directory: directory, timeout: 0)
        let start = Date()
        #expect(throws: StateLock.Held.self) { try StateLock(directory: directory, timeout: 0.3) }
        #expect(Date().timeIntervalSince(start) >= 0.3)
        withExtendedLifetime(first) {}
    }

    @Test func aLockLeftByAKilledProcessIsTakenOver() throws {
        // flock(1) takes the lock and, without forking (-F), becomes `sleep`; we SIGKILL it.
        let holder = try SpawnedProcess(["flock", "-F", directory + "/lock", "sleep", "60"], log: "/dev/null")
        var held = false
        for _ in 0..<50 where !held {
            held = (try? StateLock(directory: directory, timeout: 0)) == nil
            if !held { usleep(20_000) }
        }
        #expect(held, "the child never took the lock")
        holder.signal(SIGKILL)
        _ = holder.wait(timeout: 10)
        _ = try StateLock(directory: directory, timeout: 0)
    }
}
