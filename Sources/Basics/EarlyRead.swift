import Foundation

/// Work started on a thread of its own now, whose result is collected later (blocking until
/// it is there): a provider's read of live state, begun while the desired state loads.
public final class EarlyRead<Value: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    // Written once by the worker before `done` is signalled; read only after waiting on it.
    private var result: Result<Value, any Error>?

    public init(_ work: @escaping @Sendable () throws -> Value) {
        let thread = Thread { [self] in
            result = Result { try work() }
            done.signal()
        }
        thread.start()
    }

    public func value() throws -> Value {
        done.wait()
        done.signal()  // a second caller gets it too
        return try result!.get()
    }
}
