/// A private network VMs attach to, on a bridge or a libvirt network.
public struct Network: Sendable, Hashable {
    public enum Attachment: Sendable, Hashable {
        case bridge(String)
        case libvirtNetwork(String)
    }

    public var name: String
    public var cidr: IPv4Network
    public var gateway: IPv4Address?
    public var attachment: Attachment
    /// The DNS servers its VMs use (cloud-init's static network configuration).
    public var dns: [IPv4Address] = []
    public var location: SourceLocation
}
