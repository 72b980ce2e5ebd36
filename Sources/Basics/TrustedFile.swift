import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Files whose content decides what reconcile trusts (a saved plan, an SSH key, the keys
/// allowed to sign): refused when someone other than their owner may change them, as ssh
/// refuses such keys — owned by root or by the user reconcile runs as, not group- or
/// world-writable.
public enum TrustedFile {
    public struct Untrusted: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// - Throws: ``Untrusted`` naming who may change it, or ``SystemError`` when it cannot be read.
    public static func check(_ path: String, what: String) throws {
        guard let info = try Syscall.status(path) else { throw SystemError(operation: "\(what) \(path)", code: ENOENT) }
        let mode = info.st_mode & 0o7777
        if mode & (S_IWGRP | S_IWOTH) != 0 {
            throw Untrusted(description: "\(what) \(path) is writable by others (mode \(String(mode, radix: 8))): reconcile does not trust it (chmod go-w \(path))")
        }
        if info.st_uid != 0, info.st_uid != geteuid() {
            throw Untrusted(description: "\(what) \(path) belongs to user \(info.st_uid), neither root nor the user reconcile runs as: reconcile does not trust it")
        }
    }

    /// Whether users other than the owner may read `path` (a secret's file).
    public static func isReadableByOthers(_ path: String) -> Bool {
        // One that cannot be looked at is not said to be readable: this only warns.
        guard let info = try? Syscall.status(path) else { return false }
        return info.st_mode & (S_IRGRP | S_IROTH) != 0
    }
}
