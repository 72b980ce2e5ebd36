import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starting a program, as `CommandRunner` and long-running children (tests' daemons) need it:
/// posix_spawn with the PATH looked up, no signal blocked (a calling thread's mask would be
/// inherited), SIGPIPE at its default, and no descriptor of ours left open but 0–2.
public enum Spawn {
    /// Starts `arguments` with `actions` (what goes on 0–2); returns its pid.
    public static func start(_ arguments: [String], actions: inout posix_spawn_file_actions_t) throws -> pid_t {
        guard let program = arguments.first else { throw SystemError(operation: "run an empty command", code: EINVAL) }
        // dup2 onto 0-2 clears close-on-exec there; every other descriptor is marked
        // close-on-exec, also those libraries opened without it (a daemon's listening socket
        // must not stay open in a dhcpd a restart script leaves running).
        closeOnExec()
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), defaults = sigset_t()
        sigemptyset(&noSignals)
        sigemptyset(&defaults)
        // SIGPIPE, and the signals a run may ignore while it handles them itself (a child
        // inheriting an ignored SIGTERM could never be stopped).
        for number in [SIGPIPE, SIGTERM, SIGINT, SIGHUP] { sigaddset(&defaults, number) }
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        // A process group of its own (0: its pid), so a timeout kills what it started too.
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, program, &actions, &attributes, argv, environ)
        guard spawned == 0 else { throw SystemError(operation: "run \(program)", code: spawned) }
        return pid
    }

    /// A `waitpid` status as a shell shows it: the exit code, or 128 + the signal.
    public static func exitStatus(_ status: Int32) -> Int32 {
        status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Marks every open descriptor above stderr close-on-exec. (Glibc's Swift module lacks
    /// posix_spawn_file_actions_addclosefrom_np.)
    static func closeOnExec() {
        guard let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
        for descriptor in descriptors.compactMap({ Int32($0) }) where descriptor > 2 {
            let flags = fcntl(descriptor, F_GETFD)
            if flags >= 0, flags & FD_CLOEXEC == 0 { _ = fcntl(descriptor, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

}
