import DesiredState
import Engine

/// The one `nft -f` transaction made of a batch's planned steps (see ``NFTSteps``), in the
/// order that keeps every reference valid: the table and its base chains, each VM chain
/// rewritten whole, elements deleted, elements added, chains no longer wanted deleted, and
/// the table deleted. nft applies it all or nothing.
struct NFTScript {
    /// Per line, the resource whose step it comes from.
    private(set) var script = NumberedLines<ResourceID>()
    private let sources: [ResourceID: SourceLocation]

    init(_ resources: [Resource]) {
        sources = Dictionary(resources.compactMap { resource in resource.source.map { (resource.id, $0) } }, uniquingKeysWith: { first, _ in first })
        var carrier: [String: ResourceID] = [:]  // a step's title → the resource that carries it first
        var tables: [NFTablesStep] = [], chains: [(String, [String])] = [], deletedElements: [(String, String)] = [],
            addedElements: [(String, String, String)] = [], deletedChains: [String] = [], deletedTables: [NFTablesStep] = []
        for resource in resources {
            for case .nftables(let step) in resource.steps where carrier[step.title] == nil {
                carrier[step.title] = resource.id
                switch step {
                case .writeTable: tables.append(step)
                case .writeChain(let chain, let rules): chains.append((chain, rules))
                case .deleteElement(let map, let key): deletedElements.append((map, key))
                case .addElement(let map, let key, let element): addedElements.append((map, key, element))
                case .deleteChain(let chain): deletedChains.append(chain)
                case .deleteTable: deletedTables.append(step)
                }
            }
        }
        let table = NFTRules.table
        for step in tables { (step.body ?? "").split(separator: "\n").forEach { script.append(String($0), from: carrier[step.title]) } }
        for (chain, rules) in chains.sorted(by: { $0.0 < $1.0 }) {
            let origin = carrier[NFTablesStep.writeChain(chain: chain, rules: rules).title]
            script.append("add chain \(table) \(chain)", from: origin)
            script.append("flush chain \(table) \(chain)", from: origin)
            for rule in rules { script.append("add rule \(table) \(chain) \(rule)", from: NFTRules.owner(of: rule, chain: chain) ?? origin) }
        }
        for (map, key) in deletedElements.sorted(by: { ($0.0, $0.1) < ($1.0, $1.1) }) {
            script.append("delete element \(table) \(map) { \(key) }", from: carrier[NFTablesStep.deleteElement(map: map, key: key).title])
        }
        for (map, key, element) in addedElements.sorted(by: { ($0.0, $0.1) < ($1.0, $1.1) }) {
            script.append("add element \(table) \(map) { \(element) }", from: carrier[NFTablesStep.addElement(map: map, key: key, element: element).title])
        }
        for chain in deletedChains.sorted() {
            let origin = carrier[NFTablesStep.deleteChain(chain: chain).title]
            script.append("flush chain \(table) \(chain)", from: origin)
            script.append("delete chain \(table) \(chain)", from: origin)
        }
        for step in deletedTables { script.append("delete table \(table)", from: carrier[step.title]) }
    }

    /// nft's error with the offending line and the desired-state object it comes from: nft
    /// reports `/dev/stdin:12:5-20: Error: …`.
    func explain(_ stderr: String) -> String {
        let message = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let range = message.range(of: #"/dev/stdin:[0-9]+:"#, options: .regularExpression),
              let number = Int(message[range].dropFirst(11).dropLast()), let line = script.line(number)
        else { return message }
        let origin = line.origin.map { id in " (\(id)" + (sources[id].map { ", \($0)" } ?? "") + ")" } ?? ""
        // nft's own words, without its location (the line is named) and its caret lines.
        let words = message[range.upperBound...].drop { $0 != " " }.dropFirst().prefix { $0 != "\n" }
        return "line \(number)\(origin): \(line.text): \(words)"
    }
}
