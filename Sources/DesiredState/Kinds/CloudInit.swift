/// What a VM's first boot configures, given to cloud-init as a NoCloud seed on a CD-ROM.
public struct CloudInit: Sendable, Hashable {
    /// How the seed's network configuration sets up the VM's interfaces.
    public enum NetworkConfig: String, Sendable, Hashable, CaseIterable {
        /// Each interface its declared `ip`, its network's prefix, gateway and DNS servers.
        case `static`
        /// Every interface asks DHCP.
        case dhcp
    }

    /// The user data, inline or read from `userDataFile`; nil: an empty `#cloud-config`.
    public var userData: String?
    /// The file the user data comes from, relative to the desired-state directory.
    public var userDataFile: String?
    public var sshAuthorizedKeys: [String]
    /// nil: `static` for interfaces that declare an ip, `dhcp` for the others.
    public var networkConfig: NetworkConfig?
    /// Where `userDataFile` is named, for problems reading it.
    public var userDataFileLocation: SourceLocation?

    public init(userData: String? = nil, userDataFile: String? = nil, sshAuthorizedKeys: [String] = [],
                networkConfig: NetworkConfig? = nil, userDataFileLocation: SourceLocation? = nil) {
        (self.userData, self.userDataFile, self.sshAuthorizedKeys) = (userData, userDataFile, sshAuthorizedKeys)
        (self.networkConfig, self.userDataFileLocation) = (networkConfig, userDataFileLocation)
    }

    /// Bounds on what a seed carries.
    public enum Limits {
        public static let userDataBytes = 256 << 10
        public static let keys = 64
    }

    /// The first lines cloud-init acts on (its user-data formats); anything else it ignores
    /// without a word, which is why it is refused here.
    static let userDataStarts = ["#cloud-config", "#!", "#include", "#cloud-boothook", "#part-handler", "#cloud-config-archive",
                                 "Content-Type:", "## template: jinja"]
}
