import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs external programs from argument arrays, never through a shell.
///
/// Inject it where a provider runs commands, so the network namespace (`ip netns exec`) is
/// one decision in one place. Built on posix_spawn and waitpid rather than Foundation's
/// Process, whose exit detection hangs when the command leaves a daemon behind (a restart
/// script starting dhcpd) that inherited Process's internal descriptors.
public struct CommandRunner: Sendable {
    /// A command that exited non-zero or timed out: its arguments, status and stderr.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var arguments: [String]
        public var status: Int32
        public var stderr: String
        /// Set when it was killed at its timeout, in seconds.
        public var timedOutAfter: Double?

        public init(arguments: [String], status: Int32, stderr: String, timedOutAfter: Double? = nil) {
            self.arguments = arguments
            self.status = status
            self.stderr = stderr
            self.timedOutAfter = timedOutAfter
        }

        public var description: String {
            let detail = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            let what = timedOutAfter.map { "timed out after \(CommandRunner.seconds($0)) (killed)" } ?? "exited \(status)"
            return "\(arguments.joined(separator: " ")) \(what)" + (detail.isEmpty ? "" : ": \(detail)")
        }
    }

    public struct Output: Sendable {
        /// The exit status, or 128 + the signal that killed it.
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// Set when the command was killed at its timeout, in seconds.
        public var timedOutAfter: Double?
    }

    /// How long a command may run unless told otherwise: generous for `iptables-restore` of
    /// 77,000 rules (~3 s here), short enough that a stuck command cannot hold the lock for long.
    public static let defaultTimeout: Double = 300

    /// Runs every command inside this network namespace when not empty.
    public var netns: String
    /// Where the command runs; nil: this process's working directory.
    public var directory: String?
    /// Seconds a command may run before it and its process group are killed.
    public var timeout: Double
    /// Sees every command this runner starts (tests), with its standard input.
    public var recorder: EffectRecorder?

    public init(netns: String = "", directory: String? = nil, timeout: Double = CommandRunner.defaultTimeout, recorder: EffectRecorder? = nil) {
        self.netns = netns
        self.directory = directory
        self.timeout = timeout
        self.recorder = recorder
    }

    /// `90 s`, `1.5 s`: how timeouts read in messages.
    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }

    /// Runs `arguments` (the first is looked up on PATH) and returns its output whatever the status.
    ///
    /// The command runs in a process group of its own; after `timeout` seconds (the runner's
    /// by default) the whole group is killed and the output says so (`timedOutAfter`). Output
    /// is collected until the command exits, then for at most `drainTimeout` seconds more: a
    /// daemon the command started may keep its stdout open.
    public func output(_ arguments: [String], input: Data? = nil, timeout: Double? = nil, drainTimeout: Double = 1) throws -> Output {
        recorder?.record(Effect(command: arguments, input: input.map { String(decoding: $0, as: UTF8.self) } ?? ""))
        // Glibc's Swift module lacks posix_spawn_file_actions_addchdir_np: a shell changes directory.
        let located = directory.map { ["sh", "-c", "cd \"$0\" && exec \"$@\"", $0] + arguments } ?? arguments
        let full = netns.isEmpty ? located : ["ip", "netns", "exec", netns] + located
        let stdin = try Self.makePipe(), stdout = try Self.makePipe(), stderr = try Self.makePipe()

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin.read, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout.write, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr.write, 2)
        let pid: pid_t
        do {
            defer { for descriptor in [stdin.read, stdout.write, stderr.write] { close(descriptor) } }
            pid = try Spawn.start(full, actions: &actions)
        } catch {
            for descriptor in [stdin.write, stdout.read, stderr.read] { close(descriptor) }
            throw error
        }

        let out = PipeCollector(stdout.read), err = PipeCollector(stderr.read)
        let watchdog = Watchdog(processGroup: pid, after: timeout ?? self.timeout)
        if let input { Self.writeAll(input, to: stdin.write) }
        close(stdin.write)
        let timedOut = watchdog.waitForExit(of: pid)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        return Output(
            status: Spawn.exitStatus(status),
            stdout: String(decoding: out.wait(timeout: drainTimeout), as: UTF8.self),
            stderr: String(decoding: err.wait(timeout: drainTimeout), as: UTF8.self),
            timedOutAfter: timedOut ? timeout ?? self.timeout : nil
        )
    }

    /// Runs `arguments` and returns its stdout; throws ``Failure`` when it exits non-zero.
    @discardableResult
    public func run(_ arguments: [String], input: Data? = nil, timeout: Double? = nil) throws -> String {
        let result = try output(arguments, input: input, timeout: timeout)
        guard result.status == 0, result.timedOutAfter == nil else { throw Failure(arguments, result) }
        return result.stdout
    }

    /// A pipe whose ends are close-on-exec (Glibc's module does not export pipe2).
    static func makePipe() throws -> (read: Int32, write: Int32) {
        var descriptors: [Int32] = [0, 0]
        guard Glibc.pipe(&descriptors) == 0 else { throw SystemError.lastError("pipe") }
        for descriptor in descriptors { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        return (descriptors[0], descriptors[1])
    }

    private static func writeAll(_ data: Data, to descriptor: Int32) {
        data.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, base + offset, buffer.count - offset)
                if written < 0 { if errno == EINTR { continue } else { return } }  // the command stopped reading
                offset += written
            }
        }
    }
}

extension CommandRunner.Failure {
    /// The failure `output` describes (a non-zero status or a timeout).
    public init(_ arguments: [String], _ output: CommandRunner.Output) {
        self.init(arguments: arguments, status: output.status, stderr: output.stderr, timedOutAfter: output.timedOutAfter)
    }
}

/// Kills a command's process group when it outlives its timeout.
///
/// The command is waited for without being reaped (`waitid` with `WNOWAIT`), so its pid,
/// which is its group's id, cannot be reused by another process before the watchdog stands down.
final class Watchdog: @unchecked Sendable {
    private let lock = NSLock()
    private var exited = false
    private var fired = false
    private let timer: DispatchSourceTimer

    init(processGroup: pid_t, after seconds: Double) {
        timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + seconds)
        timer.setEventHandler { [self] in
            lock.withLock {
                guard !exited else { return }
                fired = true
                kill(-processGroup, SIGKILL)
            }
        }
        timer.resume()
    }

    /// Waits until `pid` has exited (not reaping it); true when the watchdog killed it.
    func waitForExit(of pid: pid_t) -> Bool {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0, errno == EINTR {}
        timer.cancel()
        return lock.withLock {
            exited = true
            return fired
        }
    }
}

/// Drains a pipe on a background thread, and closes it at end of file.
final class PipeCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ descriptor: Int32) {
        Thread.detachNewThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(descriptor, &buffer, buffer.count)
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                lock.withLock { data.append(contentsOf: buffer[..<count]) }
            }
            close(descriptor)
            done.signal()
        }
    }

    /// What was read by end of file, or by `timeout` if the pipe stays open.
    func wait(timeout: Double) -> Data {
        _ = done.wait(timeout: .now() + timeout)
        return lock.withLock { data }
    }
}
