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
        let steps = resources.uniqueSteps
        for table in IPTablesRules.tables {
            let inTable = steps.filter { $0.target.hasPrefix(table + "/") }
            let chains = inTable.filter { $0.operation == IPTablesSteps.chain }.sorted { $0.target < $1.target }
            let removed = inTable.filter { $0.operation == IPTablesSteps.removeChain }.sorted { $0.target < $1.target }
            let jumps = IPTablesRules.jumps.compactMap { jump in
                inTable.first { $0.operation == IPTablesSteps.jump && $0.target == "\(jump.table)/\(jump.chain)" }
            }
            let hands = inTable.filter { $0.operation == HandRules.remove }.sorted { $0.target < $1.target }
            guard !chains.isEmpty || !removed.isEmpty || !jumps.isEmpty || !hands.isEmpty else { continue }
            script.append("*\(table)", from: nil)
            // Declaring a user chain under --noflush creates it, or flushes it when it exists.
            for step in chains + removed { script.append(":\(Self.chainName(step)) - [0:0]", from: nil) }
            for step in chains {
                let chain = Self.chainName(step)
                for line in (step.input ?? "").split(separator: "\n") {
                    script.append(String(line), from: .rule(IPTablesComparison.owner(of: String(line.dropFirst(4 + chain.utf8.count)), chain: chain)))
                }
            }
            for step in jumps { (step.input ?? "").split(separator: "\n").forEach { script.append(String($0), from: nil) } }
            for step in removed { script.append("-X \(Self.chainName(step))", from: .removedChain(Self.chainName(step))) }
            // Hand-made rules reconcile's replace (`--adopt`), in the same commit.
            for step in hands { (step.input ?? "").split(separator: "\n").forEach { script.append(String($0), from: nil) } }
            script.append("COMMIT", from: nil)
        }
    }

    /// `RC-VM-a` of a step on `filter/RC-VM-a`.
    private static func chainName(_ step: Step) -> String {
        String(step.target.drop { $0 != "/" }.dropFirst())
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
