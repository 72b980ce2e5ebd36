import Foundation

/// Work started on a thread of its own now, whose result is collected later: a provider's
/// read of live state, begun while the desired state loads, or work that must run on a
/// thread of its own (one that enters a network namespace).
///
/// Async callers suspend (``value()``) instead of blocking a thread of the cooperative pool,
/// which the daemon's HTTP side shares; code already on a thread of its own may block (``wait()``).
public final class EarlyRead<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    // Guarded by `lock`: the result once the work is done, and who waits for it until then.
    private var result: Result<Value, any Error>?
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private let done = DispatchSemaphore(value: 0)

    public init(_ work: @escaping @Sendable () throws -> Value) {
        let thread = Thread { [self] in
            let outcome = Result { try work() }
            let waiters = lock.withLock {
                result = outcome
                defer { waiting = [] }
                return waiting
            }
            waiters.forEach { $0.resume() }
            done.signal()
        }
        thread.start()
    }

    /// The result, suspending until it is there.
    public func value() async throws -> Value {
        await withCheckedContinuation { continuation in
            let ready = lock.withLock {
                if result == nil { waiting.append(continuation) }
                return result != nil
            }
            if ready { continuation.resume() }
        }
        return try finished()
    }

    /// The result, blocking the calling thread until it is there: only for code that runs on a
    /// thread of its own, never in `async` code.
    public func wait() throws -> Value {
        done.wait()
        done.signal()  // a second caller gets it too
        return try finished()
    }

    private func finished() throws -> Value {
        guard let result = lock.withLock({ result }) else { throw CancellationError() }  // not reached: waited for above
        return try result.get()
    }
}
