import ArgumentParser
import Basics
import DesiredState
import Engine
import Foundation
import RunLog

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

            Exits 0 converged (or nothing to do), 1 a resource failed or a guard refused,
            2 dry-run found changes, 64 usage, 65 invalid desired state, 75 lock held.
            """
    )

    @Option(name: .customLong("desired"), help: "The desired-state directory.")
    var directory = "desired-state"

    @OptionGroup var state: StateOptions

    @Flag(help: "Print the plan and change nothing.")
    var dryRun = false

    @Option(help: "Converge only this host's share (needed when several hosts are declared).")
    var node: String?

    @Flag(help: "Allow deletions the guards would refuse: all managed resources, more than --max-prune-share, a running VM's disk.")
    var allowPrune = false

    @Option(help: "The largest share of this node's managed resources a run may delete without --allow-prune.")
    var maxPruneShare = 0.5

    @Option(help: "Seconds to wait for another run's lock before exiting 75.")
    var lockTimeout = 0.0

    @Option(help: "text or json.")
    var output: OutputFormat = .text

    func run() async throws {
        let desired: DesiredState
        do {
            desired = try DesiredState.load(directory: directory)
        } catch let invalid as InvalidDesiredState {
            FileHandle.standardError.write(Data((invalid.description + "\n").utf8))
            Terminal.printError("\(directory): invalid desired state; nothing was applied")
            throw ExitStatus.invalidDesiredState
        } catch {
            Terminal.printError("\(error)")
            throw ExitStatus.usage
        }
        let host = try ExitStatus.usageOnFailure { try NodeSelection.host(named: node, in: desired) }

        let (lock, log) = try state.open(lockTimeout: lockTimeout)
        defer { withExtendedLifetime(lock) {} }
        let reconciler = Reconciler(node: host.name, providers: ProviderSet.for(host), recorder: log)
        let options = Reconciler.Options(
            dryRun: dryRun, pruneGuard: PruneGuard(allowPrune: allowPrune, maxShare: maxPruneShare)
        )
        let printer = RunPrinter(format: output, color: Terminal.wantsColor)
        var planned: Plan?
        let report = try await reconciler.run(
            desired, revision: desired.revision, options: options,
            onPlan: { plan in
                planned = plan
                printer.plan(plan)
            },
            onProgress: printer.progress
        )
        printer.finish(report, plan: planned)
        throw ExitStatus.of(report)
    }
}

/// `--state-dir`, and opening it: the lock first, then the run log.
struct StateOptions: ParsableArguments {
    @Option(help: "Where runs and the inventory are recorded.")
    var stateDir = "/var/lib/reconcile"

    func open(lockTimeout: Double) throws -> (StateLock, RunLog) {
        do {
            try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
            let lock = try StateLock(directory: stateDir, timeout: lockTimeout)
            return (lock, try RunLog(stateDirectory: stateDir))
        } catch let held as StateLock.Held {
            Terminal.printError("\(stateDir): \(held)")
            throw ExitStatus.locked
        } catch {
            Terminal.printError("\(stateDir): \(error)")
            throw ExitStatus.resourceFailed
        }
    }

    func openLog() throws -> RunLog {
        do {
            return try RunLog(stateDirectory: stateDir)
        } catch {
            Terminal.printError("\(stateDir): \(error)")
            throw ExitStatus.resourceFailed
        }
    }
}
