import ArgumentParser

/// How a command prints its result: for a person, or as JSON for a script.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// The exit codes of DESIGN.md, one place for all commands.
enum ExitStatus {
    static let resourceFailed = ExitCode(1)
    static let changesPending = ExitCode(2)
    /// `reconcile apply FILE`: the plan is stale (the branch moved, or live state it was made
    /// from changed); nothing was applied.
    static let stalePlan = ExitCode(3)
    static let usage = ExitCode(64)
    static let invalidDesiredState = ExitCode(65)
    /// The desired state could not be fetched or read (a repository unreachable, a key refused,
    /// a directory missing): nothing was planned. sysexits' EX_UNAVAILABLE.
    static let sourceUnavailable = ExitCode(69)
    static let locked = ExitCode(75)
    /// `--verify-signatures`: the commit is not signed by an allowed key; nothing was planned.
    /// sysexits' EX_NOPERM.
    static let rejected = ExitCode(77)

    /// Runs `body`; an error is printed and becomes exit 64 (the user asked for something impossible).
    static func usageOnFailure<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            Terminal.printError("\(error)")
            throw usage
        }
    }
}
