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
        let dns = reader.optional("dns", DNSSettings.decode)
        let imageDirectories = reader.optional("imageDirectories", Decode.list(Decode.absolutePath))
        guard let imageDirectories else { return nil }
        guard let name, let roles, let libvirt, let netns, let publicInterface, let dhcp, let virtType, let firewall, let dns else { return nil }
        guard !roles.isEmpty, Set(roles).count == roles.count else {
            reader.report("roles", "roles must name at least one of hypervisor, firewall, dhcp, dns, each once")
            return nil
        }
        guard roles.contains(.dns) == (dns != nil) else {
            reader.report(dns == nil ? "roles" : "dns", dns == nil ? "the dns role needs dns: {server, zone, tsigKeyFile}" : "dns: is a setting of the dns role, which roles does not name")
            return nil
        }
        var node = Node(
            name: name, roles: Set(roles), libvirt: libvirt ?? defaultLibvirtURI, netns: netns ?? "",
            publicInterface: publicInterface, dhcp: dhcp ?? .defaults, virtType: virtType,
            location: reader.location
        )
        node.firewallBackend = firewall ?? .iptables
        node.dns = dns
        if let imageDirectories {
            guard imageDirectories.count <= 16 else {
                reader.report("imageDirectories", "imageDirectories lists at most 16 directories")
                return nil
            }
            node.imageDirectories = imageDirectories
        }
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
        let keys = ["server", "config", "hostsFile", "restart", "restartTimeout", "controlSocket", "isc"]
        guard let reader = FieldReader(node, what: field.path, field: field, keys: keys) else { return nil }
        let server = reader.optional("server", Decode.oneOf(Node.DHCPServer.self))
        let config = reader.optional("config", Decode.absolutePath)
        let hostsFile = reader.optional("hostsFile", Decode.absolutePath)
        let restart = reader.optional("restart", Decode.list(Decode.text))
        let restartTimeout = reader.optional("restartTimeout", Decode.integer(in: 1...3600))
        let controlSocket = reader.optional("controlSocket", Decode.absolutePath)
        let isc = reader.optional("isc", ISCFiles.decode)
        guard let server, let config, let hostsFile, let restart, let restartTimeout, let controlSocket, let isc else { return nil }
        if let restart, restart.isEmpty {
            reader.report("restart", "\(field.path).restart must name a command")
            return nil
        }
        let kea = server == .kea
        // Each server's own settings only: a setting the other server would use is a mistake.
        for (key, given, of) in [("restart", restart != nil, false), ("restartTimeout", restartTimeout != nil, false),
                                 ("controlSocket", controlSocket != nil, true), ("isc", isc != nil, true)] where given && of != kea {
            reader.report(key, "\(field.path).\(key) is a setting of \(of ? "kea" : "isc"); this host's server is \(kea ? "kea" : "isc")")
            return nil
        }
        let defaults = kea ? Self.keaDefaults : Self.defaults
        var settings = Self(
            config: config ?? defaults.config,
            hostsFile: hostsFile ?? defaults.hostsFile,
            restart: restart ?? defaults.restart,
            restartTimeout: restartTimeout ?? defaults.restartTimeout
        )
        settings.server = defaults.server
        settings.controlSocket = controlSocket ?? defaults.controlSocket
        if let isc { settings.isc = isc }
        // reconcile rewrites the hosts file whole: it must never be the server's config itself.
        guard settings.hostsFile != settings.config else {
            reader.report("hostsFile", "\(field.path).hostsFile must not be the config file \(settings.config): reconcile rewrites it whole")
            return nil
        }
        return settings
    }
}

extension Node.DHCPSettings.ISCFiles {
    /// `isc: {config: PATH, hostsFile: PATH}`, each defaulting to Debian's.
    static func decode(_ node: YAMLNode, _ field: Field) -> Self? {
        guard let reader = FieldReader(node, what: field.path, field: field, keys: ["config", "hostsFile"]) else { return nil }
        let config = reader.optional("config", Decode.absolutePath)
        let hostsFile = reader.optional("hostsFile", Decode.absolutePath)
        guard let config, let hostsFile else { return nil }
        let defaults = Self()
        return Self(config: config ?? defaults.config, hostsFile: hostsFile ?? defaults.hostsFile)
    }
}

extension Node.DNSSettings {
    /// `dns: {server: ADDR[:PORT], zone: NAME, reverseZones: [NAME…], tsigKeyFile: PATH}`.
    static func decode(_ node: YAMLNode, _ field: Field) -> Self? {
        guard let reader = FieldReader(node, what: field.path, field: field, keys: ["server", "zone", "reverseZones", "tsigKeyFile"]) else { return nil }
        let server = reader.required("server", Decode.text)
        let zone = reader.required("zone", Decode.hostname)
        let reverseZones = reader.optional("reverseZones", Decode.list(Decode.hostname))
        let keyFile = reader.required("tsigKeyFile", Decode.absolutePath)
        guard let server, let zone, let reverseZones, let keyFile else { return nil }
        var address = server, port = 53
        if let colon = server.lastIndex(of: ":"), let number = Int(server[server.index(after: colon)...]) {
            address = String(server[..<colon])
            port = number
        }
        guard IPv4Address(address) != nil, (1...65535).contains(port) else {
            reader.report("server", "\(field.path).server must be an IPv4 address, optionally with :PORT")
            return nil
        }
        for reverse in reverseZones ?? [] where !reverse.hasSuffix(".in-addr.arpa") {
            reader.report("reverseZones", "\(field.path).reverseZones: \(reverse) is not an in-addr.arpa zone")
            return nil
        }
        // Names compare case-insensitively; zone transfers print them as the zone file has them.
        return Self(server: address, port: port, zone: zone.lowercased(), reverseZones: (reverseZones ?? []).map { $0.lowercased() }, tsigKeyFile: keyFile)
    }
}
