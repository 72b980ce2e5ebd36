import Basics
import DesiredState
import Engine
import Foundation
import Netfilter
import Providers
import RunLog

/// One run, from reading the desired state to its record: `reconcile [run]` starts one, the
/// daemon one per tick or webhook. The caller holds the state directory's lock.
public struct RunPipeline: Sendable {
    public var source: DesiredStateSource
    public var stateDirectory: String
    /// The Host whose share converges; nil when only one is declared.
    public var node: String?
    /// Why the run happens: `manual`, `interval`, `webhook`, `signal`.
    public var trigger: String
    public var dryRun: Bool
    public var pruneGuard: PruneGuard
    public var vmOptions: LibvirtProvider.Options
    /// Take over objects reconcile did not create where they stand in the way (`--adopt`).
    public var adopt = false
    /// Seconds to wait for another run writing the same targets (see ``TargetLocks``).
    public var lockTimeout: Double = 0
    /// Converge a desired state that declares nothing (``DesiredState/declaresNothing``).
    public var allowEmpty = false
    /// A plan made earlier, to apply instead of a new one while nothing it was made from has
    /// changed (see ``SavedPlan/pipeline(trigger:)``).
    public var saved: SavedPlan?

    public init(
        source: DesiredStateSource, stateDirectory: String, node: String? = nil, trigger: String = "manual",
        dryRun: Bool = false, pruneGuard: PruneGuard = PruneGuard(), vmOptions: LibvirtProvider.Options = .init()
    ) {
        self.source = source
        self.stateDirectory = stateDirectory
        self.node = node
        self.trigger = trigger
        self.dryRun = dryRun
        self.pruneGuard = pruneGuard
        self.vmOptions = vmOptions
    }

    public enum Result: Sendable {
        /// The plan was made and (unless a dry-run) applied; `report.status` says how it went.
        case ran(RunReport, plan: Plan?)
        /// The desired state could not be fetched or read, or is invalid: recorded as a failed
        /// run; or its commit is not signed as `--verify-signatures` asks: recorded as rejected.
        /// Nothing applied.
        case unloadable(RunReport, DesiredStateSource.Failure)
    }

    /// Runs it. Throws when `node` names no declared Host, another run writes the node's
    /// targets (``StateLock/Held``), or the log cannot be written.
    public func run(
        log: RunLog, onPlan: (PlanEffects) -> Void = { _ in },
        onProgress: @escaping @Sendable (ResourceOutcome) -> Void = { _ in }
    ) async throws -> Result {
        let cache = GenerationCache(directory: stateDirectory)
        var vmOptions = vmOptions
        vmOptions.staging = ImageStaging(directory: stateDirectory + "/images", progress: vmOptions.progress)
        let early = EarlyProviders(node: node, stateDirectory: stateDirectory) { [vmOptions, adopt] host in
            ProviderSet.for(host, vmOptions: vmOptions, adopt: adopt, cache: cache)
        }
        // The early read's thread never outlives the run: the CLI exits without unwinding once a
        // run ends, and a thread still inside libvirt or SQLite while exit(3) runs the process's
        // destructors corrupts the heap (the abort in malloc_consolidate seen before).
        do {
            let result = try await run(early: early, vmOptions: vmOptions, cache: cache, log: log, onPlan: onPlan, onProgress: onProgress)
            await early.release()
            return result
        } catch {
            await early.release()
            throw error
        }
    }

