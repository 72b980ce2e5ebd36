import YAML

extension VirtualMachine {
    static func decode(_ reader: FieldReader) -> VirtualMachine? {
        let name = reader.required("name", Decode.name)
        let uuid = reader.optional("uuid", Decode.uuid)
        let host = reader.optional("host", Decode.name)
        let memory = reader.required("memory", Decode.size)
        let vcpus = reader.required("vcpus", Decode.integer(in: 1...1024))
        let state = reader.optional("state", Decode.oneOf(PowerState.self))
        let autostart = reader.optional("autostart", Decode.bool)
        let disks = reader.optional("disks", Decode.list(Disk.decode))
        let interfaces = reader.optional("interfaces", Decode.list(Interface.decode))
        let console = reader.optional("console", decodeConsole)
        let restartPolicy = reader.optional("restartPolicy", Decode.oneOf(RestartPolicy.self))
        let deleteDisks = reader.optional("deleteDisks", Decode.bool)
        let cloudInit = reader.optional("cloudInit", CloudInit.decode)
        guard let name, let uuid, let host, let memory, let vcpus, let state, let autostart, let disks,
              let interfaces, let console, let restartPolicy, let deleteDisks, let cloudInit
        else { return nil }
        return VirtualMachine(
            name: name, uuid: uuid, host: host, memory: memory, vcpus: vcpus,
            state: state ?? .running, autostart: autostart ?? true, disks: disks ?? [],
            interfaces: interfaces ?? [], vnc: console ?? false, restartPolicy: restartPolicy ?? .never,
            deleteDisks: deleteDisks ?? false, cloudInit: cloudInit, location: reader.location
        )
    }

    /// `console: {vnc: true}`: whether to give the VM a VNC console on localhost.
    private static func decodeConsole(_ node: YAMLNode, _ field: Field) -> Bool? {
        guard let reader = FieldReader(node, what: field.path, field: field, keys: ["vnc"]) else { return nil }
        guard let vnc = reader.optional("vnc", Decode.bool) else { return nil }
        return vnc ?? false
    }
}

extension VirtualMachine.Disk {
    static func decode(_ node: YAMLNode, _ field: Field) -> Self? {
        guard let reader = FieldReader(node, what: field.path, field: field, keys: ["name", "pool", "size", "image", "volume"]) else {
            return nil
        }
        let name = reader.required("name", Decode.name)
        let pool = reader.required("pool", Decode.text)
        let size = reader.required("size", Decode.size)
        let image = reader.optional("image", Decode.text)
        let volume = reader.optional("volume", Decode.volumeName)
        guard let name, let pool, let size, let image, let volume else { return nil }
        return Self(name: name, pool: pool, size: size, image: image, volume: volume)
    }
}

extension VirtualMachine.Interface {
    static func decode(_ node: YAMLNode, _ field: Field) -> Self? {
        guard let reader = FieldReader(node, what: field.path, field: field, keys: ["network", "mac", "ip"]) else {
            return nil
        }
        let network = reader.required("network", Decode.name)
        let mac = reader.required("mac", Decode.mac)
        let ip = reader.optional("ip", Decode.ipv4)
        guard let network, let mac, let ip else { return nil }
        return Self(network: network, mac: mac, ip: ip)
    }
}
