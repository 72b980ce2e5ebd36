import Engine
import Foundation

/// What the daemon knows between runs, for the loop's decisions and the status page.
public actor DaemonStatus {
    public struct Snapshot: Sendable, Codable {
        /// The revision last converged without failures.
        public var appliedRevision: String?
        public var appliedAt: Date?
        /// Who signed it, when signatures are verified.
        public var appliedSigner: String?
        /// The revision the last run tried (differs from the applied one after a failure).
        public var attemptedRevision: String?
        public var lastStatus: String?
        public var lastError: String?
        /// The providers of the last run that could not read their live state.
        public var unreadProviders: [String] = []
        /// An invalid or unsigned revision is not retried until the branch moves on.
        public var rejectedRevision: String?
        public var consecutiveFailures = 0
        public var running = false
        /// When the run in flight started: a run that never ends is a stuck loop.
        public var runningSince: Date?
        /// Who holds the state directory's lock the next run waits for (a manual run).
        public var lockHolder: String?
        public var suspension: Suspension?
    }

    public private(set) var snapshot = Snapshot()

    public init() {}

    func waiting(for holder: String?) { snapshot.lockHolder = holder }

    func started(at now: Date = Date()) {
        snapshot.running = true
        snapshot.runningSince = now
    }

    func suspended(_ suspension: Suspension?) { snapshot.suspension = suspension }

    /// Records a finished run: what was applied, and the failures in a row (for the backoff).
    /// An `invalid` revision (or one `--verify-signatures` rejected) is not retried.
    func finished(_ report: RunReport, invalid: Bool) {
        snapshot.running = false
        snapshot.runningSince = nil
        snapshot.attemptedRevision = report.revision
        snapshot.lastStatus = report.status.rawValue
        snapshot.lastError = report.error
        snapshot.unreadProviders = report.unreadProviders
        snapshot.rejectedRevision = invalid ? report.revision : nil
        switch report.status {
        case .converged, .noChanges, .changesPending:
            snapshot.consecutiveFailures = 0
            if !report.dryRun {
                snapshot.appliedRevision = report.revision
                snapshot.appliedAt = report.startedAt
                snapshot.appliedSigner = report.signer
            }
        case .failed, .refused, .stale, .running, .interrupted, .rejected:
            snapshot.consecutiveFailures += invalid ? 0 : 1
        }
    }

    /// A run that could not start (the lock held, the suspension unreadable): a failure.
    public func skipped(error: String) {
        snapshot.running = false
        snapshot.runningSince = nil
        snapshot.lastError = error
        snapshot.unreadProviders = []
        snapshot.consecutiveFailures += 1
    }

    /// Why the daemon is unhealthy at `now`, or nil: five failed runs in a row, or a run in
    /// flight for longer than `stuckAfter` (every command has a timeout, so a run that long
    /// is stuck somewhere else).
    public func unhealthy(now: Date = Date(), stuckAfter: TimeInterval) -> String? {
        if let since = snapshot.runningSince, now.timeIntervalSince(since) > stuckAfter {
            return "stuck: a run has been in progress for \(Int(now.timeIntervalSince(since))) s (limit \(Int(stuckAfter)) s)"
        }
        if snapshot.consecutiveFailures >= 5 { return "failing: \(snapshot.lastError ?? "")" }
        return nil
    }
}
