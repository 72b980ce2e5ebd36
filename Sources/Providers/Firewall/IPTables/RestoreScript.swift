import DesiredState
import Engine

/// The one `iptables-restore --noflush` input made of a batch's planned steps (see
/// ``IPTablesSteps``): per table, every rule of each chain that changes, the jumps from
/// built-in chains, and the removal of chains no longer wanted. Nothing else: the plan made
/// no step for a chain that is someone else's (see ``ChainOwnership``).
struct RestoreScript {
    /// The input, each line with the rule or removed chain it comes from (for errors).
    private(set) var script = NumberedLines<Origin>()
    /// Where each resource of the batch is declared.
    private let sources: [ResourceID: SourceLocation]

    enum Origin {
        case rule(ResourceID)
        case removedChain(String)
    }

    init(_ resources: [Resource]) {
        sources = Dictionary(resources.compactMap { resource in resource.source.map { (resource.id, $0) } }, uniquingKeysWith: { first, _ in first })
        var steps: [IPTablesStep] = []
        for case .iptables(let step) in resources.uniqueSteps { steps.append(step) }
        for table in IPTablesRules.tables {
            var chains: [(chain: String, lines: [String])] = [], removed: [String] = [], jumps: [String: [String]] = [:], hands: [(String, [String])] = []
            for step in steps where step.table == table {
                switch step {
                case .chain(_, let chain, let lines): chains.append((chain, lines))
                case .removeChain(_, let chain): removed.append(chain)
                case .jump(_, let chain, let lines): jumps[chain] = lines
                case .removeHandRules(_, let name, let lines): hands.append((name, lines))
                }
            }
            guard !chains.isEmpty || !removed.isEmpty || !jumps.isEmpty || !hands.isEmpty else { continue }
            chains.sort { $0.chain < $1.chain }
            removed.sort()
            hands.sort { $0.0 < $1.0 }
            script.append("*\(table)", from: nil)
            // Declaring a user chain under --noflush creates it, or flushes it when it exists.
            for chain in chains.map(\.chain) + removed { script.append(":\(chain) - [0:0]", from: nil) }
            for (chain, lines) in chains {
                for line in lines {
                    script.append(line, from: .rule(IPTablesComparison.owner(of: String(line.dropFirst(4 + chain.utf8.count)), chain: chain)))
                }
            }
            for jump in IPTablesRules.jumps where jump.table == table {
                (jumps[jump.chain] ?? []).forEach { script.append($0, from: nil) }
            }
            for chain in removed { script.append("-X \(chain)", from: .removedChain(chain)) }
            // Hand-made rules reconcile's replace (`--adopt`), in the same commit.
            for (_, lines) in hands { lines.forEach { script.append($0, from: nil) } }
            script.append("COMMIT", from: nil)
        }
    }

    /// iptables-restore's error with the offending line and where it comes from.
    func explain(_ stderr: String) -> String {
        let message = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let range = message.range(of: #"line [0-9]+"#, options: .regularExpression),
              let number = Int(message[range].dropFirst(5)), let line = script.line(number)
        else { return message }
        let origin = line.origin.map { " (\(describe($0)))" } ?? ""
        return "line \(number)\(origin): \(line.text): \(message)"
    }

    private func describe(_ origin: Origin) -> String {
        switch origin {
        case .rule(let owner): owner.description + (sources[owner].map { ", \($0)" } ?? "")
        case .removedChain(let chain): "\(IPTablesRules.chainType)[\(chain)] (no longer declared)"
        }
    }
}
