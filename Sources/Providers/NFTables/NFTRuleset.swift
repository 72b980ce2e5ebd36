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
        var pendingElements: [Substring]?  // an `elements = { …` spread over lines, joined once it closes
        for raw in text.split(separator: "\n") {
            let line = raw.drop { $0 == "\t" || $0 == " " }
            if pendingElements != nil {
                pendingElements?.append(line)
                if line.hasSuffix("}"), let map, let lines = pendingElements {
                    ruleset.maps[map]?.elements = elements(in: lines.joined(separator: " "))
                    pendingElements = nil
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
                    if line.hasSuffix("}") { ruleset.maps[map]?.elements = elements(in: String(line)) } else { pendingElements = [line] }
                }
            } else if let chain, !line.isEmpty {
                if line.hasPrefix("type "), line.contains(" hook "), ruleset.chains[chain]?.rules.isEmpty == true, ruleset.chains[chain]?.header == nil {
                    ruleset.chains[chain]?.header = String(line)
                } else {
                    ruleset.chains[chain]?.rules.append(String(line))
                }
            }
        }
        return ruleset
    }

    /// The elements of `elements = { a : b, c comment "x, y" : d }`, split at commas outside quotes.
    static func elements(in line: String) -> [String] {
        let bytes = Array(line.utf8)
        guard let open = bytes.firstIndex(of: UInt8(ascii: "{")), let close = bytes.lastIndex(of: UInt8(ascii: "}")), open < close else { return [] }
        var elements: [String] = [], start = open + 1, quoted = false
        func take(_ end: Int) {
            let element = bytes[start..<end].drop { $0 == UInt8(ascii: " ") }.reversed().drop { $0 == UInt8(ascii: " ") }.reversed()
            if !element.isEmpty { elements.append(String(decoding: element, as: UTF8.self)) }
        }
        for index in (open + 1)..<close {
            switch bytes[index] {
            case UInt8(ascii: "\""): quoted.toggle()
            case UInt8(ascii: ",") where !quoted:
                take(index)
                start = index + 1
            default: break
            }
        }
        take(close)
        return elements
    }
}
