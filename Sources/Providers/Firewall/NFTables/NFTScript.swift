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
        // Each step once, with the resource that carries it first (for errors).
        var seen: Set<String> = []
        var tables: [(lines: String, origin: ResourceID)] = [], chains: [(name: String, rules: [String], origin: ResourceID)] = [],
            deletedElements: [(map: String, key: String, origin: ResourceID)] = [], addedElements: [(map: String, key: String, element: String, origin: ResourceID)] = [],
            deletedChains: [(name: String, origin: ResourceID)] = [], deletedTables: [ResourceID] = []
        for resource in resources {
            for case .nftables(let step) in resource.steps where seen.insert(step.title).inserted {
                let origin = resource.id
                switch step {
                case .writeTable: tables.append((step.body ?? "", origin))
                case .writeChain(let chain, let rules): chains.append((chain, rules, origin))
                case .deleteElement(let map, let key): deletedElements.append((map, key, origin))
                case .addElement(let map, let key, let element): addedElements.append((map, key, element, origin))
                case .deleteChain(let chain): deletedChains.append((chain, origin))
                case .deleteTable: deletedTables.append(origin)
                }
            }
        }
        let table = NFTRules.table
        for (lines, origin) in tables { lines.split(separator: "\n").forEach { script.append(String($0), from: origin) } }
        for (chain, rules, origin) in chains.sorted(by: { $0.name < $1.name }) {
            script.append("add chain \(table) \(chain)", from: origin)
            script.append("flush chain \(table) \(chain)", from: origin)
            for rule in rules { script.append("add rule \(table) \(chain) \(rule)", from: NFTRules.owner(of: rule, chain: chain) ?? origin) }
        }
        for (map, key, origin) in deletedElements.sorted(by: { ($0.map, $0.key) < ($1.map, $1.key) }) {
            script.append("delete element \(table) \(map) { \(key) }", from: origin)
        }
        for (map, _, element, origin) in addedElements.sorted(by: { ($0.map, $0.key) < ($1.map, $1.key) }) {
            script.append("add element \(table) \(map) { \(element) }", from: origin)
        }
        for (chain, origin) in deletedChains.sorted(by: { $0.name < $1.name }) {
            script.append("flush chain \(table) \(chain)", from: origin)
            script.append("delete chain \(table) \(chain)", from: origin)
        }
        for origin in deletedTables { script.append("delete table \(table)", from: origin) }
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
