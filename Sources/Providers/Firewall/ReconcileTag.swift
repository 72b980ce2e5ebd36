import DesiredState
import Engine

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

extension ReconcileTag {
    /// How one backend names the resources its lines belong to.
    struct Owners: Sendable {
        var rule: String, pair: String, chain: String
        /// A VM's chain: `RC-VM-web`, `vm_web`.
        var chainOfVM: @Sendable (String) -> String
    }

    /// The resource a line with this tag belongs to on a backend; nil for reconcile's jumps,
    /// which belong to the chain they are in.
    func owner(_ owners: Owners) -> ResourceID? {
        switch self {
        case .rule(let name): ResourceID(owners.rule, name)
        case .pair(let name): ResourceID(owners.pair, name)
        case .vm(let name): ResourceID(owners.chain, owners.chainOfVM(name))
        case .chain(let name): ResourceID(owners.chain, name)
        case .jump: nil
        }
    }
}
