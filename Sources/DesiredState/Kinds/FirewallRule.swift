/// Accepts one protocol from one source to a VM; everything not accepted is dropped.
public struct FirewallRule: Sendable, Hashable {
    public enum IPProtocol: String, Sendable, Hashable, CaseIterable {
        case tcp, udp, icmp, all

        public var hasPorts: Bool { self == .tcp || self == .udp }
    }

    public var name: String
    public var vm: String
    public var ipProtocol: IPProtocol
    public var source: IPv4Network
    /// Empty means every port (and is the only choice for icmp and all).
    public var ports: [PortRange]
    public var location: SourceLocation
}
