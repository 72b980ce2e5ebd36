import ArgumentParser
import Basics
import Engine
import Foundation

/// Prints a run as it happens: the plan, each change as it is made, the closing line.
struct RunPrinter: Sendable {
    let format: OutputFormat
    let color: Bool
    /// Print what apply sends after the plan (`--show-commands`).
    var showCommands = false

    private var renderer: PlanRenderer { PlanRenderer(color: color) }

    func plan(_ planned: PlanEffects) {
        guard format == .text else { return }
        print(renderer.render(planned.plan))
        if showCommands { print(renderer.commands(planned)) }
        fflush(nil)
    }

    func progress(_ outcome: ResourceOutcome) {
        guard format == .text else { return }
        let resource = outcome.resource.description.escapingControlCharacters
        switch outcome.outcome {
        case .updated: print("  \(renderer.paint("✓", .green)) \(resource)")
        case .failed: print("  \(renderer.paint("✗", .red)) \(resource): \((outcome.error ?? "failed").escapingControlCharacters)")
        case .skipped: print("  - \(resource): \((outcome.error ?? "skipped").escapingControlCharacters)")
        case .unchanged, .wouldUpdate: return
        }
        fflush(nil)
    }

    func finish(_ report: RunReport, plan: Plan?) {
        switch format {
        case .json:
            printJSON(RunOutput(plan: plan.map(RunOutput.PlanOutput.init), run: report))
        case .text:
            if let error = report.error { print(renderer.paint("error: \(error.escapingControlCharacters)", .red)) }
            let total = report.counts.total
            let seconds = String(format: "%.1f", report.duration)
            if report.dryRun {
                print("Dry run \(report.id.map { "#\($0)" } ?? ""): \(report.counts.wouldUpdate)/\(total) resources would change; nothing was changed.")
            } else {
                print("\(report.counts.updated)/\(total) resources updated in \(seconds) s (run #\(report.id ?? 0), \(report.status.rawValue)).")
            }
        }
    }
}

extension ExitStatus {
    /// DESIGN.md's exit code for a finished run.
    static func of(_ report: RunReport) -> ExitCode {
        switch report.status {
        case .converged, .noChanges: .success
        case .changesPending: changesPending
        case .stale: stalePlan
        case .rejected: rejected
        case .failed, .refused, .interrupted, .running: resourceFailed
        }
    }
}

/// `reconcile --output json`: the plan as planned, then the run as it went.
struct RunOutput: Encodable {
    struct PlanOutput: Encodable {
        var resources: [Plan.Entry]
        var pendingHandlers: [String]
        var summary: Plan.Counts

        init(_ plan: Plan) {
            resources = plan.entries
            pendingHandlers = plan.pendingHandlers.map(\.description)
            summary = plan.counts
        }
    }

    /// nil when the run stopped before planning (live state unreadable).
    var plan: PlanOutput?
    var run: RunReport
    /// Every problem of an invalid desired state (the run planned nothing).
    var errors: [ValidationReport.Error]?
}
