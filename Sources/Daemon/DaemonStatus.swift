import Engine
import Foundation

/// What the daemon knows between runs, for the loop's decisions and the status page.
public actor DaemonStatus {
    public struct Snapshot: Sendable, Codable {
        /// The revision last converged without failures.
        public var appliedRevision: String?
        public var appliedAt: Date?
        /// The revision the last run tried (differs from the applied one after a failure).
        public var attemptedRevision: String?
        public var lastStatus: String?
        public var lastError: String?
        /// An invalid revision is not retried until the branch moves on.
        public var rejectedRevision: String?
        public var consecutiveFailures = 0
        public var running = false
        public var suspension: Suspension?
    }

    public private(set) var snapshot = Snapshot()

    public init() {}

    func started() { snapshot.running = true }

    func suspended(_ suspension: Suspension?) { snapshot.suspension = suspension }

    /// Records a finished run: what was applied, and the failures in a row (for the backoff).
    func finished(_ report: RunReport, invalid: Bool) {
        snapshot.running = false
        snapshot.attemptedRevision = report.revision
        snapshot.lastStatus = report.status.rawValue
        snapshot.lastError = report.error
        snapshot.rejectedRevision = invalid ? report.revision : nil
        switch report.status {
        case .converged, .noChanges, .changesPending:
            snapshot.consecutiveFailures = 0
            if !report.dryRun {
                snapshot.appliedRevision = report.revision
                snapshot.appliedAt = report.startedAt
            }
        case .failed, .refused, .running, .interrupted:
            snapshot.consecutiveFailures += invalid ? 0 : 1
        }
    }

    func skipped() { snapshot.running = false }
}
