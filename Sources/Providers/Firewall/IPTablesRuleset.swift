/// Chains and rules of iptables tables, as `iptables-save` prints them.
///
/// Rules are kept as their text after `-A CHAIN `, in order: desired rules are rendered in
/// the same canonical form, so comparing is comparing strings.
struct IPTablesRuleset: Equatable, Sendable {
    /// table → chain → rules, in order.
    var tables: [String: [String: [String]]] = [:]

    /// Parses `iptables-save` output (any number of tables).
    static func parse(_ text: String) -> IPTablesRuleset {
        var ruleset = IPTablesRuleset()
        var table = ""
        for line in text.split(separator: "\n") {
            if line.hasPrefix("*") {
                table = String(line.dropFirst())
                ruleset.tables[table] = [:]
            } else if line.hasPrefix(":") {
                let chain = line.dropFirst().split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
                ruleset.tables[table, default: [:]][chain] = ruleset.tables[table]?[chain] ?? []
            } else if line.hasPrefix("-A ") {
                let rest = line.dropFirst(3)
                guard let space = rest.firstIndex(of: " ") else { continue }
                ruleset.tables[table, default: [:]][String(rest[..<space]), default: []].append(String(rest[rest.index(after: space)...]))
            }
        }
        return ruleset
    }

    func rules(_ table: String, _ chain: String) -> [String]? { tables[table]?[chain] }

    /// The `rc:…` comment tag of a rule, quoted or not: `rc:rule:web`.
    static func tag(of rule: String) -> String? {
        guard let range = rule.range(of: "--comment ") else { return nil }
        var rest = rule[range.upperBound...]
        if rest.first == "\"" {
            rest = rest.dropFirst()
            return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
        }
        return String(rest.prefix { $0 != " " })
    }
}
