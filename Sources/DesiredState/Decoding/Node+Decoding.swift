import YAML

extension Node {
    static func decode(_ reader: FieldReader) -> Node? {
        let name = reader.required("name", Decode.name)
        let roles = reader.required("roles", Decode.list(Decode.oneOf(Role.self)))
        let libvirt = reader.optional("libvirt", Decode.text)
        let netns = reader.optional("netns", Decode.string)
        let publicInterface = reader.optional("publicInterface", Decode.text)
        let dhcp = reader.optional("dhcp", DHCPSettings.decode)
        let virtType = reader.optional("virtType", Decode.oneOf(VirtType.self))
        let firewall = reader.optional("firewall", Self.decodeFirewall)
        guard let name, let roles, let libvirt, let netns, let publicInterface, let dhcp, let virtType, let firewall else { return nil }
        guard !roles.isEmpty, Set(roles).count == roles.count else {
            reader.report("roles", "roles must name at least one of hypervisor, firewall, dhcp, each once")
            return nil
        }
        var node = Node(
            name: name, roles: Set(roles), libvirt: libvirt ?? defaultLibvirtURI, netns: netns ?? "",
            publicInterface: publicInterface, dhcp: dhcp ?? .defaults, virtType: virtType,
            location: reader.location
        )
        node.firewallBackend = firewall ?? .iptables
        return node
    }

    /// `firewall: {backend: iptables|nftables}`.
    static func decodeFirewall(_ node: YAMLNode, _ field: Field) -> FirewallBackend? {
        guard let reader = FieldReader(node, what: field.path, field: field, keys: ["backend"]) else { return nil }
        guard let backend = reader.optional("backend", Decode.oneOf(FirewallBackend.self)) else { return nil }
        return backend ?? .iptables
    }
}

extension Node.DHCPSettings {
    static func decode(_ node: YAMLNode, _ field: Field) -> Self? {
        guard let reader = FieldReader(node, what: field.path, field: field, keys: ["config", "hostsFile", "restart", "restartTimeout"]) else {
            return nil
        }
        let config = reader.optional("config", Decode.absolutePath)
        let hostsFile = reader.optional("hostsFile", Decode.absolutePath)
        let restart = reader.optional("restart", Decode.list(Decode.text))
        let restartTimeout = reader.optional("restartTimeout", Decode.integer(in: 1...3600))
        guard let config, let hostsFile, let restart, let restartTimeout else { return nil }
        if let restart, restart.isEmpty {
            reader.report("restart", "\(field.path).restart must name a command")
            return nil
        }
        let settings = Self(
            config: config ?? defaults.config,
            hostsFile: hostsFile ?? defaults.hostsFile,
            restart: restart ?? defaults.restart,
            restartTimeout: restartTimeout ?? defaults.restartTimeout
        )
        // reconcile rewrites the hosts file whole: it must never be dhcpd.conf itself.
        guard settings.hostsFile != settings.config else {
            reader.report("hostsFile", "\(field.path).hostsFile must not be the config file \(settings.config): reconcile rewrites it whole")
            return nil
        }
        return settings
    }
}
