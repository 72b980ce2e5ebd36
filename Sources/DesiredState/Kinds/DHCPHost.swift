/// A DHCP reservation for something that is not a VM (VM interfaces get theirs automatically).
public struct DHCPHost: Sendable, Hashable {
    public var name: String
    public var network: String
    public var mac: MACAddress
    public var ip: IPv4Address
    /// Sent as option host-name; defaults to the name.
    public var hostname: String
    public var location: SourceLocation
}
