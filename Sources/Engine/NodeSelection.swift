import DesiredState

/// Picks the host a run converges, from `--node` and the declared hosts.
public enum NodeSelection {
    /// - Throws: ``RunError`` when `name` is not a declared host, or when several hosts are
    ///   declared and no name is given.
    public static func host(named name: String?, in desired: DesiredState) throws -> Node {
        try host(named: name, in: desired.hosts, declared: desired.hostsDeclared)
    }

    public static func host(named name: String?, in hosts: [Node], declared hostsDeclared: Bool) throws -> Node {
        let names = hosts.map(\.name)
        guard let name else {
            guard let only = hosts.first, hosts.count == 1 else {
                throw RunError("several hosts are declared (\(names.joined(separator: ", "))); choose one with --node")
            }
            return only
        }
        guard let host = hosts.first(where: { $0.name == name }) else {
            let declared = hostsDeclared ? names.joined(separator: ", ") : "none; the implicit host is \"local\""
            throw RunError("--node \(name) is not a declared host (declared: \(declared))")
        }
        return host
    }
}
