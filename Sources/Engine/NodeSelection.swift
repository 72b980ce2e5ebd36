import DesiredState

/// Picks the host a run converges, from `--node` and the declared hosts.
public enum NodeSelection {
    /// - Throws: ``RunError`` when `name` is not a declared host, or when several hosts are
    ///   declared and no name is given.
    public static func host(named name: String?, in desired: DesiredState) throws -> Node {
        let names = desired.hosts.map(\.name)
        guard let name else {
            guard let only = desired.hosts.first, desired.hosts.count == 1 else {
                throw RunError("several hosts are declared (\(names.joined(separator: ", "))); choose one with --node")
            }
            return only
        }
        guard let host = desired.hosts.first(where: { $0.name == name }) else {
            let declared = desired.hostsDeclared ? names.joined(separator: ", ") : "none; the implicit host is \"local\""
            throw RunError("--node \(name) is not a declared host (declared: \(declared))")
        }
        return host
    }
}
