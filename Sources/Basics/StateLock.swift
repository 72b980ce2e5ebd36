import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock held for the whole of a run (dry-runs too): on a state directory, or on
/// a target a run writes (a network namespace, a libvirt URI, a dhcpd config).
///
/// It is an flock(2) on a file (`<state-dir>/lock`): the kernel drops it when the holder dies,
/// so a lock left by a killed run is simply taken. The file names the holder's pid, start
/// time and note for the message a waiting run prints. `Sendable`: nothing changes once it is
/// taken, and only its deinit closes the descriptor (which releases the lock).
public final class StateLock: Sendable {
    /// Another live process holds the lock.
    public struct Held: Error, Sendable, CustomStringConvertible {
        public var holder: String
        /// What is locked, when it is not the state directory: `network namespace fw1`.
        public var target: String?

        public init(holder: String, target: String? = nil) {
            self.holder = holder
            self.target = target
        }

        public var description: String {
            target.map { "another run writes \($0): \(holder)" } ?? "another run holds the lock: \(holder)"
        }
    }

    private let descriptor: Int32

    /// Takes the state directory's lock if no other process holds it.
    /// - Throws: ``Held`` naming the holder, or ``SystemError`` if the file cannot be opened.
    public convenience init(directory: String) throws {
        try self.init(path: directory + "/lock")
    }

    /// Takes the lock of the file `path` if no other process holds it; `target` names what it
    /// guards in messages and `note` is written beside the pid (e.g. the holder's state directory).
    public init(path: String, target: String? = nil, note: String? = nil) throws {
        let descriptor = try Syscall.open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode: 0o600)
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let failure: any Error = errno == EWOULDBLOCK ? Held(holder: Self.readHolder(descriptor), target: target) : SystemError.lastError("flock \(path)")
            close(descriptor)
            throw failure
        }
        self.descriptor = descriptor
        let since = ISO8601DateFormatter().string(from: Date())
        let holder = "pid \(getpid()) since \(since)" + (note.map { ", \($0)" } ?? "") + "\n"
        ftruncate(descriptor, 0)
        _ = holder.withCString { pwrite(descriptor, $0, strlen($0), 0) }
    }

    /// Takes the state directory's lock, waiting up to `timeout` seconds (0: do not wait).
    public static func acquire(directory: String, timeout: Double, clock: () -> Date = Date.init) async throws -> StateLock {
        try await acquire(path: directory + "/lock", timeout: timeout, clock: clock)
    }

    /// Takes the lock of `path` (see ``init(path:target:note:)``), trying again every 0.1 s up
    /// to `timeout` seconds while another process holds it. The caller suspends in between: a
    /// run waiting for another's lock holds no thread of the cooperative pool.
    public static func acquire(path: String, target: String? = nil, note: String? = nil, timeout: Double,
                               clock: () -> Date = Date.init) async throws -> StateLock {
        let deadline = clock().addingTimeInterval(timeout)
        while true {
            do {
                return try StateLock(path: path, target: target, note: note)
            } catch let held as Held {
                guard clock() < deadline else { throw held }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    deinit {
        ftruncate(descriptor, 0)
        close(descriptor)  // releases the flock
    }

    private static func readHolder(_ descriptor: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = pread(descriptor, &buffer, buffer.count, 0)
        let text = String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "a process that has not written its pid yet" : text
    }
}
