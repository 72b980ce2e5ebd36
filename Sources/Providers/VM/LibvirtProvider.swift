import Basics
import DesiredState
import Engine
import Foundation
import Libvirt

/// Virtual machines on a host with the hypervisor role, through libvirt's C API.
///
/// Only domains carrying reconcile's metadata (`urn:reconcile:1`) are ever changed or
/// removed; a foreign domain holding a desired VM's name is a conflict. Volumes are created
/// before their domain and kept when a VM is removed, unless it declared `deleteDisks`.
public struct LibvirtProvider: Provider {
    public static let domainType = "libvirt_domain", volumeType = "libvirt_volume"
    public let name = "libvirt"
    public let resourceTypes: Set<String> = [domainType, volumeType, imageType]

    public struct Options: Sendable {
        /// Restart running VMs whose stored definition changed in ways libvirt cannot apply
        /// live, even without `restartPolicy: allowed` (`--allow-restart`).
        public var allowRestart: Bool
        /// How long a guest gets to shut down (ACPI) before it is destroyed.
        public var shutdownTimeout: Duration
        /// Take over a domain reconcile did not define when it already is as declared
        /// (`--adopt`): its metadata is added, live and stored, without a restart.
        public var adopt: Bool
        /// Hears how a long transfer (an Image's upload) goes; by default it goes to stderr.
        public var progress: @Sendable (String) -> Void
        /// Where Images are fetched and checked before they are uploaded; nil: a temporary
        /// directory per upload.
        public var staging: ImageStaging?
        /// Why Images the run staged before taking its locks could not be staged, by sha256:
        /// their uploads fail with it instead of fetching again while the locks are held.
        public var stagingFailures: [String: String] = [:]
        /// Sees each libvirt call that changes something (tests).
        public var recorder: EffectRecorder?

