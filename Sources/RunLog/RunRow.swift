import Engine
import Foundation
import GRDB

/// A `run` table row.
struct RunRow: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "run"

    var id: Int64?
    var trigger: String
    var revision: String
    var revisionNote: String?
    var signer: String?
    var node: String
    var dryRun: Bool
    var startedAt: Date
    var duration: Double
    var status: String
    var unchanged: Int
    var updated: Int
    var wouldUpdate: Int
    var failed: Int
    var skipped: Int
    var error: String?
    /// ``RunReport/unreadProviders``, one per line.
    var unreadProviders: String?
    var pid: Int32

    init(_ run: RunReport) {
        id = run.id
        trigger = run.trigger
        revision = run.revision
        revisionNote = run.revisionNote
        signer = run.signer
        node = run.node
        dryRun = run.dryRun
        startedAt = run.startedAt
        duration = run.duration
        status = run.status.rawValue
        unchanged = run.counts.unchanged
        updated = run.counts.updated
        wouldUpdate = run.counts.wouldUpdate
        failed = run.counts.failed
        skipped = run.counts.skipped
        error = run.error
        unreadProviders = run.unreadProviders.isEmpty ? nil : run.unreadProviders.joined(separator: "\n")
        pid = getpid()
    }

    mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }

    func report(outcomes: [ResourceOutcome]) -> RunReport {
        var report = RunReport(trigger: trigger, revision: revision, node: node, dryRun: dryRun, startedAt: startedAt)
        report.id = id
        report.revisionNote = revisionNote
        report.signer = signer
        report.duration = duration
        report.status = RunReport.Status(rawValue: status) ?? .failed
        report.counts.unchanged = unchanged
        report.counts.updated = updated
        report.counts.wouldUpdate = wouldUpdate
        report.counts.failed = failed
        report.counts.skipped = skipped
        report.error = error
        report.unreadProviders = unreadProviders.map { $0.split(separator: "\n").map(String.init) } ?? []
        report.outcomes = outcomes
        return report
    }
}
