import ArgumentParser
import Basics
import DesiredState
import Engine
import Foundation
import RunLog
import Runs

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Converge this node to the desired state (the default command).",
        discussion: """
            Loads and validates the desired state, reads the live state of every provider once, \
            prints the plan, then converges, verifies and runs notifications. With --dry-run it \
            prints the plan and changes nothing. Every run is recorded under --state-dir.

            Examples:
              reconcile --dry-run                       what would change, exit 2 if anything
              reconcile                                 converge now
              reconcile --node hv1 --allow-prune        converge hv1, allowing large deletions
              reconcile --allow-restart                 also restart VMs whose change needs it
              reconcile --repo https://git.example.org/cloud.git --ref main --path pool1 --dry-run

            Exits 0 converged (or nothing to do), 1 a resource failed or a guard refused,
            2 dry-run found changes, 64 usage, 65 invalid desired state, 69 the desired state
            could not be fetched or read, 75 lock held (the
            state directory's, or another run writing the same namespace, libvirt or dhcpd).
            To review a plan first and apply exactly that one, see `reconcile plan --out`.
            """
    )

    @OptionGroup var source: SourceOptions

    @OptionGroup var state: StateOptions

    @Flag(help: "Print the plan and change nothing.")
    var dryRun = false

    @OptionGroup var converge: ConvergeOptions

    @OptionGroup var invocation: InvocationOptions

    func run() async throws {
        let pipeline = converge.pipeline(try source.source(), stateDirectory: state.stateDir, dryRun: dryRun)
        try await invocation.perform(pipeline, state: state)
    }
}

/// Where the desired state is read from: shared by `run` and `plan`.
struct SourceOptions: ParsableArguments {
    @Option(name: .customLong("dir"), help: "The desired-state directory (when no --repo is given).")
    var directory = "desired-state"

    @Option(help: "Read the desired state from this git repository (a path, file://, https://, ssh://), mirrored in --state-dir.")
    var repo: String?

    @OptionGroup(title: "With --repo") var git: GitSourceOptions

    @Flag(help: "With --repo: do not fetch; plan from the last fetched revision.")
    var offline = false

    func source() throws -> DesiredStateSource {
        if let repo { return try git.source(repo, offline: offline) }
        // A directory has no commits to be signed: verifying it would pass nothing, silently.
        if git.signatures.verifySignatures || git.signatures.verifyHistory {
            Terminal.printError("--verify-signatures needs --repo: a directory has no commits to verify")
            throw ExitStatus.usage
        }
        return .directory(directory)
    }
}

/// How a run is waited for and printed: shared by `run`, `plan` and `apply`.
struct InvocationOptions: ParsableArguments {
    @Option(help: "How long to wait for another run's lock (state directory or target) before exiting 75: 30s, 5m.")
    var lockTimeout = DurationArgument(seconds: 0)

    @Flag(help: "Also print what apply sends, in its order: each command with its input (nft, iptables-restore, ip, nsupdate), each file written (as a diff), Kea's and libvirt's calls.")
    var showCommands = false

    @Option(help: "text or json.")
    var output: OutputFormat = .text

    /// Runs `pipeline` under the state directory's lock, prints it as it goes, and exits with
    /// its status; `planned` sees a finished dry-run's plan (to save it).
    func perform(_ pipeline: RunPipeline, state: StateOptions, planned: (RunReport, Plan) throws -> Void = { _, _ in }) async throws {
        let (lock, log) = try await state.open(lockTimeout: lockTimeout.seconds)
        defer { withExtendedLifetime(lock) {} }
        let interrupts = InterruptCleanup.install(stateDirectory: state.stateDir)
        defer { withExtendedLifetime(interrupts) {} }
        var pipeline = pipeline
        pipeline.lockTimeout = lockTimeout.seconds
        let printer = RunPrinter(format: output, color: Terminal.wantsColor, showCommands: showCommands)
        let result: RunPipeline.Result
        do {
            result = try await pipeline.run(log: log, onPlan: printer.plan, onProgress: printer.progress)
        } catch let held as StateLock.Held {
            Terminal.printError("\(held)")  // another run writes this node's namespace, libvirt or dhcpd
            throw ExitStatus.locked
        } catch {
            Terminal.printError("\(error)")  // no such --node, an unreadable directory
            throw ExitStatus.usage
        }
        switch result {
        case .unloadable(let report, let failure):
            if output == .json {
                let errors = failure.invalid?.diagnostics.map {
                    ValidationReport.Error(file: $0.location.file, line: $0.location.line, column: $0.location.column, message: $0.message)
                }
                printJSON(RunOutput(plan: nil, run: report, errors: errors))
            } else {
                FileHandle.standardError.write(Data((failure.description.escapingControlCharacters + "\n").utf8))
                Terminal.printError(failure.rejected ? "rejected: the commit is not signed as --verify-signatures asks; nothing was planned (run #\(report.id ?? 0))"
                                    : failure.invalid == nil ? "cannot read the desired state (run #\(report.id ?? 0))"
                                    : "invalid desired state; nothing was applied (run #\(report.id ?? 0))")
            }
            if failure.rejected { throw ExitStatus.rejected }
            throw failure.invalid == nil ? ExitStatus.sourceUnavailable : ExitStatus.invalidDesiredState
        case .ran(let report, let plan):
            if let plan, report.dryRun, [.noChanges, .changesPending].contains(report.status) { try planned(report, plan) }
            printer.finish(report, plan: plan)
            // Ends here, without unwinding: freeing a plan and outcomes of 49,000 resources one
            // by one takes 0.2 s; the kernel takes the memory back at once. The run is
            // recorded (SQLite's commits are durable), exit(3) flushes what is printed, the lock
            // goes with the process.
            Foundation.exit(ExitStatus.of(report).rawValue)
        }
    }
}

/// `--state-dir`, and opening it: the lock first, then the run log.
struct StateOptions: ParsableArguments {
    @Option(help: "Where runs and the inventory are recorded.")
    var stateDir = "/var/lib/reconcile"

    func open(lockTimeout: Double) async throws -> (StateLock, RunLog) {
        do {
            try StateDirectory.prepare(stateDir)
            let lock = try await StateLock.acquire(directory: stateDir, timeout: lockTimeout)
            return (lock, try RunLog(stateDirectory: stateDir))
        } catch let held as StateLock.Held {
            Terminal.printError("\(stateDir): \(held)")
            throw ExitStatus.locked
        } catch {
            Terminal.printError(describe(error))
            throw ExitStatus.resourceFailed
        }
    }

    func openLog() throws -> RunLog {
        do {
            return try RunLog(stateDirectory: stateDir)
        } catch {
            Terminal.printError(describe(error))
            throw ExitStatus.resourceFailed
        }
    }

    /// "what failed: why": our own errors name the path already; a library's gets it prepended.
    private func describe(_ error: any Error) -> String {
        error is SystemError ? "\(error)" : "state directory \(stateDir): \(error)"
    }
}
