import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The state directory holds the run log (every plan, error and revision), the desired-state
/// mirror and the lock: readable by its owner only.
public enum StateDirectory {
    /// Creates `path` and its parents (0700) or tightens an existing one to 0700.
    /// - Throws: ``SystemError`` naming the path: `state directory /x: Not a directory`.
    public static func prepare(_ path: String) throws {
        try makeDirectories(path)
        guard let info = try Syscall.status(path) else { throw SystemError(operation: "state directory \(path)", code: ENOENT) }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw SystemError(operation: "state directory \(path)", code: ENOTDIR) }
        if info.st_mode & 0o077 != 0 {
            try Syscall.check("chmod state directory \(path)") { chmod(path, info.st_mode & 0o700) }
        }
    }

    /// mkdir -p, with errno's own words (Foundation's are a Cocoa error dump).
    private static func makeDirectories(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            try Syscall.makeDirectoryIfAbsent(prefix, mode: 0o700, operation: "create state directory \(prefix)")
        }
    }
}
