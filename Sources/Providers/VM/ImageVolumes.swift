import Basics
import Crypto
import DesiredState
import Engine
import Foundation
import Libvirt

/// The Images of a hypervisor: each put into its pool once, as the volume
/// ``DesiredState/Image/volumeName`` (a new checksum is a new volume), through libvirt's
/// stream API, its SHA-256 computed on the bytes sent — a mismatch deletes the volume and
/// fails the resource. An Image no longer declared goes with its volume, unless a volume of
/// its pool is still backed by it (a VM made from it): then it stays, and the plan says why.
extension LibvirtProvider {
    public static let imageType = "libvirt_image"
    static let uploadImage = "libvirt.upload-image", createOverlay = "libvirt.create-overlay"

    /// The Images this node holds.
    func images(_ desired: DesiredState) -> [Image] {
        desired.images.filter { !desired.hostsDeclared || $0.host == node.name }
    }

    static func imageID(_ image: Image) -> ResourceID { ResourceID(imageType, "\(image.pool)/\(image.volumeName)") }

    /// Each declared Image: present, or to upload.
    func imageResources(_ desired: DesiredState, volumes: (String) throws -> Set<String>?) throws -> [Resource] {
        try images(desired).map { image in
            let id = Self.imageID(image)
            guard let existing = try volumes(image.pool) else {
                return Resource(id, action: .create, conflict: "storage pool \(image.pool) does not exist on \(node.libvirt)", isDeclaredObject: false,
                                source: image.location)
            }
            let present = existing.contains(image.volumeName)
            return Resource(id, action: present ? nil : .create, summary: "\(image.name) from \(image.source) (sha256 \(image.sha256.prefix(12))…)",
                            isDeclaredObject: false, source: image.location,
                            steps: present ? [] : [Step(Self.uploadImage, id.name, input: "\(image.source)\n\(image.sha256)")],
                            fingerprint: Fingerprint.of([image.pool, present ? "present" : "absent"]))
        }
    }

    /// Images reconcile put into a pool that nothing declares any more.
    func imageRemovals(_ desired: DesiredState, owned: Set<ResourceID>, connection: Connection) throws -> [Resource] {
        let wanted = Set(images(desired).map(Self.imageID))
        var resources: [Resource] = []
        var listed: [String: [Connection.VolumeDetails]?] = [:]  // one listing per pool
        for id in owned.filter({ $0.type == Self.imageType && !wanted.contains($0) }).sorted(by: { $0.name < $1.name }) {
            let (pool, volume) = Self.poolAndVolume(id.name)
            if listed[pool] == nil { listed[pool] = try connection.volumeDetails(pool: pool) }
            guard let details = listed[pool] ?? nil, let image = details.first(where: { $0.name == volume }) else { continue }
            let users = details.filter { $0.xml.contains("<path>\(image.path)</path>") && $0.name != volume }.map(\.name)
            resources.append(Resource(id, action: .delete, summary: "in \(pool)",
                                      conflict: users.isEmpty ? nil : "still the backing file of \(users.joined(separator: ", ")); kept until no volume uses it",
                                      isDeclaredObject: false, steps: [Step(Self.deleteVolume, id.name)],
                                      fingerprint: Fingerprint.of([pool, "present", users.joined(separator: ",")])))
        }
        return resources
    }

    /// Reads the image (a file, or an http(s) URL fetched first with curl), sends it into its
    /// volume and checks its SHA-256 on the bytes sent.
    func upload(_ step: Step, connection: Connection) async throws {
        let lines = (step.input ?? "").split(separator: "\n").map(String.init)
        guard lines.count == 2 else { throw RunError("\(step.key): expected a source and a checksum") }
        let (source, sha256) = (lines[0], lines[1])
        let (pool, volume) = Self.poolAndVolume(step.target)
        var file = source
        var downloaded: URL?
        defer { if let downloaded { try? FileManager.default.removeItem(at: downloaded) } }
        if source.hasPrefix("http://") || source.hasPrefix("https://") {
            let directory = try PrivateDirectory.make(prefix: "reconcile-image")
            downloaded = directory
            file = directory.appendingPathComponent("image").path
            options.progress("image \(volume): downloading \(source)")
            let command = ["curl", "--fail", "--silent", "--show-error", "--location", "--output", file, source]
            let result = try await EarlyRead { try CommandRunner(timeout: 3600).output(command) }.value()
            guard result.status == 0, result.timedOutAfter == nil else { throw CommandRunner.Failure(command, result) }
        }
        guard let handle = FileHandle(forReadingAtPath: file) else { throw RunError("cannot open \(file)") }
        defer { try? handle.close() }
        let length = try handle.seekToEnd()
        try handle.seek(toOffset: 0)
        var hasher = SHA256()
        var reported = 0
        let progress = options.progress
        try connection.uploadVolume(pool: pool, name: volume, length: length, read: { buffer in
            guard let data = try handle.read(upToCount: buffer.count), !data.isEmpty else { return 0 }
            hasher.update(data: data)
            data.copyBytes(to: &buffer, count: data.count)
            return data.count
        }, progress: { sent in
            // Every tenth, and the end.
            let tenth = length == 0 ? 10 : Int(sent * 10 / length)
            if tenth > reported {
                reported = tenth
                progress("image \(volume): \(sent >> 20) of \(length >> 20) MiB sent (\(tenth * 10) %)")
            }
        })
        let digest = hex(hasher.finalize())
        guard digest == sha256 else {
            let mismatch = "the image from \(source) has sha256 \(digest), not \(sha256) as declared"
            do {
                try connection.deleteVolume(pool: pool, volume: volume)
            } catch {
                throw RunError("\(mismatch); deleting its volume \(volume) failed too: \(error)")
            }
            throw RunError("\(mismatch); its volume was deleted")
        }
    }

    /// A disk's qcow2 volume on top of an image volume, whose path is read now (it may have been
    /// uploaded earlier in this run).
    func createOverlay(_ step: Step, connection: Connection) throws {
        let words = (step.input ?? "").split(separator: " ").map(String.init)
        guard words.count == 3, let size = UInt64(words[0]) else { throw RunError("\(step.key): expected a size, a backing volume and its format") }
        let (pool, name) = Self.poolAndVolume(step.target)
        let path = try connection.volumePath(pool: pool, volume: words[1])
        try connection.createVolume(pool: pool, xml: """
            <volume><name>\(name)</name><capacity unit='bytes'>\(size)</capacity><target><format type='qcow2'/></target>\
            <backingStore><path>\(path)</path><format type='\(words[2])'/></backingStore></volume>
            """)
    }
}
