#if canImport(Glibc)
import Glibc
#endif

/// The one way code here calls the C library's file and socket functions: a call interrupted
/// by a signal (`EINTR`) is made again, and a failure becomes a ``SystemError`` with `errno`
/// read right after the call that set it (swift-nio's `syscall` wrapper, in small).
public enum Syscall {
    /// Makes `call` (which returns -1 and sets `errno` on failure), again while it is interrupted
    /// — unless `retryingInterrupted` is false: an interrupted `connect(2)` goes on by itself,
    /// and a second one fails with `EALREADY`.
    /// - Throws: ``SystemError`` naming `operation`.
    @discardableResult
    public static func check<Result: BinaryInteger>(_ operation: @autoclosure () -> String, retryingInterrupted: Bool = true,
                                                    _ call: () -> Result) throws(SystemError) -> Result {
        while true {
            let result = call()
            guard result == -1 else { return result }
            let code = errno
            if code != EINTR || !retryingInterrupted { throw SystemError(operation: operation(), code: code) }
        }
    }

    /// `stat(2)` of `path`, following symbolic links; nil only when nothing is there (`ENOENT`).
    public static func status(_ path: String) throws(SystemError) -> stat? {
        var info = stat()
        do {
            try check("stat \(path)") { stat(path, &info) }
        } catch where error.code == ENOENT {
            return nil
        }
        return info
    }

    /// The permission bits of `path`; nil only when nothing is there.
    public static func mode(_ path: String) throws(SystemError) -> mode_t? {
        try status(path).map { $0.st_mode & 0o7777 }
    }

    /// Removes the file `path`; one that is not there is already removed.
    public static func unlinkIfPresent(_ path: String) throws(SystemError) {
        do {
            try check("remove \(path)") { unlink(path) }
        } catch where error.code == ENOENT {
            return
        }
    }

    /// Makes the directory `path` (`mkdir(2)`); one that is there already is made.
    public static func makeDirectoryIfAbsent(_ path: String, mode: mode_t, operation: String? = nil) throws(SystemError) {
        do {
            try check(operation ?? "create \(path)") { mkdir(path, mode) }
        } catch where error.code == EEXIST {
            return
        }
    }

    /// Opens `path` (`open(2)`) and returns the descriptor.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0, operation: String? = nil) throws(SystemError) -> Int32 {
        try check(operation ?? "open \(path)") { Glibc.open(path, flags, mode) }
    }
}
