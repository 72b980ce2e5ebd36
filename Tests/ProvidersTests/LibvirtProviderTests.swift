import DesiredState
import Engine
import Foundation
import Libvirt
import Providers
import RunLog
import Testing

/// The VM provider against libvirt's test driver (real API, state private to this process,
/// kept while a connection is open: each test holds one for its whole length).
@Suite(.serialized) struct LibvirtProviderTests {
    let name = "rctest-\(UUID().uuidString.prefix(8).lowercased())"
    let state = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-libvirt-\(UUID().uuidString)").path

    func desired(
        memory: String = "128MiB", vmState: String = "running", pool: String = "default-pool", vms: Bool = true, extra: String = "",
        attachment: String = "libvirtNetwork: default", moreDevices: Bool = false
    ) throws -> DesiredState {
        try desiredState("""
            kind: Host
            name: hv1
            roles: [hypervisor]
            libvirt: test:///default
            ---
            kind: Network
            name: nat
            cidr: 10.1.0.0/24
            \(attachment)
            ---
            \(vms ? """
            kind: VirtualMachine
            name: \(name)
            host: hv1
            memory: \(memory)
            vcpus: 1
            state: \(vmState)
            disks: [{name: root, pool: \(pool), size: 64MiB}\(moreDevices ? ", {name: data, pool: \(pool), size: 32MiB}" : "")]
            interfaces: [{network: nat, mac: "00:25:22:bd:d1:20"}\(moreDevices ? ", {network: nat, mac: \"00:25:22:bd:d1:2a\"}" : "")]
            \(extra)
            """ : "")
            """)
    }

    func run(_ desired: DesiredState, dryRun: Bool = false, allowPrune: Bool = false, allowRestart: Bool = false) async throws -> RunReport {
        let log = try RunLog(stateDirectory: state)
        let options = LibvirtProvider.Options(allowRestart: allowRestart, shutdownTimeout: .seconds(2))
        let reconciler = Reconciler(node: "hv1", providers: [LibvirtProvider(host: desired.hosts[0], options: options)], recorder: log)
        return try await reconciler.run(desired, revision: "test", options: .init(dryRun: dryRun, pruneGuard: PruneGuard(allowPrune: allowPrune)))
    }

    /// Removes what a test made; the test driver forgets it anyway once the last connection closes.
    func cleanUp() {
        try? FileManager.default.removeItem(atPath: state)
    }

    @Test func createsTheVolumeThenTheDomainThenNothingTheSecondTime() async throws {
        let connection = try Connection(uri: "test:///default")
        defer { cleanUp() }
        let first = try await run(try desired())
        #expect(first.status == .converged, "\(first.outcomes)")
        #expect(first.outcomes.map(\.resource.description) == ["libvirt_volume[\(name)-root]", "libvirt_domain[\(name)]"])
        let domain = try #require(try connection.domain(named: name))
        #expect(domain.state == .running && domain.autostart)
        #expect(try connection.volumes(pool: "default-pool")?.contains { $0.name == "\(name)-root" } == true)

        let second = try await run(try desired())
        #expect(second.status == .converged && second.counts.unchanged == 2 && second.counts.updated == 0)
    }

