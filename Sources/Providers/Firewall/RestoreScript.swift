import Engine

/// The one `iptables-restore --noflush` input that makes the RC-* chains as wanted: every
/// rule of each chain that differs, the jumps from built-in chains, and the removal of
/// chains no longer wanted. Nothing else: chains that are someone else's (see
/// ``ChainOwnership``) are neither rewritten nor removed.
struct RestoreScript {
    private(set) var lines: [String] = []
    /// Per input line, the desired-state object it comes from (for errors), if any.
    private var origins: [Origin?] = []

    private enum Origin {
        case rule(FirewallRules.Rule)
        case removedChain(String)

        var description: String {
            switch self {
            case .rule(let rule): rule.owner.description + (rule.source.map { ", \($0)" } ?? "")
            case .removedChain(let chain): "\(FirewallRules.chainType)[\(chain)] (no longer declared)"
            }
        }
    }

    init(want: FirewallRules, ownership: ChainOwnership) {
        let live = ownership.live
        for table in FirewallRules.tables {
            let wantedChains = want.chains[table] ?? [:]
            let liveChains = live.tables[table] ?? [:]
            let changed = wantedChains.keys.sorted().filter {
                !FirewallRules.same(liveChains[$0], wantedChains[$0]) && !ownership.isForeign(table, $0)
            }
            let removed = liveChains.keys.sorted().filter { $0.hasPrefix("RC-") && wantedChains[$0] == nil && ownership.owns(table, $0) }
            let jumps = FirewallRules.jumps.filter { jump in
                guard jump.table == table else { return false }
                let present = live.rules(table, jump.chain)?.contains(FirewallRules.jumpRule(jump.target)) == true
                return want.wantsJump(to: jump.target) ? FirewallRules.jumpPosition(jump, in: live) == nil : present
            }
            guard !changed.isEmpty || !removed.isEmpty || !jumps.isEmpty else { continue }
            append("*\(table)")
            // Declaring a user chain under --noflush creates it, or flushes it when it exists.
            for chain in changed + removed { append(":\(chain) - [0:0]") }
            for chain in changed {
                for rule in wantedChains[chain] ?? [] { append("-A \(chain) \(rule.text)", from: .rule(rule)) }
            }
            for jump in jumps {
                // Duplicates go; the first copy's place is kept (at the top when there is none).
                let rule = FirewallRules.jumpRule(jump.target)
                let rules = live.rules(table, jump.chain) ?? []
                for _ in rules.filter({ $0 == rule }) { append("-D \(jump.chain) \(rule)") }
                if want.wantsJump(to: jump.target) { append("-I \(jump.chain) \((rules.firstIndex(of: rule) ?? 0) + 1) \(rule)") }
            }
            for chain in removed { append("-X \(chain)", from: .removedChain(chain)) }
            append("COMMIT")
        }
    }

    private mutating func append(_ line: String, from origin: Origin? = nil) {
        lines.append(line)
        origins.append(origin)
    }

    var isEmpty: Bool { lines.isEmpty }
    var text: String { lines.joined(separator: "\n") + "\n" }

    /// iptables-restore's error with the offending line and where it comes from.
    func explain(_ stderr: String) -> String {
        let message = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let range = message.range(of: #"line [0-9]+"#, options: .regularExpression),
              let number = Int(message[range].dropFirst(5)), number >= 1, number <= lines.count
        else { return message }
        let origin = origins[number - 1].map { " (\($0.description))" } ?? ""
        return "line \(number)\(origin): \(lines[number - 1]): \(message)"
    }
}
