import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The state directory holds the run log (every plan, error and revision), the desired-state
/// mirror and the lock: readable by its owner only.
public enum StateDirectory {
    /// Creates `path` (0700) or tightens an existing one to 0700.
    public static func prepare(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var info = stat()
        guard stat(path, &info) == 0 else { throw SystemError.lastError("stat \(path)") }
        if info.st_mode & 0o077 != 0, chmod(path, info.st_mode & 0o700) != 0 {
            throw SystemError.lastError("chmod \(path)")
        }
    }
}
