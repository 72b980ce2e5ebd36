/// reconcile's table as `nft list table inet reconcile` prints it: its chains (a base chain's
/// hook line apart from its rules) and its maps (their type and elements).
///
/// Read as text, as `iptables-save` is for the other backend: the rules are compared with
/// the wanted ones as nft prints them, which `nft -j` would give only as expression trees.
struct NFTRuleset: Equatable {
    struct Chain: Equatable {
        /// `type filter hook forward priority filter; policy accept;` for a base chain.
        var header: String?
        var rules: [String] = []
    }

    struct Map: Equatable {
        var type: String?
        var elements: [String] = []
    }

    var chains: [String: Chain] = [:]
    var maps: [String: Map] = [:]

    static func parse(_ text: String) -> NFTRuleset {
        var ruleset = NFTRuleset()
        var chain: String?, map: String?
        var pendingElements: String?  // an `elements = { …` spread over lines
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if let started = pendingElements {
                let joined = started + " " + line
                if line.hasSuffix("}") {
                    if let map { ruleset.maps[map]?.elements = elements(in: joined) }
                    pendingElements = nil
                } else {
                    pendingElements = joined
                }
                continue
            }
            if line == "}" {
                chain = nil
                map = nil
            } else if line.hasPrefix("chain "), line.hasSuffix(" {") {
                chain = String(line.dropFirst(6).dropLast(2))
                ruleset.chains[chain ?? ""] = Chain()
            } else if line.hasPrefix("map "), line.hasSuffix(" {") {
                map = String(line.dropFirst(4).dropLast(2))
                ruleset.maps[map ?? ""] = Map()
            } else if let map {
                if line.hasPrefix("type ") { ruleset.maps[map]?.type = String(line.dropFirst(5)) }
                if line.hasPrefix("elements = {") {
                    if line.hasSuffix("}") { ruleset.maps[map]?.elements = elements(in: line) } else { pendingElements = line }
                }
            } else if let chain, !line.isEmpty {
                if line.hasPrefix("type "), line.contains(" hook "), ruleset.chains[chain]?.rules.isEmpty == true, ruleset.chains[chain]?.header == nil {
                    ruleset.chains[chain]?.header = line
                } else {
                    ruleset.chains[chain]?.rules.append(line)
                }
            }
        }
        return ruleset
    }

    /// The elements of `elements = { a : b, c comment "x, y" : d }`, split at commas outside quotes.
    static func elements(in line: String) -> [String] {
        guard let open = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}"), open < close else { return [] }
        var elements: [String] = [], current = "", quoted = false
        for character in line[line.index(after: open)..<close] {
            if character == "\"" { quoted.toggle() }
            if character == ",", !quoted {
                elements.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(character)
            }
        }
        let last = current.trimmingCharacters(in: .whitespaces)
        if !last.isEmpty { elements.append(last) }
        return elements
    }
}
