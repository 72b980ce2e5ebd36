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
        var carrier: [String: ResourceID] = [:]
        for resource in resources { for step in resource.steps where carrier[step.key] == nil { carrier[step.key] = resource.id } }
        let steps = resources.uniqueSteps
        func of(_ operation: String) -> [Step] { steps.filter { $0.operation == operation }.sorted { $0.target < $1.target } }
        let table = NFTRules.table
        for step in of(NFTComparison.writeTable) {
            (step.input ?? "").split(separator: "\n").forEach { script.append(String($0), from: carrier[step.key]) }
        }
        for step in of(NFTComparison.writeChain) {
            script.append("add chain \(table) \(step.target)", from: carrier[step.key])
            script.append("flush chain \(table) \(step.target)", from: carrier[step.key])
            for rule in (step.input ?? "").split(separator: "\n") {
                let line = String(rule)
                script.append("add rule \(table) \(step.target) \(line)", from: NFTRules.owner(of: line, chain: step.target) ?? carrier[step.key])
            }
        }
        for step in of(NFTComparison.deleteElement) {
            let (map, key) = Self.split(step.target)
            script.append("delete element \(table) \(map) { \(key) }", from: carrier[step.key])
        }
        for step in of(NFTComparison.addElement) {
            let (map, _) = Self.split(step.target)
            script.append("add element \(table) \(map) { \(step.input ?? "") }", from: carrier[step.key])
        }
        for step in of(NFTComparison.deleteChain) {
            script.append("flush chain \(table) \(step.target)", from: carrier[step.key])
            script.append("delete chain \(table) \(step.target)", from: carrier[step.key])
        }
        for step in of(NFTComparison.deleteTable) { script.append("delete table \(table)", from: carrier[step.key]) }
    }

    private static func split(_ target: String) -> (String, String) {
        let parts = target.split(separator: " ", maxSplits: 1).map(String.init)
        return (parts.first ?? "", parts.count > 1 ? parts[1] : "")
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
