/// One exact operation a provider decided in `plan`, carried by the plan and executed as it
/// is by `converge`: a chain's rules, a candidate file, a domain's XML, a DNS update.
///
/// Steps are typed: each family of providers has its own cases, with the values apply needs
/// (never text that apply parses back). They are the closed vocabulary of a plan — a saved
/// plan can ask a machine for these and nothing else.
///
/// Within one provider's plan a step is named by its ``key``: resources that share a step
/// (the rules of one chain, the reservations of one hosts file) carry the same one, and
/// `converge` runs it once.
public enum Step: Sendable, Codable, Hashable {
    case libvirt(LibvirtStep)
    case iptables(IPTablesStep)
    case nftables(NFTablesStep)
    /// A firewall host's public addresses and tracked connections, on either backend.
    case address(AddressStep)
    case dhcpd(DHCPDStep)
    case kea(KeaStep)
    case dns(DNSStep)

    private var described: any StepDescription {
        switch self {
        case .libvirt(let step): step
        case .iptables(let step): step
        case .nftables(let step): step
        case .address(let step): step
        case .dhcpd(let step): step
        case .kea(let step): step
        case .dns(let step): step
        }
    }

    /// `iptables.chain filter/RC-VM-a`: what the step is and what it acts on.
    public var title: String { described.title }
    /// What it carries: rule lines, a file's content, XML, an `ip -batch` line (nil: nothing).
    public var body: String? { described.body }
    public var key: String { title }
}

/// How a family's step reads in messages and tests (`--show-commands` shows its effects:
/// see ``Provider/effects(_:)``).
public protocol StepDescription {
    var title: String { get }
    var body: String? { get }
}

extension Array where Element == Resource {
    /// The steps of a batch, each once (by ``Step/key``: a chain's thousands of lines are not
    /// hashed for each of its rules), in the order first carried.
    public var uniqueSteps: [Step] {
        var seen: Set<String> = []
        var steps: [Step] = []
        for resource in self {
            for step in resource.steps where seen.insert(step.key).inserted { steps.append(step) }
        }
        return steps
    }
}
