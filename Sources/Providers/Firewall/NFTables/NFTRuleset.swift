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

    /// Reads the text as bytes (nft prints ASCII but for comments): a no-op run at 7,000 VMs
    /// parses 4 MB, and Character-wise prefix checks cost three times as much.
    static func parse(_ text: String) -> NFTRuleset {
        var text = text
        return text.withUTF8(parse)
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> NFTRuleset {
        let (tab, space, close) = (UInt8(ascii: "\t"), UInt8(ascii: " "), UInt8(ascii: "}"))
        func string(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> String { String(decoding: bytes, as: UTF8.self) }
        var ruleset = NFTRuleset()
        var chain: (name: String, value: Chain)?, map: String?
        var pendingElements: [String]?  // an `elements = { …` spread over lines, joined once it closes
        for raw in bytes.split(separator: UInt8(ascii: "\n")) {
            let line = raw.drop { $0 == tab || $0 == space }
            if pendingElements != nil {
                pendingElements?.append(string(line))
                if line.last == close, let map, let lines = pendingElements {
                    ruleset.maps[map]?.elements = elements(in: lines.joined(separator: " "))
                    pendingElements = nil
                }
                continue
            }
            if line.count == 1, line.first == close {
                if let chain { ruleset.chains[chain.name] = chain.value }
                (chain, map) = (nil, nil)
            } else if line.starts(with: Prefix.chain), line.reversed().starts(with: Prefix.opening) {
                chain = (string(line.dropFirst(6).dropLast(2)), Chain())
            } else if line.starts(with: Prefix.map), line.reversed().starts(with: Prefix.opening) {
                map = string(line.dropFirst(4).dropLast(2))
                ruleset.maps[map ?? ""] = Map()
            } else if let map {
                if line.starts(with: Prefix.type) { ruleset.maps[map]?.type = string(line.dropFirst(5)) }
                if line.starts(with: Prefix.elements) {
                    if line.last == close { ruleset.maps[map]?.elements = elements(in: string(line)) } else { pendingElements = [string(line)] }
                }
            } else if chain != nil, !line.isEmpty {
                let text = string(line)
                if line.starts(with: Prefix.type), text.contains(" hook "), chain?.value.rules.isEmpty == true, chain?.value.header == nil {
                    chain?.value.header = text
                } else {
                    chain?.value.rules.append(text)
                }
            }
        }
        if let chain { ruleset.chains[chain.name] = chain.value }  // text that ended inside a chain
        return ruleset
    }

    private enum Prefix {
        static let chain = Array("chain ".utf8), map = Array("map ".utf8), type = Array("type ".utf8)
        static let elements = Array("elements = {".utf8), opening = Array("{ ".utf8)  // " {" read backwards
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
