import Engine
import Foundation
import Metrics

/// The `reconcile_*` series, through swift-metrics (the daemon bootstraps Prometheus).
enum RunMetrics {
    /// A tick that found the branch still at a revision already found invalid or unsigned, and
    /// did not try it again.
    static func recordRejectedRevisionSkipped() {
        Counter(label: "reconcile_rejected_revision_skips_total").increment()
    }

    static func record(_ report: RunReport, drift: Bool) {
        Counter(label: "reconcile_runs_total", dimensions: [("status", report.status.rawValue)]).increment()
        Metrics.Timer(label: "reconcile_run_duration_seconds").recordSeconds(report.duration)
        let counts = report.counts
        for (outcome, count) in [("unchanged", counts.unchanged), ("updated", counts.updated), ("would-update", counts.wouldUpdate),
                                 ("failed", counts.failed), ("skipped", counts.skipped)] where count > 0 {
            Counter(label: "reconcile_resources_total", dimensions: [("outcome", outcome)]).increment(by: count)
        }
        // A provider that could not read its live state (its resources failed, the others went on).
        for provider in report.unreadProviders {
            Counter(label: "reconcile_provider_read_failures_total", dimensions: [("provider", provider)]).increment()
        }
        // Resources a run changed although the revision did not: someone changed the machine.
        if drift, counts.updated > 0 {
            Counter(label: "reconcile_drift_corrections_total").increment(by: counts.updated)
        }
        if report.status == .converged || report.status == .noChanges, !report.dryRun {
            Gauge(label: "reconcile_last_applied_timestamp_seconds").record(report.startedAt.timeIntervalSince1970)
        }
    }
}
