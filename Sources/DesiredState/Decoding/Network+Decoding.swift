import YAML

extension Network {
    static func decode(_ reader: FieldReader) -> Network? {
        let name = reader.required("name", Decode.name)
        let cidr = reader.required("cidr", Decode.cidr)
        let gateway = reader.optional("gateway", Decode.ipv4)
        let bridge = reader.optional("bridge", Decode.text)
        let libvirtNetwork = reader.optional("libvirtNetwork", Decode.text)
        guard let name, let cidr, let gateway, let bridge, let libvirtNetwork else { return nil }
        let attachment: Attachment
        switch (bridge, libvirtNetwork) {
        case (let bridge?, nil): attachment = .bridge(bridge)
        case (nil, let network?): attachment = .libvirtNetwork(network)
        default:
            reader.report("bridge", "Network needs exactly one of \"bridge\" and \"libvirtNetwork\"")
            return nil
        }
        return Network(
            name: name, cidr: cidr, gateway: gateway, attachment: attachment,
            location: reader.location
        )
    }
}
