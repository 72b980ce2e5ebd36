/// Everything the operators declared, validated: what the machines should look like.
public struct DesiredState: Sendable {
    /// The declared hosts, or ``Node/implicitLocal`` alone when none is declared.
    public var hosts: [Node]
    /// Whether `hosts` came from Host documents (false: the implicit local host).
    public var hostsDeclared: Bool
    public var networks: [Network]
    public var virtualMachines: [VirtualMachine]
    public var ipPairs: [IPPair]
    public var firewallRules: [FirewallRule]
    public var dhcpHosts: [DHCPHost]
    public var dnsRecords: [DNSRecord] = []
    public var images: [Image] = []
    /// How many YAML files were read.
    public var fileCount: Int
    /// `sha256:` and the start of a digest of every file's path and content: the same files
    /// give the same revision wherever the directory is. A git source replaces it with the commit id.
    public var revision = ""

    /// Nothing declared: the implicit local host alone.
    public static let empty = DesiredState(
        hosts: [.implicitLocal], hostsDeclared: false, networks: [], virtualMachines: [], ipPairs: [],
        firewallRules: [], dhcpHosts: [], fileCount: 0
    )

    /// How many documents of each kind, in ``Kind`` order.
    public var counts: [(kind: Kind, count: Int)] {
        Kind.allCases.map { kind in
            switch kind {
            case .Host: (kind, hostsDeclared ? hosts.count : 0)
            case .Network: (kind, networks.count)
            case .Image: (kind, images.count)
            case .VirtualMachine: (kind, virtualMachines.count)
            case .IPPair: (kind, ipPairs.count)
            case .FirewallRule: (kind, firewallRules.count)
            case .DHCPHost: (kind, dhcpHosts.count)
            case .DNSRecord: (kind, dnsRecords.count)
            }
        }
    }

    public var documentCount: Int { counts.reduce(0) { $0 + $1.count } }

    /// No VM, IP pair, firewall rule, DHCP host or DNS record: converging it removes everything reconcile
    /// manages (an empty `--dir`, a typo'd `--path`), so a run asks for `--allow-empty` first.
    public var declaresNothing: Bool {
        virtualMachines.isEmpty && ipPairs.isEmpty && firewallRules.isEmpty && dhcpHosts.isEmpty && dnsRecords.isEmpty
    }

    /// Loads and validates every `*.yaml`/`*.yml` file under `directory`.
    ///
    /// - Throws: ``InvalidDesiredState`` listing every problem found, in file order, or
    ///   ``DesiredStateLoader/Error`` when the directory cannot be read at all.
    /// - Parameter displayedAs: how messages name `directory` (e.g. a path inside a git
    ///   repository when the files were exported from it); `directory` itself by default.
    public static func load(directory: String, displayedAs: String? = nil) throws -> DesiredState {
        try DesiredStateLoader(directory: directory, displayedAs: displayedAs).load()
    }

    /// The hosts a directory declares (``Node/implicitLocal`` when none), read from the few
    /// files that mention `Host` before the whole directory is loaded; nil when they do not
    /// decode cleanly. For starting work early: the full ``load(directory:displayedAs:)``
    /// still decides.
    public static func declaredHosts(directory: String) -> [Node]? {
        DesiredStateLoader(directory: directory).declaredHosts().map { $0.isEmpty ? [.implicitLocal] : $0 }
    }
}
