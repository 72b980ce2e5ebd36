extension FirewallRule {
    static func decode(_ reader: FieldReader) -> FirewallRule? {
        let name = reader.required("name", Decode.name)
        let vm = reader.required("vm", Decode.name)
        let ipProtocol = reader.required("protocol", Decode.oneOf(IPProtocol.self))
        let source = reader.required("source", Decode.cidr)
        let ports = reader.optional("ports", Decode.list(Decode.port))
        guard let name, let vm, let ipProtocol, let source, let ports else { return nil }
        if ports != nil, !ipProtocol.hasPorts {
            reader.report("ports", "ports are not allowed with protocol \(ipProtocol.rawValue)")
            return nil
        }
        return FirewallRule(
            name: name, vm: vm, ipProtocol: ipProtocol, source: source, ports: ports ?? [],
            location: reader.location
        )
    }
}