    @Test func changesAndDriftAreCorrected() async throws {
        let connection = try Connection(uri: "test:///default")
        defer { cleanUp() }
        _ = try await run(try desired())
        try connection.setAutostart(name, false)  // drift, as `virsh autostart --disable` would
        let dry = try await run(try desired(memory: "256MiB"), dryRun: true)
        #expect(dry.status == .changesPending)
        #expect(dry.outcomes.last?.changes == [PropertyChange("memory", from: "128 MiB", to: "256 MiB", note: "restart pending"),
                                               PropertyChange("autostart", from: "false", to: "true")])
        // --show-commands: the new definition as a diff against libvirt's, then the autostart.
        let changed = try desired(memory: "256MiB"), provider = LibvirtProvider(host: changed.hosts[0])
        let plan = Plan(try await provider.plan(changed, owned: try RunLog(stateDirectory: state).inventory(node: "hv1")))
        let shown = PlanRenderer(color: false).commands(PlanEffects(plan: plan, providers: [provider]))
        #expect(shown.contains("    libvirt define\n") && shown.contains("+  <memory unit='KiB'>262144</memory>")
                && shown.contains("    libvirt autostart \(name) on"), "\(shown)")
        let update = try await run(try desired(memory: "256MiB"))
        #expect(update.status == .converged, "\(update.outcomes.filter { $0.outcome == .failed })")
        #expect(try await run(try desired(memory: "256MiB", vmState: "stopped")).status == .converged)
        #expect(try connection.domain(named: name)?.state == .stopped)
        #expect(try await run(try desired(memory: "256MiB", vmState: "stopped"), dryRun: true).status == .noChanges)
    }

    @Test func interfacesAndDisksAreAddedAndRemoved() async throws {
        let connection = try Connection(uri: "test:///default")
        defer { cleanUp() }
        _ = try await run(try desired(vmState: "stopped"))
        let more = try desired(vmState: "stopped", moreDevices: true)
        let added = try await run(more)
        #expect(added.status == .converged, "\(added.outcomes)")
        #expect(added.outcomes.map(\.resource.description).contains("libvirt_volume[\(name)-data]"))
        #expect(added.outcomes.last?.changes.map(\.property) == ["interfaces", "disks"])
        let xml = try #require(try connection.domain(named: name)).xml
        #expect(xml.contains("00:25:22:bd:d1:2a") && xml.contains("volume='\(name)-data'"))
        #expect(try await run(more, dryRun: true).status == .noChanges)

        let fewer = try await run(try desired(vmState: "stopped"))
        #expect(fewer.status == .converged)
        let after = try #require(try connection.domain(named: name)).xml
        #expect(!after.contains("00:25:22:bd:d1:2a") && !after.contains("volume='\(name)-data'"))
        #expect(try connection.volumes(pool: "default-pool")?.contains { $0.name == "\(name)-data" } == true)  // kept
    }

    @Test func aChangeThatNeedsARestartWaitsUntilOneIsAllowed() async throws {
        let connection = try Connection(uri: "test:///default")
        defer { cleanUp() }
        _ = try await run(try desired())
        let stored = try await run(try desired(memory: "256MiB"))
        #expect(stored.status == .converged)
        #expect(try connection.domain(named: name)?.state == .running)  // not restarted

        // The stored definition has the new memory; the running guest does not yet.
        let waiting = try await run(try desired(memory: "256MiB"), dryRun: true)
        #expect(waiting.status == .noChanges)
        #expect(waiting.outcomes.last?.outcome == .unchanged)
        #expect(waiting.outcomes.last?.changes == [PropertyChange("memory", from: "128 MiB", to: "256 MiB", note: "restart pending")])
        let recorded = try RunLog(stateDirectory: state).run(id: try #require(waiting.id))
        #expect(recorded?.outcomes.last?.changes.first?.note == "restart pending")

        let restarted = try await run(try desired(memory: "256MiB"), allowRestart: true)
        #expect(restarted.status == .converged, "\(restarted.outcomes)")
        #expect(restarted.outcomes.last?.changes.last == PropertyChange("power", from: "running", to: "restarted", note: "graceful shutdown, then start"))
        #expect(try connection.domain(named: name)?.state == .running)
        let after = try await run(try desired(memory: "256MiB"), dryRun: true)
        #expect(after.outcomes.last?.changes == [])

        // restartPolicy: allowed on the VM does the same without the flag.
        let policy = try await run(try desired(memory: "512MiB", extra: "restartPolicy: allowed"))
        #expect(policy.status == .converged)
        #expect(try await run(try desired(memory: "512MiB", extra: "restartPolicy: allowed"), dryRun: true).outcomes.last?.changes == [])
    }

    @Test func deleteDisksRemovesTheVolumesWithTheVM() async throws {
        let connection = try Connection(uri: "test:///default")
        defer { cleanUp() }
        _ = try await run(try desired(vmState: "stopped", extra: "deleteDisks: true"))
        let plan = try await run(try desired(vms: false), dryRun: true)
        #expect(plan.outcomes.map(\.resource.description) == ["libvirt_domain[\(name)]", "libvirt_volume[\(name)-root]"])
        // The removal says what goes with the domain.
        let gone = try desired(vms: false)
        let planned = try await LibvirtProvider(host: gone.hosts[0]).plan(gone, owned: try RunLog(stateDirectory: state).inventory(node: "hv1"))
        #expect(planned.first { $0.id.type == LibvirtProvider.domainType }?.summary == "volumes \(name)-root deleted")
        let removed = try await run(try desired(vms: false), allowPrune: true)  // it is everything we own
        #expect(removed.status == .converged, "\(removed.outcomes)")
        #expect(try connection.domain(named: name) == nil)
        #expect(try connection.volumes(pool: "default-pool")?.contains { $0.name == "\(name)-root" } == false)
    }

    @Test func aForeignDomainWithTheNameIsAConflictAndUntouched() async throws {
        let connection = try Connection(uri: "test:///default")
        defer { cleanUp() }
        try connection.define(xml: "<domain type='test'><name>\(name)</name><memory>65536</memory><os><type>hvm</type></os></domain>")
        let before = try connection.domain(named: name)
        let report = try await run(try desired())
        #expect(report.status == .failed)
        #expect(report.outcomes.last?.error?.hasPrefix("a domain named \(name) exists on test:///default and is not managed by reconcile; run with --adopt") == true)
        #expect(try connection.domain(named: name) == before)
    }

    @Test func aMissingPoolIsAPlanErrorNamingIt() async throws {
        defer { cleanUp() }
        let report = try await run(try desired(pool: "rctest-nopool"))
        #expect(report.status == .failed)
        #expect(report.outcomes.first?.error == "storage pool rctest-nopool does not exist on test:///default")
        #expect(report.outcomes.last?.outcome == .skipped)
    }

    @Test func aMissingBridgeOrNetworkIsAPlanErrorNamingIt() async throws {
        defer { cleanUp() }
        for (attachment, missing) in [("bridge: rctest-nobr", "bridge rctest-nobr"), ("libvirtNetwork: rctest-nonet", "libvirt network rctest-nonet")] {
            let report = try await run(try desired(attachment: attachment), dryRun: true)
            #expect(report.outcomes.last?.error == "\(missing) does not exist on test:///default")
        }
        // The test driver's own interface is a fine bridge name.
        #expect(try await run(try desired(attachment: "bridge: eth1"), dryRun: true).outcomes.last?.error == nil)
    }

    @Test func removingARunningVMNeedsAllowPruneAndKeepsItsVolume() async throws {
        let connection = try Connection(uri: "test:///default")
        defer { cleanUp() }
        _ = try await run(try desired())
        let refused = try await run(try desired(vms: false))
        #expect(refused.status == .refused)
        #expect(try connection.domain(named: name) != nil)
        let removed = try await run(try desired(vms: false), allowPrune: true)
        #expect(removed.status == .converged)
        #expect(try connection.domain(named: name) == nil)
        #expect(try connection.volumes(pool: "default-pool")?.contains { $0.name == "\(name)-root" } == true)
    }
}
