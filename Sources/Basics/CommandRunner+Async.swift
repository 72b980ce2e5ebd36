import Foundation

extension CommandRunner {
    /// ``output(_:input:timeout:drainTimeout:)`` for async code: the command is spawned, fed
    /// and waited for on a thread of its own while the caller suspends, so a long command
    /// (`nft -f` of 35,000 rules, a restart script) never holds a thread of the cooperative
    /// pool the daemon's HTTP side shares. In `async` code this is the one Swift picks.
    public func output(_ arguments: [String], input: Data? = nil, timeout: Double? = nil, drainTimeout: Double = 1) async throws -> Output {
        try await EarlyRead { [self] in try output(arguments, input: input, timeout: timeout, drainTimeout: drainTimeout) }.value()
    }

    /// ``run(_:input:timeout:)`` for async code, off the cooperative pool as ``output(_:input:timeout:drainTimeout:)``.
    @discardableResult
    public func run(_ arguments: [String], input: Data? = nil, timeout: Double? = nil) async throws -> String {
        try await EarlyRead { [self] in try run(arguments, input: input, timeout: timeout) }.value()
    }
}
