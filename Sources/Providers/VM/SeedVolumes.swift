import Basics
import DesiredState
import Engine
import Foundation
import Libvirt

/// The cloud-init seeds of VMs: each an ISO volume named by its content beside the VM's first
/// disk, made before the domain that mounts it and deleted once the domain no longer does.
extension LibvirtProvider {

    /// The steps that put `vm`'s seed in place: its volume when it is missing.
    func seedSteps(_ seed: CloudInitSeed?, present: Bool) -> [Step] {
        guard let seed, !present else { return [] }
        return [.libvirt(.createSeed(pool: seed.pool, volume: seed.volumeName, files: seed.files))]
    }

    /// Deleting the seed a stored definition mounted, when the new one mounts another.
    func oldSeedSteps(stored: DomainDefinition, wanted: DomainDefinition) -> [Step] {
        guard let old = stored.seed, stored.managed, old != wanted.seed else { return [] }
        return [.libvirt(.deleteSeed(pool: old.pool, volume: old.volume))]
    }

    /// Deleting a seed that may already be gone (deleted by hand): nothing to do then.
    func deleteSeed(pool: String, volume: String, connection: Connection) throws {
        do {
            try connection.deleteVolume(pool: pool, volume: volume)
        } catch {
            if !error.isNotFound { throw error }
        }
    }

    /// Builds the seed's ISO from the step's files and sends it into its volume.
    func createSeed(pool: String, volume: String, files: [String: String], connection: Connection) throws {
        let iso = try CloudInitSeed.iso(files)
        var offset = 0
        try connection.uploadVolume(pool: pool, name: volume, length: UInt64(iso.count), read: { buffer in
            let count = min(buffer.count, iso.count - offset)
            iso.copyBytes(to: &buffer, from: offset..<offset + count)
            offset += count
            return count
        }, progress: { _ in })
    }
}
