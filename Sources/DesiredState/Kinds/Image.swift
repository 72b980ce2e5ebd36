/// A base image put into a storage pool once, checksum verified (`kind: Image`); a VM disk
/// with `image: NAME` gets it as its backing store.
public struct Image: Sendable, Hashable {
    public enum Format: String, Sendable, Hashable, Codable, CaseIterable {
        case qcow2, raw
    }

    public var name: String
    /// An absolute path on the machine reconcile runs on, or an `http(s)://` URL.
    public var source: String
    /// Lower-case hex.
    public var sha256: String
    public var format: Format
    public var pool: String
    /// The most a download or a file may hold; more is refused before it reaches a pool.
    public var maxSize: ByteSize
    /// The declared Image this qcow2 is an overlay of: its backing file then names that
    /// Image's volume. Without it, an image that names any backing file is refused.
    public var backingImage: String? = nil
    /// The hypervisor it goes to; nil only when no Host document exists.
    public var host: String?
    public var location: SourceLocation

    public static let defaultMaxSize = ByteSize(bytes: 32 << 30)

    public var isURL: Bool { source.hasPrefix("http://") || source.hasPrefix("https://") }

    /// The volume it becomes: its name and the start of its checksum, so a new checksum is a
    /// new volume (VMs made from the old one keep using it).
    public var volumeName: String { "\(name)-\(sha256.prefix(12)).\(format.rawValue)" }
}
