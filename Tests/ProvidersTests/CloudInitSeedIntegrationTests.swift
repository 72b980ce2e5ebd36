import Basics
import DesiredState
import Engine
import Foundation
import Libvirt
import Providers
import RunLog
import Testing
import TestSupport

/// cloud-init seeds in the real libvirtd: made as ISO volumes beside the VM's disk, mounted as
/// its CD-ROM, named by their content, replaced when the content changes and removed with the VM.
@Suite(.tags(.integration), .serialized) struct CloudInitSeedIntegrationTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-seed-\(UUID().uuidString.prefix(8))")
    static let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJU/cFXE2iUqCyaA5SGrEV2Z2M1rZ3Sx8nWBizojQtG7 ops@example"

    func desired(_ lab: LibvirtLab, userData: String = "runcmd: [echo one]", present: Bool = true) throws -> DesiredState {
        try desiredState(labHeader(lab).replacingOccurrences(of: "cidr: 10.77.0.0/24", with: "cidr: 10.77.0.0/24\ngateway: 10.77.0.1\ndns: [10.77.0.1]") + (present ? """
            kind: VirtualMachine
            name: \(lab.prefix)-vm
            host: hv1
            memory: 128MiB
            vcpus: 1
            state: stopped
            disks: [{name: root, pool: \(lab.pool), size: 64MiB}]
            interfaces: [{network: lab, mac: "00:25:22:77:00:31", ip: 10.77.0.31}]
            cloudInit:
              userData: |
                #cloud-config
                \(userData)
              sshAuthorizedKeys: ["\(Self.key)"]
            """ : ""))
    }

    func run(_ desired: DesiredState, dryRun: Bool = false, allowPrune: Bool = false) async throws -> RunReport {
        let options = LibvirtProvider.Options(shutdownTimeout: .seconds(3), progress: { _ in })
        return try await Reconciler(node: "hv1", providers: [LibvirtProvider(host: desired.hosts[0], options: options)],
                                    recorder: try RunLog(stateDirectory: root.appendingPathComponent("state").path))
            .run(desired, revision: "test", options: .init(dryRun: dryRun, pruneGuard: PruneGuard(allowPrune: allowPrune)))
    }

    /// The seed volumes of the lab's pool.
    func seeds(_ lab: LibvirtLab) throws -> [String] {
        (try Connection(uri: lab.uri).volumes(pool: lab.pool) ?? []).map(\.name).filter { $0.contains("-cidata-") }.sorted()
    }

    /// The files of a seed volume, read back with xorriso, and its volume label.
    func contents(_ lab: LibvirtLab, _ volume: String) throws -> (label: String, files: [String: String]) {
        let iso = root.appendingPathComponent(volume).path, out = root.appendingPathComponent("\(volume).d").path
        try lab.virsh("vol-download", "--pool", lab.pool, volume, iso)
        try CommandRunner().run(["xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/", out])
        let label = try CommandRunner().run(["xorriso", "-indev", iso, "-pvd_info"])
        var files: [String: String] = [:]
        for name in ["meta-data", "user-data", "network-config"] {
            files[name] = try String(contentsOfFile: out + "/" + name, encoding: .utf8)
        }
        return (label, files)
    }

    @Test func aSeedIsMadeMountedReplacedWhenItChangesAndRemovedWithTheVM() async throws {
        let lab = try LibvirtLab()
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let vm = "\(lab.prefix)-vm", domain = "libvirt_domain[\(vm)]"

        let first = try await run(try desired(lab))
        #expect(first.status == .converged, "\(first.outcomes.filter { $0.outcome == .failed })")
        let seed = try #require(try seeds(lab).first)
        #expect(try seeds(lab).count == 1 && seed.hasPrefix("\(vm)-cidata-") && seed.hasSuffix(".iso"))
        #expect(try lab.virsh("dumpxml", vm).contains("<source pool='\(lab.pool)' volume='\(seed)'/>"))
        let (label, files) = try contents(lab, seed)
        #expect(label.contains("Volume Id    : cidata"), "\(label)")
        #expect(files["user-data"] == "#cloud-config\nruncmd: [echo one]\n")
        let instance = seed.replacingOccurrences(of: "-cidata-", with: "-").replacingOccurrences(of: ".iso", with: "")
        #expect(files["meta-data"] == "{\"instance-id\":\"\(instance)\",\"local-hostname\":\"\(vm)\",\"public-keys\":[\"\(Self.key)\"]}\n")
        #expect(files["network-config"] == """
            {"ethernets":{"eth0":{"addresses":["10.77.0.31/24"],"match":{"macaddress":"00:25:22:77:00:31"},\
            "nameservers":{"addresses":["10.77.0.1"]},"routes":[{"to":"0.0.0.0/0","via":"10.77.0.1"}],"set-name":"eth0"}},"version":2}

            """)
        #expect(try await run(try desired(lab), dryRun: true).status == .noChanges)

        // New user data: a new seed (and instance id), shown as the part that changed; the old seed goes.
        let changed = try await run(try desired(lab, userData: "runcmd: [echo two]"), dryRun: true)
        let shown = changed.outcomes.first { $0.resource.description == domain }?.changes.map(\.description) ?? []
        #expect(shown.count == 1 && shown[0].hasPrefix("cloudInit.userData: sha256:") && shown[0].hasSuffix("(takes effect at next boot)"), "\(shown)")
        #expect(try await run(try desired(lab, userData: "runcmd: [echo two]")).status == .converged)
        let second = try #require(try seeds(lab).first)
        #expect(try seeds(lab) == [second] && second != seed)
        #expect(try contents(lab, second).files["user-data"] == "#cloud-config\nruncmd: [echo two]\n")

        // A seed deleted by hand is made again.
        try lab.virsh("vol-delete", "--pool", lab.pool, second)
        let missing = try await run(try desired(lab, userData: "runcmd: [echo two]"), dryRun: true)
        #expect(missing.outcomes.first { $0.resource.description == domain }?.changes.map(\.description)
                == ["cloudInit.seed: missing → \(lab.pool)/\(second) (made again)"])
        #expect(try await run(try desired(lab, userData: "runcmd: [echo two]")).status == .converged)
        #expect(try seeds(lab) == [second])

        // The VM goes: its seed with it (even one already deleted by hand); its disk stays (no deleteDisks).
        try lab.virsh("vol-delete", "--pool", lab.pool, second)
        let removed = try await run(try desired(lab, present: false), allowPrune: true)
        #expect(removed.status == .converged, "\(removed.outcomes.filter { $0.outcome == .failed })")
        #expect(try seeds(lab).isEmpty)
        #expect(try Connection(uri: lab.uri).volumes(pool: lab.pool)?.map(\.name) == ["\(vm)-root"])
    }
}
