import YAML

extension Network {
    static func decode(_ reader: FieldReader) -> Network? {
        let name = reader.required("name", Decode.name)
        let cidr = reader.required("cidr", Decode.cidr)
        let gateway = reader.optional("gateway", Decode.ipv4)
        let bridge = reader.optional("bridge", Decode.text)
        let libvirtNetwork = reader.optional("libvirtNetwork", Decode.text)
        let dns = reader.optional("dns", Decode.list(Decode.ipv4))
        guard let name, let cidr, let gateway, let bridge, let libvirtNetwork, let dns else { return nil }
        if let dns, dns.count > 8 { reader.report("dns", "dns lists \(dns.count) servers; at most 8") }
        let attachment: Attachment
        switch (bridge, libvirtNetwork) {
        case (let bridge?, nil): attachment = .bridge(bridge)
        case (nil, let network?): attachment = .libvirtNetwork(network)
        default:
            reader.report("bridge", "Network needs exactly one of \"bridge\" and \"libvirtNetwork\"")
            return nil
        }
        return Network(
            name: name, cidr: cidr, gateway: gateway, attachment: attachment, dns: dns ?? [],
            location: reader.location
        )
    }
}
