import DesiredState
import Engine
import Foundation
import Libvirt
import Providers
import RunLog
import Testing
import TestSupport

/// The Host of a libvirt lab (TCG guests) and its Network on the lab's bridge, then `---`.
func labHeader(_ lab: LibvirtLab) -> String {
    """
    kind: Host
    name: hv1
    roles: [hypervisor]
    libvirt: \(lab.uri)
    virtType: qemu  # TCG: nested KVM on these machines stops some guests with an internal error
    ---
    kind: Network
    name: lab
    cidr: 10.77.0.0/24
    bridge: \(lab.bridge)
    ---

    """
}

/// The VM provider against the real libvirtd running real QEMU guests (TCG) on a bridge and
/// in a storage pool made for the test.
@Suite(.tags(.integration), .serialized) struct LibvirtIntegrationTests {
    let state = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-qemu-\(UUID().uuidString)").path

    func desired(_ lab: LibvirtLab, memory: String = "128MiB", name: String? = nil, present: Bool = true) throws -> DesiredState {
        try desiredState(labHeader(lab) + """
            \(present ? """
            kind: VirtualMachine
            name: \(name ?? lab.prefix + "-vm")
            host: hv1
            memory: \(memory)
            vcpus: 1
            state: running
            autostart: true
            disks: [{name: root, pool: \(lab.pool), size: 64MiB}]
            interfaces: [{network: lab, mac: "00:25:22:77:00:07"}]
            console: {vnc: true}
            """ : "")
            """)
    }

    func run(_ desired: DesiredState, dryRun: Bool = false, allowPrune: Bool = false, allowRestart: Bool = false, adopt: Bool = false) async throws -> RunReport {
        let options = LibvirtProvider.Options(allowRestart: allowRestart, shutdownTimeout: .seconds(3), adopt: adopt)
        let reconciler = Reconciler(node: "hv1", providers: [LibvirtProvider(host: desired.hosts[0], options: options)],
                                    recorder: try RunLog(stateDirectory: state))
        return try await reconciler.run(desired, revision: "test", options: .init(dryRun: dryRun, pruneGuard: PruneGuard(allowPrune: allowPrune)))
    }

    func changes(_ report: RunReport, of resource: String) -> [String] {
        report.outcomes.first { $0.resource.description == resource }?.changes.map(\.description) ?? []
    }

    @Test func aGuestIsCreatedKeptUpdatedCorrectedAndDeleted() async throws {
        let lab = try LibvirtLab()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let vm = lab.prefix + "-vm", domain = "libvirt_domain[\(lab.prefix)-vm]"
        let connection = try Connection(uri: lab.uri)

        // Create: the volume, then a running guest whose NIC sits on the bridge.
        let created = try await run(try desired(lab))
        #expect(created.status == .converged, "\(created.outcomes)")
        #expect(try connection.domain(named: vm)?.state == .running)
        #expect(try lab.virsh("domstate", vm).hasPrefix("running"))
        #expect(try lab.bridgePorts().count == 1)
        #expect(try connection.volumes(pool: lab.pool)?.map(\.name) == ["\(vm)-root"])
        #expect(try lab.virsh("dumpxml", vm).contains("<graphics type='vnc' port='59"))

        // Idempotent: nothing to do the second time.
        let second = try await run(try desired(lab))
        #expect(second.counts.unchanged == 2 && second.counts.updated == 0, "\(second.outcomes)")

        // Drift made with virsh shows in the dry-run and is corrected by the apply.
        try lab.virsh("autostart", "--disable", vm)
        try lab.virsh("setmem", vm, "100M", "--config")
        try lab.virsh("setvcpus", vm, "2", "--config", "--maximum")
        try lab.virsh("destroy", vm)
        let drift = try await run(try desired(lab), dryRun: true)
        #expect(drift.status == .changesPending)
        #expect(changes(drift, of: domain) == [
            "memory: 100 MiB (max 128 MiB) → 128 MiB", "vcpus: 1 (max 2) → 1", "autostart: false → true", "state: stopped → running",
        ])
        let corrected = try await run(try desired(lab))
        #expect(corrected.status == .converged, "\(corrected.outcomes)")
        #expect(try connection.domain(named: vm)?.state == .running)
        #expect(try lab.virsh("dominfo", vm).contains("Autostart:      enable"))
        #expect(try await run(try desired(lab), dryRun: true).status == .noChanges)

        // More memory than the running guest's maximum: stored now, restart pending, shown.
        let stored = try await run(try desired(lab, memory: "160MiB"))
        #expect(stored.status == .converged)
        #expect(changes(stored, of: domain) == ["memory: 128 MiB → 160 MiB (restart pending)"])
        let pending = try await run(try desired(lab, memory: "160MiB"), dryRun: true)
        #expect(pending.status == .noChanges)
        #expect(changes(pending, of: domain) == ["memory: 128 MiB → 160 MiB (restart pending)"])
        let restarted = try await run(try desired(lab, memory: "160MiB"), allowRestart: true)
        #expect(restarted.status == .converged, "\(restarted.outcomes)")
        #expect(try lab.virsh("dominfo", vm).contains("Max memory:     163840 KiB"))
        #expect(try connection.domain(named: vm)?.state == .running)
        #expect(changes(try await run(try desired(lab, memory: "160MiB"), dryRun: true), of: domain) == [])

        // Delete: guarded while running; then shut down (destroyed after the timeout, as
        // iPXE ignores ACPI), undefined; the volume stays.
        #expect(try await run(try desired(lab, present: false)).status == .refused)
        let deleted = try await run(try desired(lab, present: false), allowPrune: true)
        #expect(deleted.status == .converged, "\(deleted.outcomes)")
        #expect(try connection.domain(named: vm) == nil)
        #expect(try connection.volumes(pool: lab.pool)?.map(\.name) == ["\(vm)-root"])
    }

    @Test func aForeignDomainIsNeverTouchedEvenWhenItsNameIsWanted() async throws {
        let lab = try LibvirtLab()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let foreign = lab.prefix + "-foreign"
        let xml = FileManager.default.temporaryDirectory.appendingPathComponent("\(foreign).xml").path
        defer { try? FileManager.default.removeItem(atPath: xml) }
        try """
            <domain type='qemu'><name>\(foreign)</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
            <os><type arch='x86_64'>hvm</type><boot dev='network'/></os></domain>
            """.write(toFile: xml, atomically: true, encoding: .utf8)
        try lab.virsh("define", xml)
        let before = try lab.virsh("dumpxml", "--inactive", foreign)

        // Beside our VM, and after it is removed: untouched.
        let ours = try await run(try desired(lab))
        #expect(ours.status == .converged, "\(ours.outcomes)")
        let removed = try await run(try desired(lab, present: false), allowPrune: true)
        #expect(removed.status == .converged, "\(removed.outcomes) \(removed.error ?? "")")
        // Its name wanted by a VM: a conflict, shown in the plan, the VM fails, the domain stays.
        let plan = try await run(try desired(lab, name: foreign), dryRun: true)
        #expect(plan.outcomes.last?.error?.hasPrefix("a domain named \(foreign) exists on qemu:///system and is not managed by reconcile; run with --adopt") == true)
        let conflict = try await run(try desired(lab, name: foreign))
        #expect(conflict.status == .failed)
        #expect(try lab.virsh("dumpxml", "--inactive", foreign) == before)
        #expect(try lab.virsh("domstate", foreign).hasPrefix("shut off"))
    }

    /// A running guest defined by hand (a file disk, a bridge NIC), taken over with --adopt:
    /// its metadata is added to the running domain and to its stored definition, no restart.
    @Test func aHandDefinedGuestIsAdoptedLiveWithoutARestart() async throws {
        let lab = try LibvirtLab()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let name = lab.prefix + "-seed"
        try lab.virsh("vol-create-as", lab.pool, "\(name).qcow2", "64M", "--format", "qcow2")
        let disk = try lab.virsh("vol-path", "--pool", lab.pool, "\(name).qcow2").trimmingCharacters(in: .whitespacesAndNewlines)
        let xml = FileManager.default.temporaryDirectory.appendingPathComponent("\(name).xml").path
        defer { try? FileManager.default.removeItem(atPath: xml) }
        try """
            <domain type='qemu'><name>\(name)</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
            <os><type arch='x86_64'>hvm</type><boot dev='network'/></os>
            <devices>
              <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='\(disk)'/><target dev='vda' bus='virtio'/></disk>
              <interface type='bridge'><mac address='00:25:22:77:00:09'/><source bridge='\(lab.bridge)'/><model type='virtio'/></interface>
              <graphics type='vnc'/>
            </devices></domain>
            """.write(toFile: xml, atomically: true, encoding: .utf8)
        try lab.virsh("define", xml)
        try lab.virsh("start", name)
        try lab.virsh("autostart", name)
        let domainID = try lab.virsh("domid", name)
        let desired = try desiredState(labHeader(lab) + """
            kind: VirtualMachine
            name: \(name)
            host: hv1
            memory: 128MiB
            vcpus: 1
            disks: [{name: root, pool: \(lab.pool), size: 64MiB, volume: \(name).qcow2}]
            interfaces: [{network: lab, mac: "00:25:22:77:00:09"}]
            console: {vnc: true}
            """)
        // Not without being asked.
        let refused = try await run(desired, dryRun: true)
        #expect(refused.outcomes.first { $0.resource.name == name }?.error?.contains("run with --adopt") == true)
        // Asked: only the ownership changes.
        let dry = try await run(desired, dryRun: true, adopt: true)
        #expect(dry.outcomes.filter { $0.action != nil }.map { "\($0.resource) \($0.changes.map(\.description))" }
                == ["libvirt_domain[\(name)] [\"owner: not reconcile → reconcile (adopted, no restart)\"]"])
        let adopted = try await run(desired, adopt: true)
        #expect(adopted.status == .converged, "\(adopted.outcomes.filter { $0.outcome == .failed })")
        #expect(try lab.virsh("domid", name) == domainID)  // the same QEMU: never restarted
        #expect(try lab.virsh("dumpxml", name).contains("urn:reconcile:1") && lab.virsh("dumpxml", "--inactive", name).contains("urn:reconcile:1"))
        #expect(try await run(desired, dryRun: true).status == .noChanges)
    }
}
