extension DHCPHost {
    static func decode(_ reader: FieldReader) -> DHCPHost? {
        let name = reader.required("name", Decode.name)
        let network = reader.required("network", Decode.name)
        let mac = reader.required("mac", Decode.mac)
        let ip = reader.required("ip", Decode.ipv4)
        let hostname = reader.optional("hostname", Decode.hostname)
        guard let name, let network, let mac, let ip, let hostname else { return nil }
        return DHCPHost(
            name: name, network: network, mac: mac, ip: ip, hostname: hostname ?? name,
            location: reader.location
        )
    }
}
