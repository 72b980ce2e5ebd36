import Engine
import Foundation
import GRDB

/// Run history and the inventory, in `<state-dir>/reconcile.sqlite`.
///
/// One row per run, one per resource outcome other than unchanged (those are counted), one
/// per inventoried resource. Writes are
/// transactions, so a run killed at any point leaves the database as it was before the write
/// in progress; such a run stays `running` until the next one marks it `interrupted`.
public final class RunLog: RunRecorder, @unchecked Sendable {
    // DatabaseQueue serializes all access itself; the class adds no mutable state.
    private let database: DatabaseQueue

    public static let fileName = "reconcile.sqlite"

    /// Opens (creating if needed) the log in `stateDirectory`.
    public init(stateDirectory: String) throws {
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)  // `history` may read while a run writes
        database = try DatabaseQueue(path: stateDirectory + "/" + Self.fileName, configuration: configuration)
        try Self.migrator.migrate(database)
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "run") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("trigger", .text).notNull()
                t.column("revision", .text).notNull()
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
                t.column("runId", .integer).notNull().references("run", onDelete: .cascade).indexed()
                t.column("position", .integer).notNull()
                t.column("resource", .text).notNull()
                t.column("outcome", .text).notNull()
                t.column("action", .text)
                t.column("changes", .text).notNull()  // JSON array of PropertyChange
                t.column("error", .text)
                t.primaryKey(["runId", "position"])
            }
            try db.create(table: "inventory") { t in
                t.column("node", .text).notNull()
                t.column("resource", .text).notNull()
                t.column("addedAt", .datetime).notNull()
                t.primaryKey(["node", "resource"])
            }
        }
        migrator.registerMigration("v2-pending-handlers") { db in
            try db.create(table: "pendingHandler") { t in
                t.column("node", .text).notNull()
                t.column("handler", .text).notNull()
                t.primaryKey(["node", "handler"])
            }
        }
        migrator.registerMigration("v3-revision-note") { db in
            try db.alter(table: "run") { t in t.add(column: "revisionNote", .text) }
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
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        try database.write { db in
            var row = RunRow(run)
            row.id = id
            try row.update(db)
            try db.execute(sql: "DELETE FROM outcome WHERE runId = ?", arguments: [id])
            // Unchanged resources are counted, not listed: a no-op run of 50,000 resources
            // writes one row, not 50,000.
            for (position, outcome) in run.outcomes.enumerated() where outcome.outcome != .unchanged {
                let changes = String(decoding: try encoder.encode(outcome.changes), as: UTF8.self)
                try db.execute(
                    sql: "INSERT INTO outcome (runId, position, resource, outcome, action, changes, error) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    arguments: [id, position, outcome.resource.description, outcome.outcome.rawValue,
                                outcome.action?.rawValue, changes, outcome.error]
                )
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
            for resource in resources {
                try db.execute(sql: "INSERT OR IGNORE INTO inventory (node, resource, addedAt) VALUES (?, ?, ?)",
                               arguments: [node, resource.description, Date()])
            }
        }
    }

    public func removeFromInventory(_ resources: [ResourceID], node: String) throws {
        guard !resources.isEmpty else { return }
        try database.write { db in
            for resource in resources {
                try db.execute(sql: "DELETE FROM inventory WHERE node = ? AND resource = ?", arguments: [node, resource.description])
            }
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

    /// One run with every resource outcome, or nil if there is no such run.
    public func run(id: Int64) throws -> RunReport? {
        try database.read { db in
            guard let row = try RunRow.fetchOne(db, key: id) else { return nil }
            let decoder = JSONDecoder()
            let outcomes = try Row.fetchAll(db, sql: "SELECT * FROM outcome WHERE runId = ? ORDER BY position", arguments: [id])
                .map { row -> ResourceOutcome in
                    let resourceText: String = row["resource"]
                    let changesText: String = row["changes"]
                    let kindText: String = row["outcome"]
                    let actionText: String? = row["action"]
                    return ResourceOutcome(
                        ResourceID(parsing: resourceText) ?? ResourceID("unknown", resourceText),
                        ResourceOutcome.Kind(rawValue: kindText) ?? .failed,
                        action: actionText.flatMap(Resource.Action.init(rawValue:)),
                        changes: (try? decoder.decode([PropertyChange].self, from: Data(changesText.utf8))) ?? [],
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
