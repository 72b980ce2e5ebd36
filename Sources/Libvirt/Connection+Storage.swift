import Basics
import CLibvirt
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Storage pools and volumes: what a VM's disks, Images and seeds are made of.
extension Connection {
    /// A volume of a storage pool.
    public struct VolumeInfo: Sendable, Equatable {
        public var name: String
        public var capacityBytes: UInt64
    }

    /// The volumes of `pool`, or nil when there is no such pool (and only then).
    public func volumes(pool name: String) throws(LibvirtError) -> [VolumeInfo]? {
        try eachVolume(pool: name) { (volume, volumeName, capacity) throws(LibvirtError) in
            VolumeInfo(name: volumeName, capacityBytes: capacity)
        }
    }

    /// The names of the active storage pools (an inactive one lists no volumes), sorted.
    public func activePoolNames() throws(LibvirtError) -> [String] {
        let active = VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE.rawValue
        return try listAll("list the storage pools of \(uri)", { virConnectListAllStoragePools(handle, $0, active) }, free: virStoragePoolFree) {
            virStoragePoolGetName($0).map { String(cString: $0) } ?? ""
        }.sorted()
    }

    /// A volume with where it lives and the file it is backed by.
    public struct VolumeDetails: Sendable, Equatable {
        public var name: String
        public var capacityBytes: UInt64
        public var path: String
        /// The volume's XML (`<backingStore><path>` names its backing file, when it has one).
        public var xml: String
    }

    /// The volumes of `pool` with their paths and XML, or nil when there is no such pool.
    /// More calls per volume than ``volumes(pool:)``: for reading a node once, not for plans.
    public func volumeDetails(pool name: String) throws(LibvirtError) -> [VolumeDetails]? {
        try eachVolume(pool: name) { (volume, volumeName, capacity) throws(LibvirtError) in
            guard let path = virStorageVolGetPath(volume) else { throw failure("read the path of \(volumeName)") }
            defer { free(path) }
            guard let xml = virStorageVolGetXMLDesc(volume, 0) else { throw failure("read the definition of \(volumeName)") }
            defer { free(xml) }
            return VolumeDetails(name: volumeName, capacityBytes: capacity, path: String(cString: path), xml: String(cString: xml))
        }
    }

