import DesiredState
import Engine

/// What both backends show the same way: a resource's rule lines as the plan's changes, and a
/// pair in one line.
enum RuleLines {
    /// Lines removed and added, one change per line, removals first: `- filter/RC-VM-a: -j
    /// ACCEPT`, `+ vm_a: tcp dport 22 accept`; nothing when both are the same.
    static func changes<Line: Equatable>(from current: [Line], to wanted: [Line], text: (Line) -> String, place: (Line) -> String) -> [PropertyChange] {
        if current == wanted { return [] }
        return current.filter { !wanted.contains($0) }.map { PropertyChange.removed(text($0), from: place($0)) }
            + wanted.filter { !current.contains($0) }.map { PropertyChange.added(text($0), to: place($0)) }
    }

    /// A pair as the plan shows it beside its creation: `203.0.113.8 ⇄ 10.0.0.8`.
    static func summary(of pair: IPPair) -> String { "\(pair.publicIP) ⇄ \(pair.privateIP)" }
}
