import Engine
import Foundation

/// `GET /`: the applied and the attempted revision, a suspension if any, what the last run
/// found differing (drift, or what a suspended daemon would change), and the last 20 runs
/// with what each changed. Plain HTML, no scripts.
struct StatusPage {
    let snapshot: DaemonStatus.Snapshot
    /// Newest first, each with at most ``listedPerRun`` outcomes other than unchanged.
    let runs: [RunReport]
    /// Why `/healthz` fails (stuck, five failures in a row), or nil.
    var health: String?

    /// Resources listed per run; the rest are counted. A first apply at 7,000 VMs changes
    /// 49,000, which would make an 11 MB page.
    static let listedPerRun = 50

    var html: String {
        var body = ["<h1>reconcile</h1>", "<table class=\"revisions\">"]
        body.append(row("applied revision", snapshot.appliedRevision.map { code($0) + at(snapshot.appliedAt) } ?? "none yet", id: "applied"))
        if let signer = snapshot.appliedSigner { body.append(row("signed by", escape(signer), id: "signer")) }
        body.append(row("attempted revision", snapshot.attemptedRevision.map(code) ?? "none yet", id: "attempted"))
        body.append(row("last run", escape(snapshot.running ? "running" : snapshot.lastStatus ?? "none"), id: "last-status"))
        body.append(row("health", escape(health ?? "ok"), id: "health"))
        if let holder = snapshot.lockHolder {
            body.append(row("waiting", "for the state directory's lock, held by " + escape(holder), id: "lock-wait"))
        }
        if !snapshot.unreadProviders.isEmpty {
            body.append(row("unreadable", escape(snapshot.unreadProviders.joined(separator: ", ")) + " could not read live state: their resources failed, the others converged",
                            id: "unread-providers"))
        }
        if let error = snapshot.lastError { body.append(row("last error", "<pre>\(escape(error))</pre>", id: "last-error")) }
        if let rejected = snapshot.rejectedRevision {
            let why = snapshot.lastStatus == RunReport.Status.rejected.rawValue ? "is not signed by an allowed key" : "is invalid"
            body.append(row("rejected", code(rejected) + " \(why); not retried until the branch moves", id: "rejected"))
        }
        body.append("</table>")
        if let suspension = snapshot.suspension {
            let until = suspension.until.map { " until \(Self.format($0))" } ?? " until `reconcile resume`"
            body.append("<p id=\"suspended\" class=\"suspended\">Suspended: \(escape(suspension.reason))\(escape(until)). Runs plan and record drift but apply nothing.</p>")
        }
        let drift = runs.first?.outcomes.filter { $0.outcome == .wouldUpdate || $0.outcome == .updated } ?? []
        let driftCount = runs.first.map { $0.counts.wouldUpdate + $0.counts.updated } ?? 0
        body.append("<h2>Current drift</h2>")
        body.append(drift.isEmpty ? "<p id=\"drift\">None: the last run found everything as declared.</p>"
                    : "<ul id=\"drift\">" + drift.map { "<li>\(describe($0))</li>" }.joined()
                        + more(driftCount - drift.count, run: runs.first).map { "<li>\($0)</li>" }.joined() + "</ul>")
        body.append("<h2>Last runs</h2><table id=\"runs\"><tr><th>run</th><th>started</th><th>trigger</th><th>revision</th><th>status</th><th>changed</th></tr>")
        for run in runs {
            let total = run.counts.total - run.counts.unchanged
            let listed = run.outcomes.filter { $0.outcome != .unchanged }
            let changed = (listed.map(describe) + more(total - listed.count, run: run)).joined(separator: "<br>")
            body.append("<tr><td>#\(run.id ?? 0)</td><td>\(Self.format(run.startedAt))</td><td>\(escape(run.trigger))</td>"
                        + "<td>\(code(String(run.revision.prefix(12))))</td><td class=\"\(run.status.rawValue)\">\(run.status.rawValue)"
                        + "\(run.dryRun ? " (dry-run)" : "")</td><td>\(changed.isEmpty ? "—" : changed)</td></tr>")
        }
        body.append("</table>")
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>reconcile</title>
            <style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em .6em;text-align:left;vertical-align:top}
            .failed,.refused,.stale,.interrupted,.rejected{color:#b00}.suspended{background:#fe8;padding:.5em}</style></head>
            <body>
            \(body.joined(separator: "\n"))
            </body></html>

            """
    }

    private func row(_ label: String, _ value: String, id: String) -> String {
        "<tr><th>\(label)</th><td id=\"\(id)\">\(value)</td></tr>"
    }

    private func describe(_ outcome: ResourceOutcome) -> String {
        let changes = outcome.changes.map { escape($0.description) }.joined(separator: "; ")
        let error = outcome.error.map { " — " + escape($0) } ?? ""
        return "\(outcome.outcome.rawValue) \(escape(outcome.resource.description))" + (changes.isEmpty ? "" : ": " + changes) + error
    }

    /// `… and 48,958 more: reconcile show 7`, when some were not listed.
    private func more(_ count: Int, run: RunReport?) -> [String] {
        guard count > 0, let id = run?.id else { return [] }
        return ["… and \(count) more: " + code("reconcile show \(id)")]
    }

    private func code(_ text: String) -> String { "<code>\(escape(text))</code>" }

    private func at(_ date: Date?) -> String { date.map { " at " + Self.format($0) } ?? "" }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func format(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
}
