import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension CommandRunner {
    /// Runs `arguments`, handing its standard output to `consume` chunk by chunk as it arrives,
    /// on the calling thread (it blocks: call it from a thread of its own, e.g. ``EarlyRead``).
    ///
    /// When `consume` throws, or `stop` is set, the command's process group is killed and the
    /// error (``CancellationError`` for `stop`) is thrown once it has been reaped. The runner's
    /// timeout bounds the whole exchange, as in ``output(_:input:timeout:drainTimeout:)``.
    /// - Returns: the exit status and stderr (`stdout` is empty: it went to `consume`).
    public func stream(_ arguments: [String], stop: Locked<Bool>? = nil,
                       consume: (UnsafeRawBufferPointer) throws -> Void) throws -> Output {
        let full = netns.isEmpty ? arguments : ["ip", "netns", "exec", netns] + arguments
        let stdout = try Self.makePipe(), stderr = try Self.makePipe()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout.write, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr.write, 2)
        let pid: pid_t
        do {
            defer { close(stdout.write); close(stderr.write) }
            pid = try Spawn.start(full, actions: &actions)
        } catch {
            close(stdout.read)
            close(stderr.read)
            throw error
        }
        let err = PipeCollector(stderr.read)
        let watchdog = Watchdog(processGroup: pid, after: timeout)
        var failure: (any Error)?
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while failure == nil {
            // Wake at least twice a second to see `stop`.
            var poller = pollfd(fd: stdout.read, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 500)
            if stop?.withLock({ $0 }) == true { failure = CancellationError(); break }
            if ready < 0, errno == EINTR { continue }
            guard ready > 0 else { continue }
            let count = read(stdout.read, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            do { try buffer.withUnsafeBytes { try consume(UnsafeRawBufferPointer(rebasing: $0[..<count])) } } catch { failure = error }
        }
        if failure != nil { kill(-pid, SIGKILL) }
        close(stdout.read)
        let timedOut = watchdog.waitForExit(of: pid)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        if let failure { throw failure }
        return Output(status: Spawn.exitStatus(status), stdout: "", stderr: String(decoding: err.wait(timeout: 1), as: UTF8.self),
                      timedOutAfter: timedOut ? timeout : nil)
    }
}
