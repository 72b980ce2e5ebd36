import Basics
import Engine
import Foundation

/// How both firewall backends apply a batch: the one transaction (an `iptables-restore`
/// input, an `nft -f` script) tested first, then applied while the batch's address lines go
/// on in one `ip -batch` beside it (7,000 of them take about a second, and neither depends on
/// the other), then the tracked connections of changed pairs forgotten.
struct FirewallTransaction {
    /// Empty: only addresses and connections to change.
    var input: String
    var test: [String]
    var apply: [String]
    /// `iptables-restore --test rejected the rules`: what a refused test is called.
    var rejected: String
    /// `iptables-restore failed`: what a failed apply is called.
    var failed: String
    /// The tool's error with the offending line and where it comes from.
    var explain: (String) -> String

    /// What ``run(_:runner:)`` does with the batch's `steps`, in order: the test, the
    /// transaction with the address batch beside it, the connections forgotten.
    func effects(_ steps: [Step]) -> [Effect] {
        var effects: [Effect] = []
        if !input.isEmpty { effects += [Effect(command: test, input: input), Effect(command: apply, input: input)] }
        if let addresses = PublicAddresses.batch(steps) {
            effects.append(Effect(command: PublicAddresses.batchCommand, input: addresses, alongside: !input.isEmpty))
        }
        return effects + [PublicAddresses.forgetEffect(steps)].compactMap { $0 }
    }

    /// Runs it for a batch: every resource fails with the reason when it fails.
    func converge(_ resources: [Resource], runner: CommandRunner) async -> [ResourceID: String] {
        do {
            return try await run(resources.uniqueSteps, runner: runner).map(resources.failing) ?? [:]
        } catch {
            return resources.failing(with: "\(error)")
        }
    }

    /// Runs it with the batch's `steps`. - Returns: why it failed, or nil.
    func run(_ steps: [Step], runner: CommandRunner) async throws -> String? {
        if input.isEmpty {
            try await PublicAddresses.change(steps, runner: runner)
        } else {
            let tested = try await runner.output(test, input: Data(input.utf8))
            if tested.timedOutAfter != nil { return "\(CommandRunner.Failure(test, tested))" }
            guard tested.status == 0 else { return "\(rejected): \(explain(tested.stderr))" }
            // The addresses change while the rules go in: neither waits for the other.
            async let addresses: Void = PublicAddresses.change(steps, runner: runner)
            let applied = try await runner.output(apply, input: Data(input.utf8))
            let addressed: Result<Void, any Error>
            do { addressed = .success(try await addresses) } catch { addressed = .failure(error) }
            if applied.timedOutAfter != nil { return "\(CommandRunner.Failure(apply, applied))" }
            guard applied.status == 0 else { return "\(failed): \(explain(applied.stderr))" }
            try addressed.get()
        }
        try await PublicAddresses.forgetConnections(steps, runner: runner)
        return nil
    }
}
