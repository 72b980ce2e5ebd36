/// The input of one firewall tool run (`iptables-restore`, `nft -f`), each line with what it
/// comes from: when the tool names a line it refused, the error can name the rule and where it
/// is declared. Both backends' scripts are made of it.
struct NumberedLines<Origin> {
    private(set) var lines: [String] = []
    private var origins: [Origin?] = []

    mutating func append(_ line: String, from origin: Origin?) {
        lines.append(line)
        origins.append(origin)
    }

    var isEmpty: Bool { lines.isEmpty }
    /// What the tool reads.
    var text: String { lines.joined(separator: "\n") + "\n" }

    /// Line `number` (from 1, as the tools count) and what it comes from; nil past the input.
    func line(_ number: Int) -> (text: String, origin: Origin?)? {
        guard number >= 1, number <= lines.count else { return nil }
        return (lines[number - 1], origins[number - 1])
    }
}
