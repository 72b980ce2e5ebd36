/// A file replaced whole: written only while it still holds `previous` (nil: absent).
public struct FileChange: Sendable, Codable, Hashable {
    public var path: String
    public var content: String
    public var previous: String?

    public init(path: String, content: String, previous: String?) {
        self.path = path
        self.content = content
        self.previous = previous
    }
}

/// ISC dhcpd's files: reconcile's hosts file, the include line in dhcpd's configuration, and
/// host blocks adopted from other files.
public enum DHCPDStep: Sendable, Codable, Hashable, StepDescription {
    case writeHostsFile(FileChange)
    /// The configuration with the include line appended.
    case appendInclude(FileChange)
    /// The configuration with duplicate include lines removed.
    case rewriteConfig(FileChange)
    /// The configuration without the include line (dhcpd no longer managed here).
    case removeInclude(FileChange)
    case removeHostsFile(path: String, previous: String?)
    /// A file without the host blocks moved into the hosts file (`--adopt`).
    case adoptBlocks(FileChange)

    public var file: FileChange? {
        switch self {
        case .writeHostsFile(let file), .appendInclude(let file), .rewriteConfig(let file), .removeInclude(let file), .adoptBlocks(let file): file
        case .removeHostsFile: nil
        }
    }

    public var title: String {
        switch self {
        case .writeHostsFile(let file): "dhcpd.hosts-file \(file.path)"
        case .appendInclude(let file): "dhcpd.include-add \(file.path)"
        case .rewriteConfig(let file): "dhcpd.include-dedup \(file.path)"
        case .removeInclude(let file): "dhcpd.include-remove \(file.path)"
        case .removeHostsFile(let path, _): "dhcpd.hosts-file-remove \(path)"
        case .adoptBlocks(let file): "dhcpd.adopt-blocks \(file.path)"
        }
    }

    public var body: String? { file?.content }
}

/// Kea's reservations file and the reload that makes the server read it.
public enum KeaStep: Sendable, Codable, Hashable, StepDescription {
    case writeFile(FileChange)
    /// `config-reload` through the control socket.
    case reload(socket: String)

    public var title: String {
        switch self {
        case .writeFile(let file): "kea.reservations-file \(file.path)"
        case .reload(let socket): "kea.config-reload \(socket)"
        }
    }

    public var body: String? {
        if case .writeFile(let file) = self { file.content } else { nil }
    }
}
