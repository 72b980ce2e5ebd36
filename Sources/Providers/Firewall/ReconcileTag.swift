import DesiredState

/// The comment tags reconcile writes on its rules, and only those: `reconcile` on its jumps
/// from the built-in chains, `rc:rule:NAME`, `rc:pair:NAME`, `rc:vm:NAME` with an object's
/// name, `rc:chain:RC-…` in its dispatch trees. Any other comment, `rc:backdoor` or
/// `rc:pair:web #x` included, is someone else's: such a rule is foreign everywhere.
enum ReconcileTag {
    case jump
    case rule(String)
    case pair(String)
    case vm(String)
    case chain(String)

    init?(_ tag: String) {
        if tag == "reconcile" { self = .jump; return }
        for (prefix, make) in [("rc:rule:", Self.rule), ("rc:pair:", Self.pair), ("rc:vm:", Self.vm)] where tag.hasPrefix(prefix) {
            let name = String(tag.dropFirst(prefix.count))
            guard Kind.isValidName(name) else { return nil }
            self = make(name)
            return
        }
        if tag.hasPrefix("rc:chain:RC-"), tag.utf8.count <= "rc:chain:".utf8.count + 28 {
            self = .chain(String(tag.dropFirst("rc:chain:".count)))
            return
        }
        return nil
    }

    /// Whether `tag` is one reconcile writes.
    static func isOurs(_ tag: String?) -> Bool { tag.flatMap(ReconcileTag.init) != nil }
}
