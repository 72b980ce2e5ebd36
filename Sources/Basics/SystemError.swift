#if canImport(Glibc)
import Glibc
#endif

/// A system call failed: what was attempted, and errno's text.
public struct SystemError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var code: Int32

    public init(operation: String, code: Int32) {
        self.operation = operation
        self.code = code
    }

    /// Captures `errno` now; call it right after the failing call.
    public static func lastError(_ operation: String) -> SystemError {
        SystemError(operation: operation, code: errno)
    }

    public var description: String { "\(operation): \(String(cString: strerror(code)))" }
}