    private func run(
        early: EarlyProviders, vmOptions: LibvirtProvider.Options, cache: GenerationCache, log: RunLog, onPlan: (PlanEffects) -> Void,
        onProgress: @escaping @Sendable (ResourceOutcome) -> Void
    ) async throws -> Result {
        var vmOptions = vmOptions
        let loaded: DesiredStateSource.Loaded
        do {
            // Fetching, reading, parsing and checking signatures take seconds at 7,000 VMs: on a
            // thread of their own, not the cooperative pool's.
            loaded = try await EarlyRead { [source, stateDirectory] in
                let loaded = try source.load(stateDirectory: stateDirectory, lastApplied: log.lastAppliedCommit, beforeValidating: early.start)
                // What parsing freed stays in this thread's malloc arena, which the plan never
                // reuses: given back now, it is not on top of the plan's peak (43 MiB at 7,000 VMs).
                Heap.returnFreedMemory()
                return loaded
            }.value()
        } catch let failure as DesiredStateSource.Failure {
            let report = try record(failure.rejected ? .rejected : .failed, failure.description, revision: failure.revision, note: failure.note, log: log)
            return .unloadable(report, failure)
        }
        if let saved, saved.revision != loaded.revision {
            let report = try record(.stale, "plan is stale: it was made from revision \(saved.revision.prefix(12)), the desired state is now at "
                                    + "\(loaded.revision.prefix(12)); nothing was applied (make a new plan)",
                                    revision: loaded.revision, note: loaded.note, log: log)
            return .ran(report, plan: nil)
        }
        guard allowEmpty || !loaded.state.declaresNothing else {
            // As Flux's allowEmpty: an empty source is far more often a mistake than an intent.
            let report = try record(.refused, "the desired state declares no VM, IP pair, firewall rule or DHCP host (\(loaded.state.fileCount) YAML files); "
                                    + "converging it would remove everything reconcile manages here: pass --allow-empty if that is the intent",
                                    revision: loaded.revision, note: loaded.note, log: log)
            return .ran(report, plan: nil)
        }
        let host = try NodeSelection.host(named: node, in: loaded.state)
        // Images are fetched and checked before the node's locks are taken: a download that
        // stalls must not hold libvirt for every other run on the machine.
        if !dryRun, let staging = vmOptions.staging {
            let pending = LibvirtProvider.imagesToStage(loaded.state, host: host, staging: staging)
            if !pending.isEmpty {
                await early.release()
                staging.removeLeftovers()
                for image in pending {
                    do {
                        _ = try await staging.stage(LibvirtProvider.stagingRequest(image, in: loaded.state), allowed: host.imageDirectories)
                    } catch {
                        vmOptions.stagingFailures[image.sha256] = "\(error)"
                    }
                }
            }
        }
        // One writer per target: the early read holds the locks, or they are taken now.
        let providers: [any Provider], locks: [StateLock]
        if let made = await early.providers(for: host) {
            (providers, locks) = made
        } else {
            locks = try await TargetLocks.acquire(for: host, stateDirectory: stateDirectory, timeout: lockTimeout)
            providers = ProviderSet.for(host, vmOptions: vmOptions, adopt: adopt, cache: cache)
        }
        defer { withExtendedLifetime(locks) {} }
        let reconciler = Reconciler(node: host.name, providers: providers, recorder: log)
        var planned: Plan?
        let report = try await reconciler.run(
            loaded.state, revision: loaded.revision, revisionNote: loaded.note, signer: loaded.signer,
            options: Reconciler.Options(dryRun: dryRun, pruneGuard: pruneGuard, trigger: trigger, saved: try saved.map { try Plan($0.plan) }),
            onPlan: { effects in
                planned = effects.plan
                onPlan(effects)
            },
            onProgress: onProgress
        )
        return .ran(report, plan: planned)
    }
}

extension RunPipeline {
    /// Records a run that ended before planning, with why.
    private func record(_ status: RunReport.Status, _ error: String, revision: String, note: String?, log: RunLog) throws -> RunReport {
        var report = RunReport(trigger: trigger, revision: revision, node: node ?? "", dryRun: dryRun, startedAt: Date())
        report.revisionNote = note
        report.status = status
        report.error = error
        report.id = try log.begin(report)
        try log.finish(report)
        return report
    }
}

/// The node's providers made from a quick read of the Host documents, so that they start
/// reading live state (``Provider/prefetch()``) while the whole desired state loads. Used
/// only if the loaded state names the same host; otherwise the providers are made afresh.
/// The node's target locks are taken first (without waiting): no read starts while another
/// run writes.
private final class EarlyProviders: Sendable {
    let node: String?
    let stateDirectory: String
    let make: @Sendable (Node) -> [any Provider]
    private let started = Locked<EarlyRead<Early?>?>(nil)

    private struct Early: Sendable {
        var host: Node
        var providers: [any Provider]
        var locks: [StateLock]
    }

    init(node: String?, stateDirectory: String, make: @escaping @Sendable (Node) -> [any Provider]) {
        self.node = node
        self.stateDirectory = stateDirectory
        self.make = make
    }

    func start(_ directory: String) {
        let read = EarlyRead { [node, stateDirectory, make] () -> Early? in
            guard let hosts = DesiredState.declaredHosts(directory: directory),
                  let host = try? NodeSelection.host(named: node, in: hosts, declared: hosts != [.implicitLocal]),
                  let locks = try? TargetLocks.take(for: host, stateDirectory: stateDirectory) else { return nil }
            let providers = make(host)
            providers.forEach { $0.prefetch() }
            return Early(host: host, providers: providers, locks: locks)
        }
        started.withLock { $0 = read }
    }

    /// The early read, now taken from here.
    private func take() -> EarlyRead<Early?>? {
        started.withLock { started in
            defer { started = nil }
            return started
        }
    }

    /// Drops the early providers and releases their locks (the run has work to do first
    /// that must not hold them).
    func release() async {
        // Its work returns nil rather than throwing: there is no error to keep.
        _ = try? await take()?.value()
    }

    /// The early providers and their locks, if they were made for `host` (where its document
    /// is written does not matter: a repository's files are read from a temporary export).
    /// Otherwise the early locks are released here.
    func providers(for host: Node) async -> ([any Provider], [StateLock])? {
        guard let read = take(), var early = (try? await read.value()) ?? nil else { return nil }
        early.host.location = host.location
        return early.host == host ? (early.providers, early.locks) : nil
    }
}
