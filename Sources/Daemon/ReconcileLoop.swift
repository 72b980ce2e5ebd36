import Basics
import Engine
import Foundation
import Logging
import RunLog
import Runs
import ServiceLifecycle

/// The daemon's heart: a run at start, then one per interval (with jitter) or trigger, also
/// when the revision did not change, so drift is corrected. A failed run is retried with
/// capped exponential backoff; an invalid revision is not retried until the branch moves.
/// On graceful shutdown the run in flight stops after its current batch and is recorded as
/// interrupted.
public struct ReconcileLoop: Service {
    let pipeline: RunPipeline
    let interval: Duration
    let triggers: TriggerQueue
    let status: DaemonStatus
    let log: RunLog
    let logger: Logger
    /// How long a run waits for the state directory's lock (a manual run may hold it).
    let lockTimeout: Double
    /// Ends (or yields) once the HTTP side listens: the first run waits for it, so a busy port
    /// stops the daemon before it changes anything.
    let listening: AsyncStream<Void>?

    public init(pipeline: RunPipeline, interval: Duration, triggers: TriggerQueue, status: DaemonStatus, log: RunLog,
                logger: Logger, lockTimeout: Double = 60, listening: AsyncStream<Void>? = nil) {
        self.pipeline = pipeline
        self.interval = interval
        self.triggers = triggers
        self.status = status
        self.log = log
        self.logger = logger
        self.lockTimeout = lockTimeout
        self.listening = listening
    }

    public func run() async throws {
        if let listening {
            var ready = listening.makeAsyncIterator()
            guard await ready.next() != nil else { return }  // the server stopped before it listened
        }
        var iterator = triggers.stream.makeAsyncIterator()
        var reason = "start"
        while !Task.isShuttingDownGracefully {
            await runOnce(trigger: reason)
            let delay = await nextDelay()
            let timer = Task { [triggers] in
                try await Task.sleep(for: delay)
                triggers.fire("interval")
            }
            let next = await withGracefulShutdownHandler {
                await iterator.next()
            } onGracefulShutdown: { [triggers] in
                triggers.finish()
            }
            timer.cancel()
            guard let next else { return }
            reason = next
        }
    }

    /// The state directory's lock; while a manual run holds it, the status page says so and the
    /// loop waits (suspended) up to `lockTimeout`.
    func stateLock() async throws -> StateLock {
        do {
            return try StateLock(directory: pipeline.stateDirectory)
        } catch let held as StateLock.Held {
            await status.waiting(for: held.holder)
            let lock: StateLock
            do {
                lock = try await StateLock.acquire(directory: pipeline.stateDirectory, timeout: lockTimeout)
            } catch {
                await status.waiting(for: nil)
                throw error
            }
            await status.waiting(for: nil)
            return lock
        }
    }

    /// Fetches the mirror in a short-lived `reconcile fetch-mirror`: libgit2 (1.5) keeps some
    /// memory of every fetch, ~100 KiB over a local transport, so a daemon fetching every
    /// tick in-process would grow without bound.
    func fetchInChild(_ pipeline: RunPipeline) async throws {
        guard case .repository(let git) = pipeline.source else { return }
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        try await CommandRunner().run([executable, "fetch-mirror", "--repo", git.url, "--state-dir", pipeline.stateDirectory]
                                      + (git.sshKey.map { ["--ssh-key", $0] } ?? []) + (git.knownHosts.map { ["--ssh-known-hosts", $0] } ?? [])
                                      + (git.passwordFile.map { ["--password-file", $0] } ?? []))
    }

    /// After a failure: 5 s, doubling, at most 5 minutes, whatever the interval (retries
    /// come sooner than a long interval at first, and stop hammering a short one).
    /// Otherwise the interval, ±10 %.
    func nextDelay() async -> Duration {
        let failures = await status.snapshot.consecutiveFailures
        if failures > 0 { return Self.backoff(afterFailures: failures) }
        return interval * Double.random(in: 0.9...1.1)
    }

    /// The wait before retrying after `failures` failed runs in a row.
    public static func backoff(afterFailures failures: Int) -> Duration {
        min(Duration.seconds(5) * (1 << min(max(failures, 1) - 1, 10)), .seconds(300))
    }

    func runOnce(trigger: String) async {
        let suspension: Suspension?
        do {
            suspension = try Suspension.current(stateDirectory: pipeline.stateDirectory)
        } catch {
            // Fail closed: without knowing, nothing is applied; health shows the failure.
            await status.skipped(error: "\(error)")
            logger.error("run (\(trigger)) did not start: \(error)")
            return
        }
        await status.suspended(suspension)
        var pipeline = self.pipeline
        pipeline.trigger = trigger
        pipeline.lockTimeout = lockTimeout
        pipeline.dryRun = pipeline.dryRun || suspension != nil
        do {
            let lock = try await stateLock()
            defer { withExtendedLifetime(lock) {} }
            // Fetch, then look at the revision: an invalid or rejected one is not tried again. When the
            // fetch fails, the run below fetches again and records why.
            if (try? await fetchInChild(pipeline)) != nil,
               let revision = try? pipeline.source.lastFetchedRevision(stateDirectory: pipeline.stateDirectory) {
                if revision == (await status.snapshot.rejectedRevision) {
                    logger.debug("revision \(revision) was rejected; waiting for a new one")
                    RunMetrics.recordRejectedRevisionSkipped()
                    return
                }
                pipeline.source = pipeline.source.offline
            }
            // A change made to an applied revision is someone else's: drift.
            let applied = await status.snapshot.appliedRevision
            await status.started()
            // A child task, so that it runs where the daemon runs (its task executor, if any).
            let result = try await cancelWhenGracefulShutdown { [pipeline, log] in try await pipeline.run(log: log) }
            switch result {
            case .ran(let report, _):
                await status.finished(report, invalid: false)
                RunMetrics.record(report, drift: applied == report.revision)
                logger.info("run #\(report.id ?? 0) (\(trigger)): \(report.status.rawValue), \(report.counts.updated) updated")
            case .unloadable(let report, let failure):
                await status.finished(report, invalid: failure.invalid != nil || failure.rejected)
                RunMetrics.record(report, drift: false)
                logger.error("run #\(report.id ?? 0) (\(trigger)): \(failure.description)")
            }
        } catch {
            await status.skipped(error: "\(error)")
            logger.error("run (\(trigger)) did not start: \(error)")
        }
        // What the run loaded is freed; without this the daemon keeps its peak between runs.
        Heap.returnFreedMemory()
    }
}