    /// Reads each volume of `pool` (its handle, name and capacity), sorted by name; nil when
    /// there is no such pool.
    private func eachVolume<Item>(
        pool name: String, _ read: (OpaquePointer, String, UInt64) throws(LibvirtError) -> Item
    ) throws(LibvirtError) -> [Item]? {
        guard let pool = virStoragePoolLookupByName(handle, name) else {
            let error = failure("find storage pool \(name)")
            if error.isNotFound { return nil }
            throw error
        }
        defer { virStoragePoolFree(pool) }
        return try listAll("list the volumes of pool \(name)", { virStoragePoolListAllVolumes(pool, $0, 0) }, free: virStorageVolFree) {
            (volume) throws(LibvirtError) in
            let volumeName = virStorageVolGetName(volume).map { String(cString: $0) } ?? ""
            var info = virStorageVolInfo()
            try check(virStorageVolGetInfo(volume, &info), "read volume \(volumeName) of pool \(name)")
            return (volumeName, try read(volume, volumeName, info.capacity))
        }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// The pool and name of the volume at `path`, or nil when no pool holds it (and only then).
    public func volume(atPath path: String) throws(LibvirtError) -> (pool: String, volume: String)? {
        guard let volume = virStorageVolLookupByPath(handle, path) else {
            let error = failure("find the volume at \(path)")
            if error.isNotFound { return nil }
            throw error
        }
        defer { virStorageVolFree(volume) }
        guard let pool = virStoragePoolLookupByVolume(volume) else { throw failure("find the pool of \(path)") }
        defer { virStoragePoolFree(pool) }
        return (virStoragePoolGetName(pool).map { String(cString: $0) } ?? "", virStorageVolGetName(volume).map { String(cString: $0) } ?? "")
    }

    /// Creates volume `name` in `pool` holding exactly `length` bytes, which `read` fills into
    /// its buffer a chunk at a time (0: the end), sent through libvirt's stream API — so a
    /// remote host (`qemu+ssh://`) gets it too. `progress` hears the bytes sent so far. The
    /// volume is made raw and the pool refreshed after, so libvirt probes what was written (a
    /// qcow2 image reads as qcow2). On any failure the volume is deleted: none is left half
    /// written.
    public func uploadVolume(pool: String, name: String, length: UInt64, read: (inout [UInt8]) throws -> Int,
                             progress: (UInt64) -> Void) throws {
        recorder?.record(.libvirt("upload-volume \(pool)/\(name)"))
        try makeVolume(pool: pool, xml: "<volume><name>\(name)</name><capacity unit='bytes'>\(length)</capacity>"
                         + "<allocation>0</allocation><target><format type='raw'/></target></volume>")
        do {
            try withVolume(name, in: pool) { volume throws(LibvirtError) in
                guard let stream = virStreamNew(handle, 0) else { throw failure("open a stream to \(name)") }
                defer { virStreamFree(stream) }
                try check(virStorageVolUpload(volume, stream, 0, length, 0), "start the upload of \(name)")
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                var sent: UInt64 = 0
                do throws(LibvirtError) {
                    while sent < length {
                        let count: Int
                        do { count = try read(&buffer) } catch { throw LibvirtError(operation: "read the image for \(name)", message: "\(error)", isNotFound: false) }
                        guard count > 0 else { throw LibvirtError(operation: "read the image for \(name)", message: "it ended after \(sent) of \(length) bytes", isNotFound: false) }
                        var offset = 0
                        while offset < count {
                            let written = buffer.withUnsafeBytes { bytes in
                                virStreamSend(stream, bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self), count - offset)
                            }
                            try check(written, "upload \(name)")
                            offset += Int(written)
                        }
                        sent += UInt64(count)
                        progress(sent)
                    }
                    try check(virStreamFinish(stream), "finish the upload of \(name)")
                } catch {
                    virStreamAbort(stream)
                    throw error
                }
            }
            try withPool(pool) { (handle) throws(LibvirtError) in try check(virStoragePoolRefresh(handle, 0), "refresh pool \(pool)") }
        } catch {
            do {
                try deleteVolume(pool: pool, volume: name)
            } catch let cleanup {
                throw LibvirtError(operation: "upload \(name)", message: "\(error); the half-written volume could not be deleted either: \(cleanup)", isNotFound: false)
            }
            throw error
        }
    }

    /// Creates a volume in `pool` from its XML.
    public func createVolume(pool name: String, xml: String) throws(LibvirtError) {
        recorder?.record(.libvirt("create-volume \(name)", input: xml))
        try makeVolume(pool: name, xml: xml)
    }

    private func makeVolume(pool name: String, xml: String) throws(LibvirtError) {
        try withPool(name) { pool throws(LibvirtError) in
            guard let volume = virStorageVolCreateXML(pool, xml, 0) else { throw failure("create a volume in pool \(name)") }
            virStorageVolFree(volume)
        }
    }

    /// A volume's path on the host, for use as a backing file.
    public func volumePath(pool name: String, volume: String) throws(LibvirtError) -> String {
        try withVolume(volume, in: name) { handle throws(LibvirtError) in
            guard let path = virStorageVolGetPath(handle) else { throw failure("read the path of \(volume)") }
            defer { free(path) }
            return String(cString: path)
        }
    }

    public func deleteVolume(pool name: String, volume: String) throws(LibvirtError) {
        recorder?.record(.libvirt("delete-volume \(name)/\(volume)"))
        try withVolume(volume, in: name) { handle throws(LibvirtError) in
            try check(virStorageVolDelete(handle, 0), "delete volume \(volume) in \(name)")
        }
    }

    func withPool<T>(_ name: String, _ body: (OpaquePointer) throws(LibvirtError) -> T) throws(LibvirtError) -> T {
        guard let pool = virStoragePoolLookupByName(handle, name) else { throw failure("find storage pool \(name)") }
        defer { virStoragePoolFree(pool) }
        return try body(pool)
    }

    func withVolume<T>(_ volume: String, in pool: String, _ body: (OpaquePointer) throws(LibvirtError) -> T) throws(LibvirtError) -> T {
        try withPool(pool) { handle throws(LibvirtError) in
            guard let found = virStorageVolLookupByName(handle, volume) else { throw failure("find volume \(volume) in \(pool)") }
            defer { virStorageVolFree(found) }
            return try body(found)
        }
    }
}
