import Basics
import DesiredState
import Engine
import Foundation
import Libvirt

/// The cloud-init seeds of VMs: each an ISO volume named by its content beside the VM's first
/// disk, made before the domain that mounts it and deleted once the domain no longer does.
extension LibvirtProvider {
    static let createSeed = "libvirt.create-seed", deleteSeed = "libvirt.delete-seed"

    /// The steps that put `vm`'s seed in place: its volume when it is missing.
    func seedSteps(_ seed: CloudInitSeed?, present: Bool) -> [Step] {
        guard let seed, !present else { return [] }
        return [Step(Self.createSeed, "\(seed.pool)/\(seed.volumeName)", input: CloudInitSeed.json(seed.files))]
    }

    /// Deleting the seed a stored definition mounted, when the new one mounts another.
    func oldSeedSteps(stored: DomainDefinition, wanted: DomainDefinition) -> [Step] {
        guard let old = stored.seed, stored.managed, old != wanted.seed else { return [] }
        return [Step(Self.deleteSeed, "\(old.pool)/\(old.volume)")]
    }

    /// Deleting a seed that may already be gone (deleted by hand): nothing to do then.
    func deleteSeed(_ step: Step, connection: Connection) throws {
        let (pool, volume) = Self.poolAndVolume(step.target)
        do {
            try connection.deleteVolume(pool: pool, volume: volume)
        } catch {
            if !error.isNotFound { throw error }
        }
    }

    /// Builds the seed's ISO from the step's files and sends it into its volume.
    func createSeed(_ step: Step, connection: Connection) throws {
        guard let data = step.input.flatMap({ $0.data(using: .utf8) }),
              let files = try? JSONSerialization.jsonObject(with: data) as? [String: String] else {
            throw RunError("\(step.key): expected the seed's files as a JSON object")
        }
        let iso = try CloudInitSeed.iso(files)
        let (pool, volume) = Self.poolAndVolume(step.target)
        var offset = 0
        try connection.uploadVolume(pool: pool, name: volume, length: UInt64(iso.count), read: { buffer in
            let count = min(buffer.count, iso.count - offset)
            iso.copyBytes(to: &buffer, from: offset..<offset + count)
            offset += count
            return count
        }, progress: { _ in })
    }
}
