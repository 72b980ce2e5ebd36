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

    /// The Images this node holds.
    func images(_ desired: DesiredState) -> [Image] {
        desired.images.filter { !desired.hostsDeclared || $0.host == node.name }
    }

    static func imageID(_ image: Image) -> ResourceID { ResourceID(imageType, "\(image.pool)/\(image.volumeName)") }

    /// What staging and uploading `image` needs, its backing Image's volume included.
    public static func stagingRequest(_ image: Image, in desired: DesiredState) -> ImageStaging.Request {
        ImageStaging.Request(image, backing: backingImage(of: image, in: desired))
    }

    /// The declared Image `image` is an overlay of.
    static func backingImage(of image: Image, in desired: DesiredState) -> Image? {
        image.backingImage.flatMap { name in desired.images.first { $0.name == name } }
    }

    /// Each declared Image: present, or to upload.
    func imageResources(_ desired: DesiredState, volumes: (String) throws -> Set<String>?) throws -> [Resource] {
        try images(desired).map { image in
            let id = Self.imageID(image)
            guard let existing = try volumes(image.pool) else {
                return Resource(id, action: .create, conflict: "storage pool \(image.pool) does not exist on \(node.libvirt)", isDeclaredObject: false,
                                source: image.location)
            }
            let present = existing.contains(image.volumeName)
            let backing = Self.backingImage(of: image, in: desired)
            let request = ImageStaging.Request(image, backing: backing)
            return Resource(id, action: present ? nil : .create, summary: "\(image.name) from \(image.source) (sha256 \(image.sha256.prefix(12))…)"
                                + (backing.map { ", an overlay of \($0.name)" } ?? ""),
                            dependsOn: backing.map { [Self.imageID($0)] } ?? [], isDeclaredObject: false, source: image.location,
                            steps: present ? [] : [.libvirt(.uploadImage(pool: image.pool, volume: image.volumeName, request))],
                            fingerprint: Fingerprint.of([image.pool, present ? "present" : "absent"]))
        }
    }

    /// The Images of `host` neither in their pool nor staged yet: what a run stages before it
    /// takes the node's locks. Empty when libvirt cannot be read (the plan then says why).
    public static func imagesToStage(_ desired: DesiredState, host: Node, staging: ImageStaging) -> [Image] {
        guard host.roles.contains(.hypervisor) else { return [] }
        let images = LibvirtProvider(host: host).images(desired).filter { !FileManager.default.fileExists(atPath: staging.path(of: stagingRequest($0, in: desired))) }
        guard !images.isEmpty, let connection = try? Connection(uri: host.libvirt) else { return [] }
        return images.filter { image in
            guard let volumes = try? connection.volumes(pool: image.pool) else { return false }
            return !volumes.contains { $0.name == image.volumeName }
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
                                      isDeclaredObject: false, steps: [.libvirt(.deleteVolume(pool: pool, volume: volume))],
                                      fingerprint: Fingerprint.of([pool, "present", users.joined(separator: ",")])))
        }
        return resources
    }

    /// Sends the staged image (``ImageStaging``; staged now if the run did not stage it before
    /// taking its locks) into its volume, checking its SHA-256 again on the bytes sent.
    func upload(_ request: ImageUpload, pool: String, volume: String) async throws {
        if let failure = options.stagingFailures[request.sha256] { throw RunError(failure) }
        var temporary: URL?
        defer { if let temporary { try? FileManager.default.removeItem(at: temporary) } }
        let staging: ImageStaging
        if let configured = options.staging {
            staging = configured
        } else {
            let directory = try PrivateDirectory.make(prefix: "reconcile-image")
            temporary = directory
            staging = ImageStaging(directory: directory.path, progress: options.progress)
        }
        let file = try await staging.stage(request, allowed: node.imageDirectories)
        try await session.call { [self] connection in try send(file, request: request, pool: pool, volume: volume, connection: connection) }
    }

    /// Sends a staged image into its volume (on the session's queue: it blocks while the bytes go).
    private func send(_ file: String, request: ImageStaging.Request, pool: String, volume: String, connection: Connection) throws {
        // An overlay's backing file is pointed at its backing Image's volume, as libvirt names
        // it: the bytes change, so what is sent is checked against the file as it is now.
        var expected = request.sha256
        // A rebased file is no longer what its name says: never kept (the next run stages it again).
        defer { if expected != request.sha256 { try? Syscall.unlinkIfPresent(file) } }
        if let backing = request.backing {
            do {
                try ImageStaging.pointBacking(of: file, to: try connection.volumePath(pool: pool, volume: backing.volume), format: backing.format)
                expected = try Self.sha256(of: file)
            } catch {
                try? Syscall.unlinkIfPresent(file)  // the failure is the error to report
                throw error
            }
        }
        guard let handle = FileHandle(forReadingAtPath: file) else { throw RunError("cannot open the staged image \(file)") }
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
        guard hex(hasher.finalize()) == expected else {
            let mismatch = "the staged image \(file) changed before it was sent (its sha256 is no longer \(expected))"
            try? Syscall.unlinkIfPresent(file)
            do {
                try connection.deleteVolume(pool: pool, volume: volume)
            } catch {
                throw RunError("\(mismatch); deleting its volume \(volume) failed too: \(error)")
            }
            throw RunError("\(mismatch); its volume was deleted")
        }
        try Syscall.unlinkIfPresent(file)  // in the pool now
    }

    static func sha256(of file: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: file) else { throw RunError("cannot open the staged image \(file)") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let data = try handle.read(upToCount: 1 << 20), !data.isEmpty { hasher.update(data: data) }
        return hex(hasher.finalize())
    }

    /// A disk's qcow2 volume on top of an image volume, whose path is read now (it may have been
    /// uploaded earlier in this run).
    func createOverlay(pool: String, volume: String, bytes: UInt64, backing: String, format: Image.Format, connection: Connection) throws {
        let path = try connection.volumePath(pool: pool, volume: backing)
        try connection.createVolume(pool: pool, xml: Self.overlayXML(volume, bytes: bytes, backingPath: path, format: format))
    }

    static func overlayXML(_ volume: String, bytes: UInt64, backingPath: String, format: Image.Format) -> String {
        """
        <volume><name>\(volume)</name><capacity unit='bytes'>\(bytes)</capacity><target><format type='qcow2'/></target>\
        <backingStore><path>\(backingPath)</path><format type='\(format.rawValue)'/></backingStore></volume>
        """
    }
}
