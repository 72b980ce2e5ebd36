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
            let first = try StateLock(directory: directory)
            do {
                _ = try StateLock(directory: directory)
                Issue.record("took a held lock")
            } catch let held as StateLock.Held {
                #expect(held.holder.hasPrefix("pid \(getpid()) since 20"))
            }
            withExtendedLifetime(first) {}
        }
        // Released with the first holder.
        _ = try StateLock(directory: directory)
    }

    @Test func waitingUpToTheTimeoutThenGivingUp() async throws {
        let first = try StateLock(directory: directory)
        // A clock that moves 0.1 s per reading: the wait tries until the deadline, then gives up.
        nonisolated(unsafe) var readings = 0
        let clock = { () -> Date in
            readings += 1
            return Date(timeIntervalSince1970: Double(readings) / 10)
        }
        await #expect(throws: StateLock.Held.self) { _ = try await StateLock.acquire(directory: directory, timeout: 0.3, clock: clock) }
        #expect(readings >= 4)
        withExtendedLifetime(first) {}
    }

    @Test func aLockLeftByAKilledProcessIsTakenOver() throws {
        // flock(1) takes the lock and, without forking (-F), becomes `sleep`; we SIGKILL it.
        let holder = try SpawnedProcess(["flock", "-F", directory + "/lock", "sleep", "60"], log: "/dev/null")
        var held = false
        for _ in 0..<1_500 where !held {  // up to 30 s on a loaded machine
            held = (try? StateLock(directory: directory)) == nil
            if !held { usleep(20_000) }
        }
        #expect(held, "the child never took the lock")
        holder.signal(SIGKILL)
        _ = holder.wait(timeout: 10)
        _ = try StateLock(directory: directory)
    }
}