        public init(allowRestart: Bool = false, shutdownTimeout: Duration = .seconds(60), adopt: Bool = false,
                    progress: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(("reconcile: " + $0 + "\n").utf8)) }) {
            self.allowRestart = allowRestart
            self.shutdownTimeout = shutdownTimeout
            self.adopt = adopt
            self.progress = progress
        }
    }

    let node: Node
    let options: Options
    /// Every libvirt call of the provider's lifetime (a run), on a queue of its own.
    let session: LibvirtSession

    public init(host: Node, options: Options = Options()) {
        node = host
        self.options = options
        session = LibvirtSession(uri: host.libvirt, recorder: options.recorder)
    }

    /// `test` for the test driver; the Host's `virtType` if it has one; `kvm` on a remote
    /// host or where QEMU may open /dev/kvm; else `qemu` (TCG, slow but everywhere).
    var hypervisor: String {
        if node.libvirt.hasPrefix("test:") { return "test" }
        if let declared = node.virtType { return declared.rawValue }
        guard !Connection.isRemote(node.libvirt) else { return "kvm" }
        return KVMDevice.usableByQEMU ? "kvm" : "qemu"
    }

    /// The VMs this node runs.
    func machines(_ desired: DesiredState) -> [VirtualMachine] {
        desired.virtualMachines.filter { !desired.hostsDeclared || $0.host == node.name }
    }

    private func restartAllowed(_ vm: VirtualMachine) -> Bool {
        options.allowRestart || vm.restartPolicy == .allowed
    }

    // MARK: - Plan

    public func declared(_ desired: DesiredState) -> [ResourceID] {
        images(desired).map(Self.imageID) + machines(desired).flatMap { vm in
            [ResourceID(Self.domainType, vm.name)] + vm.disks.map { ResourceID(Self.volumeType, vm.volumeName(of: $0)) }
        }
    }

    /// Reads and compares on the session's queue: libvirt's calls are interleaved with the comparison.
    public func plan(_ desired: DesiredState, owned: Set<ResourceID>) async throws -> [Resource] {
        try await session.call { [self] connection in try plan(desired, owned: owned, connection: connection) }
    }

    private func plan(_ desired: DesiredState, owned: Set<ResourceID>, connection: Connection) throws -> [Resource] {
        let live = Dictionary(try connection.domains().map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let networks = Dictionary(desired.networks.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var pools: [String: Set<String>?] = [:]
        var attachments = Attachments(connection: connection)
        func poolVolumes(_ pool: String) throws -> Set<String>? {
            if pools[pool] == nil { pools[pool] = try connection.volumes(pool: pool).map { Set($0.map(\.name)) } }
            return pools[pool] ?? nil
        }
        var resources = try imageResources(desired, volumes: poolVolumes)
        let images = Dictionary(images(desired).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for vm in machines(desired) {
            var volumes: [ResourceID] = []
            for disk in vm.disks {
                let id = ResourceID(Self.volumeType, vm.volumeName(of: disk))
                volumes.append(id)
                guard let existing = try poolVolumes(disk.pool) else {
                    resources.append(Resource(id, action: .create, conflict: "storage pool \(disk.pool) does not exist on \(node.libvirt)",
                                              isDeclaredObject: false, source: vm.location))
                    continue
                }
                let summary = "\(disk.size) in \(disk.pool)" + (disk.image.map { ", backed by \($0)" } ?? "")
                let image = disk.image.flatMap { images[$0] }
                var volume = Resource(id, action: existing.contains(id.name) ? nil : .create, summary: summary,
                                      dependsOn: image.map { [Self.imageID($0)] } ?? [], isDeclaredObject: false,
                                      source: vm.location, fingerprint: Fingerprint.of([disk.pool, existing.contains(id.name) ? "present" : "absent"]))
                if volume.action != nil {
                    switch (disk.image, image) {
                    case (nil, _):
                        volume.steps = [.libvirt(.createVolume(pool: disk.pool, volume: id.name, xml: volumeXML(id.name, disk: disk)))]
                    case (_, let image?):
                        volume.steps = [.libvirt(.createOverlay(pool: disk.pool, volume: id.name, bytes: disk.size.bytes, backing: image.volumeName,
                                                                format: image.format))]
                    case (let backing?, nil) where existing.contains(backing):
                        volume.steps = [.libvirt(.createOverlay(pool: disk.pool, volume: id.name, bytes: disk.size.bytes, backing: backing, format: .qcow2))]
                    case (let backing?, nil):
                        volume.conflict = "image \(backing) is neither a declared Image nor a volume of pool \(disk.pool)"
                    }
                }
                resources.append(volume)
            }
            var domain = try domainResource(vm, live: live[vm.name], networks: networks, volumes: volumes, connection: connection, poolVolumes: poolVolumes)
            if domain.conflict == nil, domain.action != nil, vm.state == .running, let missing = try attachments.missing(for: vm, networks: networks) {
                domain.conflict = "\(missing) does not exist on \(node.libvirt)"
            }
            resources.append(domain)
        }
        resources += try removals(desired, live: live, owned: owned)
        resources += try imageRemovals(desired, owned: owned, connection: connection)
        return resources
    }

    private func domainResource(
        _ vm: VirtualMachine, live: Connection.DomainInfo?, networks: [String: Network], volumes: [ResourceID],
        connection: Connection, poolVolumes: (String) throws -> Set<String>?
    ) throws -> Resource {
        let id = ResourceID(Self.domainType, vm.name)
        let seed = CloudInitSeed(vm, networks: networks)
        var wanted = DomainDefinition(vm, networks: networks, seed: seed)
        let seedPresent = try seed.map { try poolVolumes($0.pool)?.contains($0.volumeName) == true } ?? true
        let fingerprint = Fingerprint.of(live.map { [$0.xml, $0.state.rawValue, "\($0.autostart)", $0.liveXML ?? ""] } ?? ["(absent)"]
                                         + (seed == nil ? [] : [seedPresent ? "seed present" : "seed absent"]))
        guard let live else {
            var steps = seedSteps(seed, present: seedPresent)
            steps += [.libvirt(.define(domain: vm.name, xml: wanted.xml(type: hypervisor))), .libvirt(.autostart(domain: vm.name, vm.autostart))]
            if vm.state == .running { steps.append(.libvirt(.start(domain: vm.name))) }
            return Resource(id, action: .create, summary: "\(vm.memory), \(vm.vcpus) vCPU, \(vm.state.rawValue)",
                            dependsOn: volumes, source: vm.location, steps: steps, fingerprint: fingerprint)
        }
        var stored = try DomainDefinition.parse(live.xml, volumeAt: { try connection.volume(atPath: $0) })
        // A VM without a declared uuid keeps the one libvirt gave it: redefining under a new
        // uuid is refused.
        if wanted.uuid == nil { wanted.uuid = live.uuid }
        var changes: [PropertyChange] = []
        var steps: [Step] = []
        if !stored.managed {
            // Taken over only when asked, and only as it is: a domain that differs would be
            // redefined, which is a change to review on its own, after adoption.
            let differences = wanted.changes(from: stored).filter { $0.property != "deleteDisks" }
            guard options.adopt, differences.isEmpty else {
                let why = options.adopt ? "differs from the desired state (\(differences.map(\.description).joined(separator: "; "))); adopt it as it is first"
                    : "is not managed by reconcile; run with --adopt to take it over (reconcile import writes its desired state)"
                return Resource(id, action: .update, dependsOn: volumes, conflict: "a domain named \(vm.name) exists on \(node.libvirt) and \(why)",
                                source: vm.location, fingerprint: fingerprint)
            }
            changes.append(PropertyChange("owner", from: "not reconcile", to: "reconcile (adopted, no restart)"))
            steps.append(.libvirt(.adopt(domain: vm.name, metadata: DomainDefinition.metadata(deleteDisks: vm.deleteDisks))))
            (stored.managed, stored.deleteDisks) = (true, vm.deleteDisks)
        }
        let definitionChanges = wanted.changes(from: stored)
        changes += definitionChanges
        if let seed, !seedPresent, wanted.seed == stored.seed {
            changes.append(PropertyChange("cloudInit.seed", from: "missing", to: "\(seed.pool)/\(seed.volumeName)", note: "made again"))
        }
        steps += seedSteps(seed, present: seedPresent)
        if !definitionChanges.isEmpty {
            steps.append(.libvirt(.define(domain: vm.name, xml: wanted.xml(type: hypervisor), previous: live.xml)))
            steps += oldSeedSteps(stored: stored, wanted: wanted)
        }
        if live.autostart != vm.autostart {
            changes.append(PropertyChange("autostart", from: "\(live.autostart)", to: "\(vm.autostart)"))
            steps.append(.libvirt(.autostart(domain: vm.name, vm.autostart)))
        }
        var pending: [PropertyChange] = []
        switch (live.state == .running, vm.state) {
        case (true, .running):
            let guest = try GuestDelta(wanted: wanted, running: live)
            (changes, pending) = runningGuest(vm, guest: guest, changes: changes)
            if let memory = guest.liveMemoryKiB { steps.append(.libvirt(.setMemory(domain: vm.name, kibibytes: memory))) }
            if changes.contains(where: { $0.property == "power" }) { steps.append(.libvirt(.restart(domain: vm.name))) }
        case (true, .stopped):
            changes.append(PropertyChange("state", from: "running", to: "stopped",
                                          note: "shutdown, destroyed after \(options.shutdownTimeout.seconds) s"))
            steps.append(.libvirt(.stop(domain: vm.name)))
        case (false, .running):
            changes.append(PropertyChange("state", from: live.state.rawValue, to: "running"))
            steps.append(.libvirt(.start(domain: vm.name)))
        case (false, .stopped):
            for index in changes.indices where changes[index].isCloudInit && changes[index].note == nil {
                changes[index].note = "takes effect at next boot"
            }
        }
        return Resource(id, action: changes.isEmpty ? nil : .update, changes: changes, dependsOn: volumes,
                        source: vm.location, pendingChanges: pending, steps: changes.isEmpty ? [] : steps, fingerprint: fingerprint)
    }

    /// For a VM that runs and should: the stored changes noted with how they take effect
    /// (`live`, `restart`, `restart pending`), a `power` change when a restart is allowed and
    /// needed, and otherwise what waits for one.
    private func runningGuest(
        _ vm: VirtualMachine, guest: GuestDelta, changes stored: [PropertyChange]
    ) -> (changes: [PropertyChange], pending: [PropertyChange]) {
        var changes = stored
        if let memory = guest.liveMemory, !changes.contains(where: { $0.property == "memory" }) { changes.append(memory) }
        let restart = restartAllowed(vm) && !guest.needRestart.isEmpty
        let waiting = Set(guest.needRestart.map(\.property))
        for index in changes.indices {
            if waiting.contains(changes[index].property) {
                changes[index].note = restart ? "restart" : changes[index].isCloudInit ? "takes effect at next boot" : "restart pending"
            } else if changes[index].property == "memory", guest.liveMemory != nil {
                changes[index].note = "live"
            }
        }
        if restart {
            changes.append(PropertyChange("power", from: "running", to: "restarted", note: "graceful shutdown, then start"))
            return (changes, [])
        }
        let pending = guest.needRestart.filter { change in !changes.contains { $0.property == change.property } }
            .map { change in
                PropertyChange(change.property, from: change.from, to: change.to,
                               note: change.isCloudInit ? "takes effect at next boot" : "restart pending")
            }
        return (changes, pending)
    }

    /// Owned domains no longer desired on this node, and the owned volumes that go with
    /// them (or with disks a VM no longer lists) when the VM declared `deleteDisks`.
    private func removals(_ desired: DesiredState, live: [String: Connection.DomainInfo], owned: Set<ResourceID>) throws -> [Resource] {
        let machines = Dictionary(machines(desired).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let wantedVolumes = Set(machines.values.flatMap { vm in vm.disks.map(vm.volumeName) })
        var resources: [Resource] = []
        for domain in live.values.sorted(by: { $0.name < $1.name }) {
            let id = ResourceID(Self.domainType, domain.name)
            guard owned.contains(id), case let stored = try DomainDefinition.parse(domain.xml), stored.managed else { continue }
            let removed = machines[domain.name] == nil
            let running = domain.state == .running
            if removed {
                let volumes = stored.disks.map(\.volume).joined(separator: ", ")
                let disks = stored.disks.isEmpty ? "no disks" : "volumes \(volumes) \(stored.deleteDisks ? "deleted" : "kept")"
                // The seed was made for this domain alone: it goes with it, whatever deleteDisks says.
                let seed = stored.seed.map { [Step.libvirt(.deleteSeed(pool: $0.pool, volume: $0.volume))] } ?? []
                let steps = (running ? [Step.libvirt(.stop(domain: domain.name))] : []) + [.libvirt(.undefine(domain: domain.name))] + seed
                resources.append(Resource(id, action: .delete, summary: (running ? "running, shut down; " : "") + disks, guardedDeletion: running,
                                          steps: steps, fingerprint: Fingerprint.of([domain.xml, domain.state.rawValue, "\(domain.autostart)"])))
            }
            guard removed ? stored.deleteDisks : machines[domain.name]?.deleteDisks == true else { continue }
            for disk in stored.disks where !wantedVolumes.contains(disk.volume) {
                let volume = ResourceID(Self.volumeType, disk.volume)
                guard owned.contains(volume) else { continue }
                resources.append(Resource(volume, action: .delete, summary: "in \(disk.pool)",
                                          dependsOn: removed ? [id] : [], guardedDeletion: running, isDeclaredObject: false,
                                          steps: [.libvirt(.deleteVolume(pool: disk.pool, volume: disk.volume))], fingerprint: Fingerprint.of([disk.pool, "present"])))
            }
        }
        return resources
    }

    /// `pool/volume`, the target of a volume's steps and an Image's resource name, split.
    static func poolAndVolume(_ target: String) -> (pool: String, volume: String) {
        (String(target.prefix { $0 != "/" }), String(target.drop { $0 != "/" }.dropFirst()))
    }

    /// A new, empty qcow2 volume for a disk.
    private func volumeXML(_ name: String, disk: VirtualMachine.Disk) -> String {
        "<volume><name>\(name)</name><capacity unit='bytes'>\(disk.size.bytes)</capacity><target><format type='qcow2'/></target></volume>"
    }

    public func trigger(_ handler: ResourceID, notifiedBy: [Resource]) async throws {
        throw RunError("libvirt has no handler \(handler)")
    }
}

/// The bridges and libvirt networks a VM's interfaces attach to, checked against the
/// hypervisor's, each list read once per plan. A stopped VM is not checked: libvirt needs
/// them only to start it.
struct Attachments {
    let connection: Connection
    private var bridges: Set<String>?
    private var networks: Set<String>?

    init(connection: Connection) {
        self.connection = connection
    }

    /// `bridge br9` or `libvirt network lab` for the first attachment that is missing.
    mutating func missing(for vm: VirtualMachine, networks declared: [String: Network]) throws -> String? {
        for interface in vm.interfaces {
            switch declared[interface.network]?.attachment {
            case .bridge(let bridge)?:
                if bridges == nil { bridges = try connection.interfaceNames() }
                if bridges?.contains(bridge) == false { return "bridge \(bridge)" }
            case .libvirtNetwork(let network)?:
                if networks == nil { networks = try connection.networkNames() }
                if networks?.contains(network) == false { return "libvirt network \(network)" }
            case nil:
                continue
            }
        }
        return nil
    }
}

/// How a running guest differs from the definition it should run: its memory can be set
/// live (the balloon) when the maximum stays; everything else waits for a restart.
struct GuestDelta {
    /// The memory change to make live, if that is the one that can.
    var liveMemory: PropertyChange?
    var liveMemoryKiB: UInt64?
    var needRestart: [PropertyChange] = []

    init(wanted: DomainDefinition, running: Connection.DomainInfo) throws {
        guard let xml = running.liveXML else { return }
        let guest = try DomainDefinition.parse(xml)
        needRestart = wanted.guestChanges(from: guest)
        if wanted.memoryKiB == guest.memoryKiB, wanted.currentMemoryKiB != guest.currentMemoryKiB {
            liveMemoryKiB = wanted.currentMemoryKiB
            liveMemory = needRestart.first { $0.property == "memory" }
            needRestart.removeAll { $0.property == "memory" }
        }
    }
}

extension PropertyChange {
    /// A change to the cloud-init seed: cloud-init reads it at boot.
    var isCloudInit: Bool { property.hasPrefix("cloudInit.") }
}

extension Duration {
    /// Whole seconds, for messages.
    var seconds: Int64 { components.seconds }
}
