import Engine

/// The one `iptables-restore --noflush` input that makes the RC-* chains as wanted: every
/// rule of each chain that differs, the jumps from built-in chains, and the removal of
/// chains no longer wanted. Nothing else.
struct RestoreScript {
    private(set) var lines: [String] = []
    /// Input line number (1-based) → the desired-state object the line comes from.
    private(set) var origins: [Int: String] = [:]

    init(want: FirewallRules, live: IPTablesRuleset) {
        let wanted = want.chains
        var owners: [String: FirewallRules.Rule] = [:]
        for rule in want.rules { owners["\(rule.table)/\(rule.chain)/\(rule.text)"] = rule }
        for table in ["filter", "nat"] {
            let wantedChains = wanted[table] ?? [:]
            let liveChains = live.tables[table] ?? [:]
            let changed = wantedChains.keys.sorted().filter { liveChains[$0] != wantedChains[$0] }
            let removed = liveChains.keys.sorted().filter { $0.hasPrefix("RC-") && wantedChains[$0] == nil }
            let jumps = FirewallRules.jumps.filter { $0.table == table && live.rules(table, $0.chain)?.first != FirewallRules.jumpRule($0.target) }
            guard !changed.isEmpty || !removed.isEmpty || !jumps.isEmpty else { continue }
            lines.append("*\(table)")
            // Declaring a user chain under --noflush creates it, or flushes it when it exists.
            for chain in changed + removed { lines.append(":\(chain) - [0:0]") }
            for chain in changed {
                for rule in wantedChains[chain] ?? [] {
                    lines.append("-A \(chain) \(rule)")
                    if let owner = owners["\(table)/\(chain)/\(rule)"] {
                        origins[lines.count] = owner.owner.description + (owner.source.map { ", \($0)" } ?? "")
                    }
                }
            }
            for jump in jumps {
                let rule = FirewallRules.jumpRule(jump.target)
                for _ in (live.rules(table, jump.chain) ?? []).filter({ $0 == rule }) { lines.append("-D \(jump.chain) \(rule)") }
                lines.append("-I \(jump.chain) 1 \(rule)")
            }
            for chain in removed {
                lines.append("-X \(chain)")
                origins[lines.count] = "\(FirewallRules.chainType)[\(chain)] (no longer declared)"
            }
            lines.append("COMMIT")
        }
    }

    var isEmpty: Bool { lines.isEmpty }
    var text: String { lines.joined(separator: "\n") + "\n" }

    /// iptables-restore's error with the offending line and where it comes from.
    func explain(_ stderr: String) -> String {
        let message = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let range = message.range(of: #"line [0-9]+"#, options: .regularExpression),
              let number = Int(message[range].dropFirst(5)), number >= 1, number <= lines.count
        else { return message }
        let origin = origins[number].map { " (\($0))" } ?? ""
        return "line \(number)\(origin): \(lines[number - 1]): \(message)"
    }
}
