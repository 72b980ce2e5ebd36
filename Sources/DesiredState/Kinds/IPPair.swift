/// A public address NATed to a VM's private one: DNAT inbound, SNAT outbound.
public struct IPPair: Sendable, Hashable {
    public var name: String
    public var vm: String
    public var publicIP: IPv4Address
    public var privateIP: IPv4Address
    public var location: SourceLocation
}
