import Basics

/// Prints a plan for a person: deletions first, property-level changes, a summary line.
///
/// ```
/// - firewall_rule[cpro0007-ftp]
/// ~ libvirt_domain[cpro0007]
///     memory: 2 GiB → 4 GiB (live)
/// + nat_pair[cpro0051]  203.0.113.8 ⇄ 10.0.0.8
/// = libvirt_domain[cpro0051]  stored, not yet in effect:
///     vcpus: 1 → 2 (restart pending)
/// Plan: 1 to add, 1 to change, 1 to remove, 57 unchanged.
/// ```
public struct PlanRenderer: Sendable {
    /// ANSI colours (green add, yellow change, red remove and conflicts).
    public var color: Bool

    public init(color: Bool) {
        self.color = color
    }

    /// Every text from the desired or the live state is printed with its control characters
    /// escaped (a hand-made rule's comment or a file's content must not drive the terminal).
    public func render(_ plan: Plan) -> String {
        var lines: [String] = []
        for resource in plan.resources where resource.needsWork || !resource.pendingChanges.isEmpty {
            let id = resource.id.description.escapingControlCharacters
            if !resource.needsWork {
                lines.append(paint("= \(id)", .yellow) + "  stored, not yet in effect:")
                lines += resource.pendingChanges.map { "    \($0)".escapingControlCharacters }
                continue
            }
            if let conflict = resource.conflict {
                lines.append(paint("! \(id)", .red) + "  conflict: \(conflict.escapingControlCharacters)")
                continue
            }
            guard let action = resource.action else { continue }
            let head = paint("\(action.symbol) \(id)", action.colour)
            lines.append(head + (action != .update ? resource.summary.map { "  \($0.escapingControlCharacters)" } ?? "" : ""))
            let shown = action != .create || resource.summary == nil ? resource.changes : []
            lines += shown.map { "    \($0)".escapingControlCharacters }
            if shown.contains(where: { $0.note == "restart pending" }) { lines.append("    " + Self.restartHint) }
        }
        lines += handlers(plan)
        lines.append(summary(plan.counts))
        return lines.joined(separator: "\n")
    }

    /// Tells how to let a change that needs a restart take effect.
    public static let restartHint = "(a restart applies it: --allow-restart, or restartPolicy: allowed on the VM)"

    /// The delayed handlers the plan's changes will run, once each, and those an earlier run
    /// left pending: `~ service[dhcpd]  runs at the end: notified by 3 resources`.
    private func handlers(_ plan: Plan) -> [String] {
        var notified: [ResourceID: Int] = [:]
        for resource in plan.resources where resource.action != nil && resource.conflict == nil {
            for target in Set(resource.notifies.map(\.target)) { notified[target, default: 0] += 1 }
        }
        return Set(notified.keys).union(plan.pendingHandlers).sorted().map { handler in
            var reasons: [String] = []
            if let count = notified[handler] { reasons.append("notified by \(count) resource\(count == 1 ? "" : "s")") }
            if plan.pendingHandlers.contains(handler) { reasons.append("pending: notified by a run that ended before running it") }
            return paint("~ \(handler)", .yellow) + "  runs at the end: " + reasons.joined(separator: "; ")
        }
    }

    public func summary(_ counts: Plan.Counts) -> String {
        var text = "Plan: \(counts.add) to add, \(counts.change) to change, \(counts.remove) to remove, \(counts.unchanged) unchanged"
        if counts.conflicts > 0 { text += ", " + paint("\(counts.conflicts) conflict\(counts.conflicts == 1 ? "" : "s")", .red) }
        return text + "."
    }

    public enum Colour: String, Sendable {
        case red = "31", green = "32", yellow = "33"
    }

    public func paint(_ text: String, _ colour: Colour) -> String {
        color ? "\u{1B}[\(colour.rawValue)m\(text)\u{1B}[0m" : text
    }
}

extension Resource.Action {
    var colour: PlanRenderer.Colour {
        switch self {
        case .create: .green
        case .update: .yellow
        case .delete: .red
        }
    }
}
