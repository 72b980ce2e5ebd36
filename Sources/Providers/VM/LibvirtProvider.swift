import DesiredState
import Engine
import Basics
import Foundation
import Libvirt

/// Virtual machines on a host with the hypervisor role, through libvirt's C API.
///
/// Only domains carrying reconcile's metadata (`urn:reconcile:1`) are ever changed or
/// removed; a foreign domain holding a desired VM's name is a conflict. Volumes are created
/// before their domain and kept when a VM is removed.
public struct LibvirtProvider: Provider {
    public static let domainType = "libvirt_domain", volumeType = "libvirt_volume"
    public let name = "libvirt"
    public let resourceTypes: Set<String> = [domainType, volumeType]

    let node: Node
    /// One connection for the provider's lifetime (a run): the test driver keeps its state
    /// only while a connection is open, and a daemon connection is costly to open.
    private let shared = Locked<Connection?>(nil)

    public init(host: Node) {
        node = host
    }

    private func connection() throws -> Connection {
        try shared.withLock { connection in
            if let connection { return connection }
            let opened = try Connection(uri: node.libvirt)
            connection = opened
            return opened
        }
    }

    /// `test` for the test driver, `kvm` where /dev/kvm exists, else `qemu` (TCG).
    var hypervisor: String {
        if node.libvirt.hasPrefix("test:") { return "test" }
        return FileManager.default.fileExists(atPath: "/dev/kvm") ? "kvm" : "qemu"
    }

    /// The VMs this node runs.
    func machines(_ desired: DesiredState) -> [VirtualMachine] {
        desired.virtualMachines.filter { !desired.hostsDeclared || $0.host == node.name }
    }

    // MARK: - Plan

    public func plan(_ desired: DesiredState, owned: Set<ResourceID>) async throws -> [Resource] {
        let connection = try connection()
        let live = Dictionary(try connection.domains().map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let networks = Dictionary(desired.networks.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var pools: [String: Set<String>?] = [:]
        var resources: [Resource] = []
        for vm in machines(desired) {
            var volumes: [ResourceID] = []
            for disk in vm.disks {
                let id = ResourceID(Self.volumeType, "\(vm.name)-\(disk.name)")
                volumes.append(id)
                if pools[disk.pool] == nil { pools[disk.pool] = try connection.volumes(pool: disk.pool).map { Set($0.map(\.name)) } }
                guard let existing = pools[disk.pool] ?? nil else {
                    resources.append(Resource(id, action: .create, conflict: "storage pool \(disk.pool) does not exist on \(node.libvirt)", source: vm.location))
                    continue
                }
                let summary = "\(disk.size) in \(disk.pool)" + (disk.image.map { ", backed by \($0)" } ?? "")
                resources.append(Resource(id, action: existing.contains(id.name) ? nil : .create, summary: summary, source: vm.location))
            }
            resources.append(try domainResource(vm, live: live[vm.name], networks: networks, volumes: volumes))
        }
        let wanted = Set(machines(desired).map(\.name))
        for id in owned where id.type == Self.domainType && !wanted.contains(id.name) {
            guard let domain = live[id.name], try DomainDefinition.parse(domain.xml).managed else { continue }
            resources.append(Resource(id, action: .delete, guardedDeletion: domain.state == .running))
        }
        return resources
    }

    private func domainResource(
        _ vm: VirtualMachine, live: Connection.DomainInfo?, networks: [String: Network], volumes: [ResourceID]
    ) throws -> Resource {
        let id = ResourceID(Self.domainType, vm.name)
        let wanted = DomainDefinition(vm, networks: networks)
        guard let live else {
            return Resource(id, action: .create, summary: "\(vm.memory), \(vm.vcpus) vCPU, \(vm.state.rawValue)",
                            dependsOn: volumes, source: vm.location)
        }
        let current = try DomainDefinition.parse(live.xml)
        guard current.managed else {
            return Resource(id, action: .update, dependsOn: volumes,
                            conflict: "a domain named \(vm.name) exists on \(node.libvirt) and is not managed by reconcile",
                            source: vm.location)
        }
        var changes = wanted.changes(from: current)
        if live.autostart != vm.autostart { changes.append(PropertyChange("autostart", from: "\(live.autostart)", to: "\(vm.autostart)")) }
        let running = live.state == .running
        if running != (vm.state == .running) {
            changes.append(PropertyChange("state", from: live.state.rawValue, to: vm.state.rawValue))
        }
        return Resource(id, action: changes.isEmpty ? nil : .update, changes: changes, dependsOn: volumes, source: vm.location)
    }

    // MARK: - Converge

    public func converge(_ resources: [Resource], desired: DesiredState) async -> [ResourceID: String] {
        let connection: Connection
        do {
            connection = try self.connection()
        } catch {
            return resources.failing(with: "\(error)")
        }
        let vms = Dictionary(machines(desired).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let networks = Dictionary(desired.networks.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var errors: [ResourceID: String] = [:]
        for resource in resources {
            do {
                switch (resource.id.type, resource.action) {
                case (Self.volumeType, .create?):
                    try createVolume(resource.id.name, vms: vms, connection: connection)
                case (Self.domainType, .delete?):
                    if try connection.domain(named: resource.id.name)?.state == .running { try connection.destroy(resource.id.name) }
                    try connection.undefine(resource.id.name)
                case (Self.domainType, _):
                    guard let vm = vms[resource.id.name] else { continue }
                    var definition = DomainDefinition(vm, networks: networks)
                    // A VM without a declared uuid keeps the one libvirt gave it: redefining
                    // under a new uuid is refused.
                    let existing = try connection.domain(named: vm.name)
                    if definition.uuid == nil { definition.uuid = existing?.uuid }
                    try connection.define(xml: definition.xml(type: hypervisor))
                    try connection.setAutostart(vm.name, vm.autostart)
                    let state = try connection.domain(named: vm.name)?.state
                    if vm.state == .running, state != .running { try connection.start(vm.name) }
                    if vm.state == .stopped, state == .running { try connection.destroy(vm.name) }
                default:
                    continue
                }
            } catch {
                errors[resource.id] = "\(error)"
            }
        }
        return errors
    }

    private func createVolume(_ name: String, vms: [String: VirtualMachine], connection: Connection) throws {
        guard let vm = vms.values.first(where: { vm in vm.disks.contains { "\(vm.name)-\($0.name)" == name } }),
              let disk = vm.disks.first(where: { "\(vm.name)-\($0.name)" == name })
        else { return }
        var backing = ""
        if let image = disk.image {
            let path = try connection.volumePath(pool: disk.pool, volume: image)
            backing = "<backingStore><path>\(path)</path><format type='qcow2'/></backingStore>"
        }
        try connection.createVolume(pool: disk.pool, xml: """
            <volume><name>\(name)</name><capacity unit='bytes'>\(disk.size.bytes)</capacity>\
            <target><format type='qcow2'/></target>\(backing)</volume>
            """)
    }

    public func trigger(_ handler: ResourceID) async throws {
        throw RunError("libvirt has no handler \(handler)")
    }
}
