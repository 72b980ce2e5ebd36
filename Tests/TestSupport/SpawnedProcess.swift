import Basics
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A long-running program a test starts (a daemon), its output in a file, stopped by its
/// pid: SIGTERM at the end if the test did not stop it itself. ``Spawn`` and waitpid:
/// Foundation's `Process.waitUntilExit` sometimes never returns for a killed child here.
public final class SpawnedProcess {
    public let pid: pid_t
    public let logPath: String
    private var exitStatus: Int32?

    public init(_ arguments: [String], log: String) throws {
        logPath = log
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        pid = try Spawn.start(arguments, actions: &actions)
    }

    /// Sends `signal`.
    public func signal(_ signal: Int32) { kill(pid, signal) }

    /// Waits up to `timeout` seconds for the process to end; its exit status, or nil if it runs on.
    public func wait(timeout: Double) -> Int32? {
        if let exitStatus { return exitStatus }
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                exitStatus = Spawn.exitStatus(status)
                return exitStatus
            }
            usleep(20_000)
        } while Date() < deadline
        return nil
    }

    /// Resident memory in KiB (VmRSS), while it runs.
    public var residentKiB: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return nil }
        return Int(line.split(separator: " ").dropFirst().first ?? "")
    }

    public var output: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    deinit {
        if wait(timeout: 0) == nil {
            kill(pid, SIGTERM)
            if wait(timeout: 5) == nil { kill(pid, SIGKILL); _ = wait(timeout: 5) }
        }
    }
}
