import Basics
import Engine
import Foundation
import GRDB

/// Run history and the inventory, in `<state-dir>/reconcile.sqlite`.
///
/// One row per run, one per resource outcome other than unchanged (those are counted unless a change waits), one
/// per inventoried resource. Writes are
/// transactions, so a run killed at any point leaves the database as it was before the write
/// in progress; such a run stays `running` until the next one marks it `interrupted`.
public final class RunLog: RunRecorder, @unchecked Sendable {
    // DatabaseQueue serializes all access itself; the class adds no mutable state.
    private let database: DatabaseQueue

    public static let fileName = "reconcile.sqlite"

    /// Opens (creating if needed) the log in `stateDirectory`.
    public init(stateDirectory: String) throws {
        try StateDirectory.prepare(stateDirectory)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)  // `history` may read while a run writes
        let path = stateDirectory + "/" + Self.fileName
        database = try DatabaseQueue(path: path, configuration: configuration)
        // The owner's only, as the directory; SQLite gives its journal the database's mode.
        try Syscall.check("chmod \(path)") { chmod(path, 0o600) }
        try Self.migrator.migrate(database)
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "run") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("trigger", .text).notNull()
                t.column("revision", .text).notNull()
                t.column("revisionNote", .text)
                t.column("node", .text).notNull()
                t.column("dryRun", .boolean).notNull()
                t.column("startedAt", .datetime).notNull()
                t.column("duration", .double).notNull()
                t.column("status", .text).notNull()
                t.column("unchanged", .integer).notNull()
                t.column("updated", .integer).notNull()
                t.column("wouldUpdate", .integer).notNull()
                t.column("failed", .integer).notNull()
                t.column("skipped", .integer).notNull()
                t.column("error", .text)
                t.column("pid", .integer).notNull()
            }
            try db.create(table: "outcome") { t in
                t.column("runId", .integer).notNull().references("run", onDelete: .cascade)
                t.column("position", .integer).notNull()
                t.column("resource", .text).notNull()
                t.column("outcome", .text).notNull()
                t.column("action", .text)
                t.column("error", .text)
                t.primaryKey(["runId", "position"])
            }
            try db.create(table: "outcomeChange") { t in
                t.column("runId", .integer).notNull().references("run", onDelete: .cascade)
                t.column("position", .integer).notNull()  // the outcome's
                t.column("property", .text).notNull()
                t.column("fromValue", .text)
                t.column("toValue", .text)
                t.column("note", .text)
            }
            try db.create(index: "outcomeChangeByOutcome", on: "outcomeChange", columns: ["runId", "position"])
            try db.create(table: "inventory") { t in
                t.column("node", .text).notNull()
                t.column("resource", .text).notNull()
                t.column("addedAt", .datetime).notNull()
                t.primaryKey(["node", "resource"])
            }
            try db.create(table: "pendingHandler") { t in
                t.column("node", .text).notNull()
                t.column("handler", .text).notNull()
                t.primaryKey(["node", "handler"])
            }
        }
        migrator.registerMigration("v2: signer") { db in
            try db.alter(table: "run") { t in t.add(column: "signer", .text) }
        }
        migrator.registerMigration("v3: unread providers") { db in
            try db.alter(table: "run") { t in t.add(column: "unreadProviders", .text) }
        }
        return migrator
    }

    // MARK: - RunRecorder

    public func begin(_ run: RunReport) throws -> Int64 {
        try database.write { db in
            // The caller holds the state lock: any run still marked running has died.
            try db.execute(sql: "UPDATE run SET status = ? WHERE status = ?",
                           arguments: [RunReport.Status.interrupted.rawValue, RunReport.Status.running.rawValue])
            var row = RunRow(run)
            try row.insert(db)
            return db.lastInsertedRowID
        }
    }

    public func finish(_ run: RunReport) throws {
        guard let id = run.id else { return }
        try database.write { db in
            var row = RunRow(run)
            row.id = id
            try row.update(db)
            try db.execute(sql: "DELETE FROM outcome WHERE runId = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM outcomeChange WHERE runId = ?", arguments: [id])
            let outcome = try db.cachedStatement(
                sql: "INSERT INTO outcome (runId, position, resource, outcome, action, error) VALUES (?, ?, ?, ?, ?, ?)")
            let change = try db.cachedStatement(
                sql: "INSERT INTO outcomeChange (runId, position, property, fromValue, toValue, note) VALUES (?, ?, ?, ?, ?, ?)")
            // Unchanged resources are counted, not listed (a no-op run of 50,000 resources
            // writes one row, not 50,000), unless a change of theirs waits, e.g. for a restart.
            for (position, result) in run.outcomes.enumerated() where result.outcome != .unchanged || !result.changes.isEmpty {
                try outcome.execute(arguments: [id, position, result.resource.description, result.outcome.rawValue,
                                                result.action?.rawValue, result.error])
                for diff in result.changes {
                    try change.execute(arguments: [id, position, diff.property, diff.from, diff.to, diff.note])
                }
            }
        }
    }

    public func inventory(node: String) throws -> Set<ResourceID> {
        try database.read { db in
            let names = try String.fetchAll(db, sql: "SELECT resource FROM inventory WHERE node = ?", arguments: [node])
            return Set(names.compactMap(ResourceID.init(parsing:)))
        }
    }

    public func addToInventory(_ resources: [ResourceID], node: String) throws {
        guard !resources.isEmpty else { return }
        try database.write { db in
            let insert = try db.cachedStatement(sql: "INSERT OR IGNORE INTO inventory (node, resource, addedAt) VALUES (?, ?, ?)")
            let now = Date().databaseValue  // converted once, not per row
            for resource in resources { try insert.execute(arguments: [node, resource.description, now]) }
        }
    }

    public func removeFromInventory(_ resources: [ResourceID], node: String) throws {
        guard !resources.isEmpty else { return }
        try database.write { db in
            let delete = try db.cachedStatement(sql: "DELETE FROM inventory WHERE node = ? AND resource = ?")
            for resource in resources { try delete.execute(arguments: [node, resource.description]) }
        }
    }

    public func pendingHandlers(node: String) throws -> [ResourceID] {
        try database.read { db in
            try String.fetchAll(db, sql: "SELECT handler FROM pendingHandler WHERE node = ? ORDER BY handler", arguments: [node])
                .compactMap(ResourceID.init(parsing:))
        }
    }

    public func setHandler(_ handler: ResourceID, pending: Bool, node: String) throws {
        try database.write { db in
            if pending {
                try db.execute(sql: "INSERT OR IGNORE INTO pendingHandler (node, handler) VALUES (?, ?)", arguments: [node, handler.description])
            } else {
                try db.execute(sql: "DELETE FROM pendingHandler WHERE node = ? AND handler = ?", arguments: [node, handler.description])
            }
        }
    }

    // MARK: - History

    /// The newest runs first, without their outcomes.
    public func runs(limit: Int = 20) throws -> [RunReport] {
        try database.read { db in
            try RunRow.order(Column("id").desc).limit(limit).fetchAll(db).map { $0.report(outcomes: []) }
        }
    }

    /// The commit the last run that applied anything came from (a converged or failed run, not
    /// a dry-run; a failed load records a ref or `invalid`, not a commit id): where
    /// `--verify-signatures` in history mode starts checking.
    public func lastAppliedCommit() throws -> String? {
        try database.read { db in
            try String.fetchAll(db, sql: "SELECT revision FROM run WHERE dryRun = 0 AND status IN (?, ?) ORDER BY id DESC LIMIT 20",
                                arguments: [RunReport.Status.converged.rawValue, RunReport.Status.failed.rawValue])
                .first { $0.count == 40 && $0.allSatisfy(\.isHexDigit) }
        }
    }

    /// The last `limit` runs, newest first, each with its recorded outcomes (see ``run(id:changedLimit:)``).
    public func recentRuns(limit: Int, changedLimit: Int? = nil) throws -> [RunReport] {
        try runs(limit: limit).compactMap { summary in try summary.id.flatMap { try run(id: $0, changedLimit: changedLimit) } }
    }

    /// One run with every recorded resource outcome, or nil if there is no such run. With
    /// `changedLimit`, only the first that many outcomes other than unchanged (a first apply
    /// at 7,000 VMs records 49,000); the run's counts still tell how many there are.
    public func run(id: Int64, changedLimit: Int? = nil) throws -> RunReport? {
        try database.read { db in
            guard let row = try RunRow.fetchOne(db, key: id) else { return nil }
            let rows = try changedLimit.map { limit in
                try Row.fetchAll(db, sql: "SELECT * FROM outcome WHERE runId = ? AND outcome != ? ORDER BY position LIMIT ?",
                                 arguments: [id, ResourceOutcome.Kind.unchanged.rawValue, limit])
            } ?? Row.fetchAll(db, sql: "SELECT * FROM outcome WHERE runId = ? ORDER BY position", arguments: [id])
            let lastPosition: Int = rows.last?["position"] ?? -1
            var changes: [Int: [PropertyChange]] = [:]
            for change in try Row.fetchAll(db, sql: "SELECT * FROM outcomeChange WHERE runId = ? AND position <= ? ORDER BY rowid",
                                           arguments: [id, lastPosition]) {
                changes[change["position"], default: []].append(
                    PropertyChange(change["property"], from: change["fromValue"], to: change["toValue"], note: change["note"]))
            }
            let outcomes = rows.map { row -> ResourceOutcome in
                let resourceText: String = row["resource"]
                let kindText: String = row["outcome"]
                let actionText: String? = row["action"]
                return ResourceOutcome(
                    ResourceID(parsing: resourceText) ?? ResourceID("unknown", resourceText),
                    ResourceOutcome.Kind(rawValue: kindText) ?? .failed,
                    action: actionText.flatMap(Resource.Action.init(rawValue:)),
                    changes: changes[row["position"]] ?? [],
                    error: row["error"]
                )
            }
            return row.report(outcomes: outcomes)
        }
    }

    /// SQLite's own consistency check: "ok" when the file is intact.
    public func integrityCheck() throws -> String {
        try database.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "no answer" }
    }
}
