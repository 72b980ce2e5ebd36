/// One exact operation a provider decided in `plan`, carried by the plan and executed as it
/// is by `converge`: a chain's restore lines, a candidate file, a domain's XML.
///
/// Within one provider's plan a step is named by its ``key``: resources that share a step
/// (the rules of one chain, the reservations of one hosts file) carry the same one, and
/// `converge` runs it once.
public struct Step: Sendable, Codable, Equatable {
    /// Provider-defined: `iptables.chain`, `dhcpd.hosts-file`, `libvirt.define`.
    public var operation: String
    /// What it acts on: `filter/RC-VM-a`, a path, a domain's name.
    public var target: String
    /// Its input: rule lines, a file's content, XML, an `ip -batch` line.
    public var input: String?
    /// What was there when the plan was made, for putting it back (a hosts file dhcpd will
    /// not start with).
    public var previous: String?

    public init(_ operation: String, _ target: String, input: String? = nil, previous: String? = nil) {
        self.operation = operation
        self.target = target
        self.input = input
        self.previous = previous
    }

    public var key: String { operation + " " + target }
}

extension Array where Element == Resource {
    /// The steps of a batch, each once, in the order first carried.
    public var uniqueSteps: [Step] {
        var seen: Set<String> = []
        var steps: [Step] = []
        for resource in self {
            for step in resource.steps where seen.insert(step.key).inserted { steps.append(step) }
        }
        return steps
    }
}
