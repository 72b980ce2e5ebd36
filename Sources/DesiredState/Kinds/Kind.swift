/// The kinds of document a desired state may hold, in the order they are listed.
public enum Kind: String, Sendable, Hashable, CaseIterable {
    case Host, Network, Image, VirtualMachine, IPPair, FirewallRule, DHCPHost, DNSRecord

    /// The keys a document of this kind may have, besides `kind`.
    var keys: [String] {
        switch self {
        case .Host: ["name", "roles", "libvirt", "netns", "publicInterface", "dhcp", "dns", "virtType", "firewall", "imageDirectories"]
        case .Network: ["name", "cidr", "gateway", "bridge", "libvirtNetwork", "dns"]
        case .Image: ["name", "source", "sha256", "format", "pool", "host", "maxSize", "backingImage"]
        case .VirtualMachine:
            ["name", "uuid", "host", "memory", "vcpus", "state", "autostart", "disks", "interfaces", "console",
             "restartPolicy", "deleteDisks", "cloudInit"]
        case .IPPair: ["name", "vm", "public", "private"]
        case .FirewallRule: ["name", "vm", "protocol", "source", "ports"]
        case .DHCPHost: ["name", "network", "mac", "ip", "hostname"]
        case .DNSRecord: ["name", "type", "value", "ttl"]
        }
    }
}

extension Kind {
    /// Whether `text` can name an object of any kind: lower-case letters, digits and '-', at
    /// most 63 characters, not starting with '-'.
    public static func isValidName(_ text: String) -> Bool { Decode.isName(text) }
}
