/// A provider's next read of live state, started before it is needed (while the desired state
/// loads): not run state, the next plan's input started early. Taken once; a plan with no
/// read started makes its own.
public final class Prefetch<Value: Sendable>: Sendable {
    private let started = Locked<EarlyRead<Value>?>(nil)

    public init() {}

    /// Starts `read` on a thread of its own now.
    public func start(_ read: @escaping @Sendable () throws -> Value) {
        started.withLock { $0 = EarlyRead(read) }
    }

    /// The read started early, or `read` now; suspends, never blocks.
    public func value(orRead read: @escaping @Sendable () throws -> Value) async throws -> Value {
        let early = started.withLock { early in defer { early = nil }; return early }
        return try await (early ?? EarlyRead(read)).value()
    }
}
