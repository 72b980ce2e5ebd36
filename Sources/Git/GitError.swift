import CLibgit2

/// A libgit2 call failed: what was attempted and libgit2's own message.
public struct GitError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var message: String
    /// libgit2's error code, e.g. not found.
    public var isNotFound: Bool

    public var description: String { "\(operation): \(message)" }

    /// Turns a libgit2 return code into a thrown error. libgit2 keeps its last error per
    /// thread, so this runs in the same synchronous call as the failing function.
    static func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(GitError) {
        guard code < 0 else { return }
        let message = git_error_last().flatMap { $0.pointee.message.map { String(cString: $0) } } ?? "error \(code)"
        throw GitError(operation: operation(), message: message, isNotFound: code == GIT_ENOTFOUND.rawValue)
    }
}
