/// The rule lines of an `iptables-save`, each with what it is to the VMs at known addresses:
/// what `--adopt` replaces (``HandRules``) and what `reconcile import` declares.
///
/// It understands the classic hand-made shapes — a per-VM chain reached by `-d VM -j CHAIN`
/// (the seed's chains named after the address), or ACCEPT rules with `-d VM` in FORWARD; DNAT
/// in PREROUTING with the matching SNAT in POSTROUTING — and reconcile's own (its `rc:`
/// comments name rules and pairs). Whatever mentions a VM's address and has no such shape is
/// `unknown`, with why; rules about no VM are `unrelated`.
package enum SavedRules {
    package struct Rule: Equatable {
        /// From reconcile's `rc:rule:NAME` comment; nil for a hand-made rule (named later).
        package var name: String?
        package var ipProtocol: String
        package var source: String
        package var ports: [String]

        package init(name: String?, ipProtocol: String, source: String, ports: [String]) {
            self.name = name
            self.ipProtocol = ipProtocol
            self.source = source
            self.ports = ports
        }
    }

    /// One `-A` line, its words read.
    package struct Line {
        package var table: String
        package var chain: String
        package var number: Int
        package var text: String
        package var options: [String: String] = [:]
        /// Words it has that no shape here uses (`-i eth0`, `--sport 53`, `!`).
        package var other: [String] = []

        package var jump: String? { options["-j"] }
        package var destination: String? { options["-d"].map(Self.host) }
        package var source: String? { options["-s"].map(Self.host) }
        package var tag: String? { options["--comment"] }

        /// `10.0.0.7/32` → `10.0.0.7`.
        static func host(_ text: String) -> String { text.hasSuffix("/32") ? String(text.dropLast(3)) : text }
    }

    static let knownOptions: Set<String> = ["-s", "-d", "-p", "-j", "--dport", "--dports", "--comment", "--state", "--ctstate",
                                            "--icmp-type", "--to-destination", "--to-source"]
    static let knownModules: Set<String> = ["tcp", "udp", "icmp", "multiport", "comment", "state", "conntrack"]

    /// What one line is to a VM, if anything.
    package enum Role {
        /// `-d VM -j CHAIN`: into the VM's own chain.
        case dispatch(vm: String)
        /// An ACCEPT to the VM; nil when its matches have no declared form.
        case accept(vm: String, rule: Rule?)
        /// The VM's final DROP: reconcile's default too.
        case defaultDrop(vm: String)
        /// Another verdict for the VM (REJECT, LOG, RETURN…): why it cannot be declared.
        case otherVerdict(vm: String, why: String)
        case dnat(publicIP: String, privateIP: String, name: String?)
        case snat(privateIP: String, publicIP: String)
        /// RELATED,ESTABLISHED accepted: reconcile does the same.
        case established
        /// reconcile's own scaffolding (`rc:` comments other than rules and pairs).
        case reconciles
        /// It mentions a VM's address but has no shape reconcile declares.
        case unknown(why: String)
        case unrelated
    }

    package struct Classified {
        package var line: Line
        package var role: Role
        package var table: String { line.table }
        package var chain: String { line.chain }
        /// The rule as iptables-save wrote it after `-A CHAIN `: a `-D CHAIN` spec.
        package var rule: String { line.text }
    }

    /// Every rule line of `text` with what it is to the VMs at `addresses`, and the chains
    /// reached by `-d VM -j CHAIN` (chain → VM address).
    package static func classify(_ text: String, addresses: Set<String>) -> (lines: [Classified], vmChains: [String: String]) {
        let lines = parse(text)
        // Chains reached by `-d VM -j CHAIN`: the VM's own (the seed's `10.0.0.7/32`, reconcile's RC-VM-…).
        var vmChains: [String: String] = [:]
        for line in lines where line.table == "filter" && line.other.isEmpty {
            if let address = line.destination, addresses.contains(address), let jump = line.jump, !builtinTargets.contains(jump),
               line.options.keys.allSatisfy({ ["-d", "-j", "--comment"].contains($0) }) {
                vmChains[jump] = address
            }
        }
        let classified = lines.map { line -> Classified in
            let vm = vmChains[line.chain] ?? line.destination.flatMap { addresses.contains($0) ? $0 : nil }
            let mentionsVM = vm != nil || line.source.map(addresses.contains) == true
                || line.options["--to-destination"].map(addresses.contains) == true
            func role() -> Role {
                switch line.table {
                case "filter":
                    if let jump = line.jump, vmChains[jump] != nil, line.destination == vmChains[jump] { return .dispatch(vm: vmChains[jump] ?? "") }
                    if isReconciles(line), !(line.tag.flatMap(ReconcileTag.init).map { if case .rule = $0 { true } else { false } } ?? false) {
                        return .reconciles
                    }
                    if isEstablished(line) { return .established }
                    guard let vm, line.destination == nil || line.destination == vm else {
                        return mentionsVM ? .unknown(why: "it concerns a VM but has no shape reconcile declares") : .unrelated
                    }
                    switch line.jump {
                    case "ACCEPT": return .accept(vm: vm, rule: rule(line))
                    case "DROP" where line.other.isEmpty && line.options.keys.allSatisfy({ ["-d", "-j", "--comment"].contains($0) }):
                        return .defaultDrop(vm: vm)
                    case "REJECT": return .otherVerdict(vm: vm, why: "reconcile drops what it does not accept; a REJECT would become a DROP")
                    default: return .otherVerdict(vm: vm, why: "only ACCEPT rules and a final DROP can be declared")
                    }
                case "nat":
                    if line.jump == "DNAT", let publicIP = line.destination, let target = line.options["--to-destination"],
                       line.other.isEmpty, addresses.contains(target) {
                        return .dnat(publicIP: publicIP, privateIP: target, name: line.tag.flatMap(pairName))
                    }
                    if line.jump == "SNAT", let privateIP = line.source, let target = line.options["--to-source"],
                       line.other.isEmpty, addresses.contains(privateIP) {
                        return .snat(privateIP: privateIP, publicIP: target)
                    }
                    if isReconciles(line) { return .reconciles }
                    return mentionsVM ? .unknown(why: "it concerns a VM but is neither a pair's DNAT (-d PUBLIC -j DNAT --to-destination VM) nor its SNAT")
                        : .unrelated
                default:
                    return mentionsVM ? .unknown(why: "only the filter and nat tables are read") : .unrelated
                }
            }
            return Classified(line: line, role: role())
        }
        return (classified, vmChains)
    }

    static let builtinTargets: Set<String> = ["ACCEPT", "DROP", "REJECT", "RETURN", "LOG", "DNAT", "SNAT", "MASQUERADE"]

    private static func isEstablished(_ line: Line) -> Bool {
        let state = line.options["--state"] ?? line.options["--ctstate"]
        return line.jump == "ACCEPT" && line.other.isEmpty && line.source == nil
            && Set(state?.split(separator: ",") ?? []) == ["RELATED", "ESTABLISHED"]
    }

    /// An ACCEPT line as a rule: `-s`, `-p` and destination ports only.
    private static func rule(_ line: Line) -> Rule? {
        guard line.other.isEmpty, line.options["--state"] == nil, line.options["--ctstate"] == nil, line.options["--to-destination"] == nil else { return nil }
        let ipProtocol = line.options["-p"] ?? "all"
        guard ["tcp", "udp", "icmp", "all"].contains(ipProtocol) else { return nil }
        if let type = line.options["--icmp-type"], type != "any" { return nil }
        let ports = (line.options["--dport"] ?? line.options["--dports"])?.split(separator: ",").map { $0.replacingOccurrences(of: ":", with: "-") } ?? []
        let name = line.tag.flatMap(ReconcileTag.init).flatMap { if case .rule(let name) = $0 { name } else { nil } }
        // A single address is declared bare, as iptables-save's `/32` means.
        return Rule(name: name, ipProtocol: ipProtocol, source: line.source ?? "0.0.0.0/0", ports: ports)
    }

    private static func pairName(_ tag: String) -> String? {
        if case .pair(let name)? = ReconcileTag(tag) { name } else { nil }
    }

    /// A rule reconcile wrote: one of its tags inside one of its chains, or its jump from a
    /// built-in chain exactly. A tag copied onto a hand-made rule elsewhere makes it no less foreign.
    private static func isReconciles(_ line: Line) -> Bool {
        guard let tag = line.tag.flatMap(ReconcileTag.init) else { return false }
        if case .jump = tag { return IPTablesRules.jumps.contains { $0.table == line.table && $0.chain == line.chain && line.text == IPTablesRules.jumpRule($0.target) } }
        return line.chain.hasPrefix("RC-")
    }

    /// Every `-A` line of `iptables-save` output, with its table and line number.
    private static func parse(_ text: String) -> [Line] {
        var lines: [Line] = []
        var table = ""
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if raw.hasPrefix("*") { table = String(raw.dropFirst()) }
            guard raw.hasPrefix("-A ") else { continue }
            var words = self.words(raw.dropFirst(3))
            guard !words.isEmpty else { continue }
            let chain = words.removeFirst()
            // The rule as iptables-save wrote it, quotes and escapes kept: iptables-restore reads it back.
            let text = raw.dropFirst(3).drop { $0 == " " }.dropFirst(chain.count).drop { $0 == " " }
            var line = Line(table: table, chain: chain, number: index + 1, text: String(text))
            var position = 0
            while position < words.count {
                let word = words[position]
                if word == "-m", position + 1 < words.count {
                    if !knownModules.contains(words[position + 1]) { line.other += [word, words[position + 1]] }
                    position += 2
                } else if knownOptions.contains(word), position + 1 < words.count, line.options[word] == nil {
                    line.options[word] = words[position + 1]
                    position += 2
                } else {
                    line.other.append(word)
                    position += 1
                }
            }
            lines.append(line)
        }
        return lines
    }

    /// Blank-separated words; a double-quoted comment is one word, without its quotes, its
    /// `\"` and `\\` read as iptables-save escapes them (`--comment "ssh \"admin\""`).
    private static func words(_ text: Substring) -> [String] {
        var words: [String] = []
        var word = "", quoted = false, escaped = false
        for character in text {
            if escaped { word.append(character); escaped = false; continue }
            if quoted, character == "\\" { escaped = true; continue }
            if character == "\"" { quoted.toggle(); continue }
            if character == " ", !quoted {
                if !word.isEmpty { words.append(word) }
                word = ""
            } else {
                word.append(character)
            }
        }
        if !word.isEmpty { words.append(word) }
        return words
    }
}
