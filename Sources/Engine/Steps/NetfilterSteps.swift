/// iptables' work, as one `iptables-restore --noflush` input renders it; a chain is named
/// by its table and name.
public enum IPTablesStep: Sendable, Codable, Hashable, StepDescription {
    /// The chain rewritten whole: its `-A` lines.
    case chain(table: String, chain: String, lines: [String])
    case removeChain(table: String, chain: String)
    /// The jump from a built-in chain: its `-D`/`-I` lines.
    case jump(table: String, chain: String, lines: [String])
    /// Hand-made rules reconcile replaces (`--adopt`): their `-D` lines.
    case removeHandRules(table: String, name: String, lines: [String])

    public var title: String {
        switch self {
        case .chain(let table, let chain, _): "iptables.chain \(table)/\(chain)"
        case .removeChain(let table, let chain): "iptables.remove-chain \(table)/\(chain)"
        case .jump(let table, let chain, _): "iptables.jump \(table)/\(chain)"
        case .removeHandRules(let table, let name, _): "iptables.remove-hand-rules \(table)/hand:\(name)"
        }
    }

    public var body: String? {
        switch self {
        case .chain(_, _, let lines), .jump(_, _, let lines), .removeHandRules(_, _, let lines): lines.joined(separator: "\n")
        case .removeChain: nil
        }
    }

    public var table: String {
        switch self {
        case .chain(let table, _, _), .removeChain(let table, _), .jump(let table, _, _), .removeHandRules(let table, _, _): table
        }
    }
}

/// nftables' work in reconcile's table, as one `nft -f` transaction renders it.
public enum NFTablesStep: Sendable, Codable, Hashable, StepDescription {
    /// The table, its maps and base chains declared (`add` of what exists is a no-op; base
    /// chains are flushed and refilled): its `nft` lines.
    case writeTable(table: String, lines: [String])
    /// A VM chain rewritten whole: its rules.
    case writeChain(chain: String, rules: [String])
    case deleteChain(chain: String)
    case addElement(map: String, key: String, element: String)
    case deleteElement(map: String, key: String)
    case deleteTable(table: String)

    public var title: String {
        switch self {
        case .writeTable(let table, _): "nft.table \(table)"
        case .writeChain(let chain, _): "nft.chain \(chain)"
        case .deleteChain(let chain): "nft.delete-chain \(chain)"
        case .addElement(let map, let key, _): "nft.element-add \(map) \(key)"
        case .deleteElement(let map, let key): "nft.element-del \(map) \(key)"
        case .deleteTable(let table): "nft.delete-table \(table)"
        }
    }

    public var body: String? {
        switch self {
        case .writeTable(_, let lines), .writeChain(_, let lines): lines.joined(separator: "\n")
        case .addElement(_, _, let element): element
        case .deleteChain, .deleteElement, .deleteTable: nil
        }
    }
}

/// A firewall host's public addresses (one `ip -batch` for a batch) and the tracked
/// connections to forget after a pair changes.
public enum AddressStep: Sendable, Codable, Hashable, StepDescription {
    case add(address: String, interface: String)
    case remove(address: String, interface: String)
    /// Connections to this (public) address.
    case forgetTo(address: String)
    /// Connections from this (private) address.
    case forgetFrom(address: String)

    public var title: String {
        switch self {
        case .add(let address, let interface): "ip.address-add \(address) on \(interface)"
        case .remove(let address, let interface): "ip.address-del \(address) on \(interface)"
        case .forgetTo(let address): "conntrack.forget-to \(address)"
        case .forgetFrom(let address): "conntrack.forget-from \(address)"
        }
    }

    /// The `ip -batch` line of an address change.
    public var body: String? {
        switch self {
        case .add(let address, let interface): "addr add \(address)/32 dev \(interface) label \(interface):rc"
        case .remove(let address, let interface): "addr del \(address)/32 dev \(interface)"
        case .forgetTo, .forgetFrom: nil
        }
    }
}
