/// Why the daemon should run now: the interval, a webhook, SIGHUP. Holds at most one
/// pending trigger, so a burst of hooks during a run coalesces into one more run.
public struct TriggerQueue: Sendable {
    public let stream: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation

    public init() {
        (stream, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(1))
    }

    public func fire(_ reason: String) {
        continuation.yield(reason)
    }

    public func finish() {
        continuation.finish()
    }
}
