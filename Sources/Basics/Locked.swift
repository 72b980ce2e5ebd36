import Foundation

/// A value shared between the calls of a `Sendable` provider within one run (the last read
/// it made, the connection it opened), guarded by a lock.
///
/// `@unchecked`: every access goes through `withLock`. The value itself need not be
/// `Sendable` (a libvirt connection is thread-safe but owns a C handle).
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) {
        self.value = value
    }

    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        try lock.withLock { try body(&value) }
    }
}
