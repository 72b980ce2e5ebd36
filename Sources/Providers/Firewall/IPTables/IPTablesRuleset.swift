/// Chains and rules of iptables tables, as `iptables-save` prints them.
///
/// Rules are kept as their text after `-A CHAIN `, in order: desired rules are rendered in
/// the same canonical form, so comparing is comparing strings.
struct IPTablesRuleset: Equatable, Sendable {
    /// table → chain → rules, in order.
    var tables: [String: [String: [String]]] = [:]

    /// Parses `iptables-save` output (any number of tables). Works on UTF-8 bytes: at
    /// 77,000 rules, splitting by Character costs more than iptables-save itself.
    static func parse(_ text: String) -> IPTablesRuleset {
        var ruleset = IPTablesRuleset()
        var table = ""
        var chains: [String: [String]] = [:]
        func finishTable() {
            if !table.isEmpty { ruleset.tables[table, default: [:]].merge(chains) { $0 + $1 } }
        }
        let space = UInt8(ascii: " ")
        for line in text.utf8.split(separator: UInt8(ascii: "\n")) {
            switch line.first {
            case UInt8(ascii: "*"):
                finishTable()
                table = String(decoding: line.dropFirst(), as: UTF8.self)
                chains = [:]
            case UInt8(ascii: ":"):
                chains[String(decoding: line.dropFirst().prefix { $0 != space }, as: UTF8.self), default: []] += []
            case UInt8(ascii: "-") where line.starts(with: "-A ".utf8):
                let rest = line.dropFirst(3)
                guard let gap = rest.firstIndex(of: space) else { continue }
                chains[String(decoding: rest[..<gap], as: UTF8.self), default: []]
                    .append(String(decoding: rest[rest.index(after: gap)...], as: UTF8.self))
            default:
                continue
            }
        }
        finishTable()
        return ruleset
    }

    func rules(_ table: String, _ chain: String) -> [String]? { tables[table]?[chain] }

    /// The word after a rule's last `-j`, the chain or target it jumps to (`-d 10.0.0.7/32 …
    /// -j RC-VM-a` → `RC-VM-a`). On UTF-8 bytes: it runs for every rule of the dispatch chains.
    static func jumpTarget(of rule: String) -> String? {
        var rule = rule
        return rule.withUTF8 { bytes -> String? in
            let (space, dash, j) = (UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "j"))
            var index = bytes.count - 3
            while index >= 0 {
                if bytes[index] == dash, bytes[index + 1] == j, bytes[index + 2] == space, index == 0 || bytes[index - 1] == space {
                    let word = bytes[(index + 3)...].prefix { $0 != space }
                    return word.isEmpty ? nil : String(decoding: word, as: UTF8.self)
                }
                index -= 1
            }
            return nil
        }
    }

    /// The `rc:…` comment tag of a rule, quoted or not: `rc:rule:web`. On UTF-8 bytes, as
    /// `parse`: it runs for every rule of a chain that differs.
    static func tag(of rule: String) -> String? {
        var rule = rule
        return rule.withUTF8 { bytes -> String? in
            // A plain search: the generic `firstRange(of:)` looked its types up per call: 0.19 s of CPU for 21,000 rules.
            let marker = Self.commentMarker
            guard bytes.count >= marker.count, var start = (0...(bytes.count - marker.count)).first(where: { index in
                bytes[index] == marker[0] && marker.indices.allSatisfy { bytes[index + $0] == marker[$0] }
            }).map({ $0 + marker.count }) else { return nil }
            var end = UInt8(ascii: " ")
            if start < bytes.endIndex, bytes[start] == UInt8(ascii: "\"") {
                start += 1
                end = UInt8(ascii: "\"")
            }
            let tag = bytes[start...].prefix { $0 != end }
            if end == UInt8(ascii: "\""), tag.endIndex == bytes.endIndex { return nil }  // no closing quote
            return String(decoding: tag, as: UTF8.self)
        }
    }

    private static let commentMarker = Array("--comment ".utf8)
}
