import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on a state directory, held for the whole of a run (dry-runs too).
///
/// It is an flock(2) on `<state-dir>/lock`: the kernel drops it when the holder dies, so a
/// lock left by a killed run is simply taken. The file names the holder's pid and start time
/// for the message a waiting run prints. Not `Sendable`: it owns a file descriptor.
public final class StateLock {
    /// Another live process holds the lock.
    public struct Held: Error, Sendable, CustomStringConvertible {
        public var holder: String

        public var description: String { "another run holds the lock: \(holder)" }
    }

    private let descriptor: Int32

    /// Takes the lock, waiting up to `timeout` seconds (0: do not wait).
    /// - Throws: ``Held`` naming the holder, or ``SystemError`` if the file cannot be opened.
    public init(directory: String, timeout: Double, clock: () -> Date = Date.init) throws {
        let path = directory + "/lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw SystemError.lastError("open \(path)") }
        let deadline = clock().addingTimeInterval(timeout)
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK, clock() < deadline else {
                let holder = Self.readHolder(descriptor)
                close(descriptor)
                throw Held(holder: holder)
            }
            usleep(100_000)
        }
        self.descriptor = descriptor
        let since = ISO8601DateFormatter().string(from: clock())
        let holder = "pid \(getpid()) since \(since)\n"
        ftruncate(descriptor, 0)
        _ = holder.withCString { pwrite(descriptor, $0, strlen($0), 0) }
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
