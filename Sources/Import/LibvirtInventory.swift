import Providers
import Foundation
import FoundationXML
import Libvirt

/// A node's domains and the volumes of all its storage pools, read once (`reconcile import`).
struct LibvirtInventory {
    struct Volume {
        var pool: String
        var details: Connection.VolumeDetails
        /// The path of the file backing it (a qcow2 overlay's base image), if any.
        var backingPath: String?
    }

    var domains: [Connection.DomainInfo]
    /// Every volume of every active pool, by its path on the host.
    var volumesByPath: [String: Volume]
    /// Pools whose volumes could not be listed (one that went inactive meanwhile, a broken
    /// one), with why: said, not fatal — most imports need none of them (`--match`).
    var unreadablePools: [String: String] = [:]

    static func read(uri: String) throws -> LibvirtInventory {
        let connection = try Connection(uri: uri)
        var volumes: [String: Volume] = [:]
        var unreadable: [String: String] = [:]
        for pool in try connection.activePoolNames() {
            let details: [Connection.VolumeDetails]
            do {
                details = try connection.volumeDetails(pool: pool) ?? []
            } catch {
                unreadable[pool] = "\(error)"
                continue
            }
            for volume in details {
                let document = try? XMLDocument(xmlString: volume.xml)
                let backing = (try? document?.nodes(forXPath: "/volume/backingStore/path").first?.stringValue) ?? nil
                volumes[volume.path] = Volume(pool: pool, details: volume, backingPath: backing)
            }
        }
        return LibvirtInventory(domains: try connection.domains(), volumesByPath: volumes, unreadablePools: unreadable)
    }
}
