extension IPPair {
    static func decode(_ reader: FieldReader) -> IPPair? {
        let name = reader.required("name", Decode.name)
        let vm = reader.required("vm", Decode.name)
        let publicIP = reader.required("public", Decode.ipv4)
        let privateIP = reader.required("private", Decode.ipv4)
        guard let name, let vm, let publicIP, let privateIP else { return nil }
        return IPPair(
            name: name, vm: vm, publicIP: publicIP, privateIP: privateIP,
            location: reader.location
        )
    }
}
