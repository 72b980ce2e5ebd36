import Testing

extension Tag {
    /// Needs root, network namespaces and real daemons (dhcpd, dhclient, libvirtd, iptables).
    @Tag static var integration: Self
}
