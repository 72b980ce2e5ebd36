import ArgumentParser
import Basics
import Engine
import Foundation
import Runs

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Print the plan and change nothing; with --out, save it for `reconcile apply`.",
        discussion: """
            The same as `reconcile --dry-run`. With --out FILE it also writes the plan: JSON \
            holding the desired revision, the node, every change exactly as apply will make it, \
            and a fingerprint of the live state each change was computed from. `reconcile apply \
            FILE` then applies that plan and nothing else, on this machine and state directory, \
            while the branch and that live state are unchanged.

            Review in CI, apply after approval:
              reconcile plan --repo URL --node hv1 --out /var/lib/reconcile/plans/pr-42.json
              reconcile apply /var/lib/reconcile/plans/pr-42.json

            Exits as --dry-run: 0 nothing to change, 2 changes planned, 64, 65, 69, 75.
            """
    )

    @OptionGroup var source: SourceOptions

    @OptionGroup var state: StateOptions

    @OptionGroup var converge: ConvergeOptions

    @OptionGroup var invocation: InvocationOptions

    @Option(help: "Write the plan to this file (mode 0600) for `reconcile apply FILE`.")
    var out: String?

    func run() async throws {
        let pipeline = converge.pipeline(try source.source(), stateDirectory: state.stateDir, dryRun: true)
        try await invocation.perform(pipeline, state: state) { report, plan in
            guard let out else { return }
            do {
                try SavedPlan(plan, report: report, pipeline: pipeline).write(to: out)
            } catch {
                Terminal.printError("cannot write the plan to \(out): \(error)")
                throw ExitStatus.resourceFailed
            }
            let message = "Plan saved to \(out); apply exactly it with: reconcile apply \(out)\n"
            FileHandle(fileDescriptor: invocation.output == .json ? 2 : 1).write(Data(message.utf8))
        }
    }
}

struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply a plan saved by `reconcile plan --out FILE`, exactly, or refuse it as stale.",
        discussion: """
            Reads the desired state from the source the plan names (fetching a repository), \
            reads live state again and compares it with the plan: if the branch moved, or any \
            planned resource's live state changed since, nothing is applied and it exits 3 naming \
            what changed. Otherwise it applies the plan's changes, as saved, with the options it \
            was made with (--allow-prune, --allow-restart, --adopt …), then verifies as a run does. \
            A plan made on another machine or with another --state-dir is refused (exit 64), \
            and so is a plan file others may write.

            With --verify-signatures (and its keys), apply verifies the commit it fetches itself \
            and refuses a plan recorded with a weaker check (exit 77): editing the plan cannot \
            drop it. Without, it verifies as the plan records.

            Exits 0 converged, 1 a resource failed or a guard refused, 3 the plan is stale,
            64 usage or a plan for elsewhere, 77 the commit or the plan's check falls short,
            65, 69, 75 as `reconcile run`.
            """
    )

    @Argument(help: "The plan file.")
    var file: String

    @OptionGroup var signatures: SignatureOptions

    @OptionGroup var state: StateOptions

    @OptionGroup var invocation: InvocationOptions

    func run() async throws {
        let saved = try ExitStatus.usageOnFailure {
            let saved = try SavedPlan.read(file)
            if let misplaced = try saved.misplaced(stateDirectory: state.stateDir) { throw RunError("\(file): \(misplaced)") }
            return saved
        }
        let policy = try signatures.policy()
        let pipeline: RunPipeline
        do {
            pipeline = try saved.pipeline(signatures: policy)
        } catch let weaker as SavedPlan.WeakerPolicy {
            Terminal.printError("\(file): \(weaker)")
            throw ExitStatus.rejected
        } catch {
            Terminal.printError("\(error)")
            throw ExitStatus.usage
        }
        try await invocation.perform(pipeline, state: state)
    }
}
