import ArgumentParser
import Basics
import Engine
import Foundation

struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "List recorded runs, newest first.",
        discussion: """
            Examples:
              reconcile history
              reconcile history --limit 5 --output json
            """
    )

    @OptionGroup var state: StateOptions

    @Option(help: "How many runs to list.")
    var limit = 20

    @Option(help: "text or json.")
    var output: OutputFormat = .text

    func run() throws {
        let runs = try state.openLog().runs(limit: limit)
        switch output {
        case .json:
            printJSON(runs)
        case .text:
            guard !runs.isEmpty else {
                print("No runs recorded in \(state.stateDir).")
                return
            }
            // Signers are listed once any run verified one.
            let signed = runs.contains { $0.signer != nil }
            let rows = runs.map { run in
                [
                    "\(run.id ?? 0)", RunFormat.time(run.startedAt), run.trigger, run.dryRun ? "dry-run" : "apply",
                    // A provider that could not read its live state is named beside the status.
                    run.status.rawValue + (run.unreadProviders.isEmpty ? "" : " (\(run.unreadProviders.joined(separator: ", ")) unread)"),
                    run.node, run.revision, RunFormat.changed(run),
                    "\(run.counts.failed)", RunFormat.seconds(run.duration),
                ] + (signed ? [run.signer ?? "-"] : [])
            }
            let header = ["RUN", "STARTED", "TRIGGER", "MODE", "STATUS", "NODE", "REVISION", "CHANGED", "FAILED", "DURATION"]
            printEscaped(RunFormat.table(header: header + (signed ? ["SIGNED BY"] : []), rows: rows))
        }
    }
}

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one recorded run and what happened to each resource.",
        discussion: """
            Examples:
              reconcile show 42
              reconcile show 42 --output json
            """
    )

    @Argument(help: "The run's number, as `reconcile history` lists it.")
    var id: Int64

    @OptionGroup var state: StateOptions

    @Option(help: "text or json.")
    var output: OutputFormat = .text

    func run() throws {
        guard let report = try state.openLog().run(id: id) else {
            Terminal.printError("no run #\(id) in \(state.stateDir)")
            throw ExitStatus.usage
        }
        switch output {
        case .json:
            printJSON(report)
        case .text:
            printEscaped("Run #\(id): \(report.status.rawValue), \(report.dryRun ? "dry-run" : "apply") on \(report.node)")
            printEscaped("  started   \(RunFormat.time(report.startedAt)), took \(RunFormat.seconds(report.duration))")
            printEscaped("  trigger   \(report.trigger)")
            printEscaped("  revision  \(report.revision)" + (report.revisionNote.map { " (\($0))" } ?? ""))
            if let signer = report.signer { printEscaped("  signed by \(signer)") }
            printEscaped("  resources \(report.counts.total): \(report.counts.updated) updated, \(report.counts.wouldUpdate) would update, \(report.counts.unchanged) unchanged, \(report.counts.failed) failed, \(report.counts.skipped) skipped")
            if !report.unreadProviders.isEmpty {
                printEscaped("  unread    \(report.unreadProviders.joined(separator: ", ")) (could not read live state: their resources failed, the others went on)")
            }
            if let error = report.error { printEscaped("  error     \(error)") }
            // Unchanged resources are counted above, not recorded one by one.
            for outcome in report.outcomes {
                printEscaped("\(outcome.outcome.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) \(outcome.resource)"
                      + (outcome.action.map { " (\($0.rawValue))" } ?? ""))
                for change in outcome.changes { printEscaped("    \(change)") }
                if let error = outcome.error { printEscaped("    \(error)") }
            }
        }
    }
}

/// Formatting shared by `history` and `show`.
enum RunFormat {
    static func time(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime]
        return formatter.string(from: date) + "Z"
    }

    static func seconds(_ duration: Double) -> String { String(format: "%.1f s", duration) }

    static func changed(_ run: RunReport) -> String {
        "\(run.dryRun ? run.counts.wouldUpdate : run.counts.updated)/\(run.counts.total)"
    }

    static func table(header: [String], rows: [[String]]) -> String {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}

/// Prints what the run log recorded (commit subjects, tools' errors, live values) with its
/// control characters escaped.
private func printEscaped(_ text: String) {
    print(text.escapingControlCharacters)
}
