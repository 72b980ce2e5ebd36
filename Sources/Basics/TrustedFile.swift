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
        var info = stat()
        guard stat(path, &info) == 0 else { throw SystemError.lastError("\(what) \(path)") }
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
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & (S_IRGRP | S_IROTH) != 0
    }
}
