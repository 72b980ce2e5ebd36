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
    public var location: SourceLocation
}
