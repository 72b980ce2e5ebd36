import Basics
import DesiredState
import Engine
import Foundation
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
        /// run, nothing applied.
        case unloadable(RunReport, DesiredStateSource.Failure)
    }

    /// Runs it. Throws only when `node` names no declared Host or the log cannot be written.
    public func run(
        log: RunLog, onPlan: (Plan) -> Void = { _ in },
        onProgress: @escaping @Sendable (ResourceOutcome) -> Void = { _ in }
    ) async throws -> Result {
        let early = EarlyProviders(node: node, vmOptions: vmOptions)
        let loaded: DesiredStateSource.Loaded
        do {
            loaded = try source.load(stateDirectory: stateDirectory, beforeValidating: early.start)
        } catch let failure as DesiredStateSource.Failure {
            var report = RunReport(trigger: trigger, revision: failure.revision, node: node ?? "", dryRun: dryRun, startedAt: Date())
            report.revisionNote = failure.note
            report.status = .failed
            report.error = failure.description
            report.id = try log.begin(report)
            try log.finish(report)
            return .unloadable(report, failure)
        }
        let host = try NodeSelection.host(named: node, in: loaded.state)
        let providers = early.providers(for: host) ?? ProviderSet.for(host, vmOptions: vmOptions)
        let reconciler = Reconciler(node: host.name, providers: providers, recorder: log)
        var planned: Plan?
        let report = try await reconciler.run(
            loaded.state, revision: loaded.revision, revisionNote: loaded.note,
            options: Reconciler.Options(dryRun: dryRun, pruneGuard: pruneGuard, trigger: trigger),
            onPlan: { plan in
                planned = plan
                onPlan(plan)
            },
            onProgress: onProgress
        )
        return .ran(report, plan: planned)
    }
}

/// The node's providers made from a quick read of the Host documents, so that they start
/// reading live state (``Provider/prefetch()``) while the whole desired state loads. Used
/// only if the loaded state names the same host; otherwise the providers are made afresh.
private final class EarlyProviders: @unchecked Sendable {
    let node: String?
    let vmOptions: LibvirtProvider.Options
    private var started: EarlyRead<(Node, [any Provider])?>?

    init(node: String?, vmOptions: LibvirtProvider.Options) {
        self.node = node
        self.vmOptions = vmOptions
    }

    func start(_ directory: String) {
        started = EarlyRead { [node, vmOptions] in
            guard let hosts = DesiredState.declaredHosts(directory: directory),
                  let host = try? NodeSelection.host(named: node, in: hosts, declared: hosts != [.implicitLocal]) else { return nil }
            let providers = ProviderSet.for(host, vmOptions: vmOptions)
            providers.forEach { $0.prefetch() }
            return (host, providers)
        }
    }

    /// The early providers, if they were made for `host` (where its document is written
    /// does not matter: a repository's files are read from a temporary export).
    func providers(for host: Node) -> [any Provider]? {
        guard var (early, providers) = (try? started?.value()) ?? nil else { return nil }
        early.location = host.location
        return early == host ? providers : nil
    }
}
