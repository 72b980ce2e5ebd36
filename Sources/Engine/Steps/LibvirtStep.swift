import DesiredState

/// libvirt's calls, named after its API; a volume is named `pool/volume`.
public enum LibvirtStep: Sendable, Codable, Hashable, StepDescription {
    case createVolume(pool: String, volume: String, xml: String)
    case deleteVolume(pool: String, volume: String)
    /// A qcow2 volume on top of `backing` (a volume of the same pool), whose path is read when it runs.
    case createOverlay(pool: String, volume: String, bytes: UInt64, backing: String, format: Image.Format)
    case uploadImage(pool: String, volume: String, ImageUpload)
    /// A cloud-init seed: an ISO labelled `cidata` holding `files` (name → content).
    case createSeed(pool: String, volume: String, files: [String: String])
    case deleteSeed(pool: String, volume: String)
    case define(domain: String, xml: String, previous: String? = nil)
    case autostart(domain: String, Bool)
    case start(domain: String)
    /// ACPI shutdown, destroyed after the shutdown timeout.
    case stop(domain: String)
    case restart(domain: String)
    case undefine(domain: String)
    /// reconcile's metadata element added to a domain it takes over.
    case adopt(domain: String, metadata: String)
    case setMemory(domain: String, kibibytes: UInt64)

    public var title: String {
        switch self {
        case .createVolume(let pool, let volume, _): "libvirt.create-volume \(pool)/\(volume)"
        case .deleteVolume(let pool, let volume): "libvirt.delete-volume \(pool)/\(volume)"
        case .createOverlay(let pool, let volume, _, _, _): "libvirt.create-overlay \(pool)/\(volume)"
        case .uploadImage(let pool, let volume, _): "libvirt.upload-image \(pool)/\(volume)"
        case .createSeed(let pool, let volume, _): "libvirt.create-seed \(pool)/\(volume)"
        case .deleteSeed(let pool, let volume): "libvirt.delete-seed \(pool)/\(volume)"
        case .define(let domain, _, _): "libvirt.define \(domain)"
        case .autostart(let domain, _): "libvirt.autostart \(domain)"
        case .start(let domain): "libvirt.start \(domain)"
        case .stop(let domain): "libvirt.stop \(domain)"
        case .restart(let domain): "libvirt.restart \(domain)"
        case .undefine(let domain): "libvirt.undefine \(domain)"
        case .adopt(let domain, _): "libvirt.adopt \(domain)"
        case .setMemory(let domain, _): "libvirt.set-memory \(domain)"
        }
    }

    public var body: String? {
        switch self {
        case .createVolume(_, _, let xml), .define(_, let xml, _): xml
        case .createOverlay(_, _, let bytes, let backing, let format): "\(bytes) bytes on \(backing) (\(format.rawValue))"
        case .uploadImage(_, _, let upload): upload.description
        case .createSeed(_, _, let files): files.keys.sorted().map { "\($0):\n" + (files[$0] ?? "") }.joined(separator: "\n")
        case .autostart(_, let on): "\(on)"
        case .adopt(_, let metadata): metadata
        case .setMemory(_, let kibibytes): "\(kibibytes) KiB"
        case .deleteVolume, .deleteSeed, .start, .stop, .restart, .undefine: nil
        }
    }
}

/// What an Image's upload needs: where its bytes come from, their SHA-256, their format, the
/// most it may download, and the only backing file it may name.
public struct ImageUpload: Sendable, Codable, Hashable, CustomStringConvertible {
    public var source: String
    public var sha256: String
    public var format: Image.Format
    public var maxSize: UInt64
    /// The backing Image's volume and format, pointed at that volume when it is uploaded.
    public var backing: Backing?

    public struct Backing: Sendable, Codable, Hashable {
        public var volume: String
        public var format: Image.Format

        public init(volume: String, format: Image.Format) {
            self.volume = volume
            self.format = format
        }
    }

    public init(source: String, sha256: String, format: Image.Format, maxSize: UInt64, backing: Backing? = nil) {
        self.source = source
        self.sha256 = sha256
        self.format = format
        self.maxSize = maxSize
        self.backing = backing
    }

    public var description: String {
        "from \(source)\nsha256 \(sha256)\nformat \(format.rawValue), at most \(maxSize) bytes"
            + (backing.map { "\nbacked by \($0.volume) (\($0.format.rawValue))" } ?? "")
    }
}
