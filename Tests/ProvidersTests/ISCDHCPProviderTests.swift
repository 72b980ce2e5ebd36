import DesiredState
import Engine
import Foundation
import Providers
import Testing

/// The DHCP provider against real files and a real `dhcpd -t`.
@Suite struct ISCDHCPProviderTests {
    static let cpro0007 = DHCPFixture.vm("cpro0007", mac: "00:25:22:BD:D1:20", ip: "10.0.0.7", uuid: "3ea808bd-5ef0-4227-a617-f5b0694e408c")

    @Test func firstRunWritesTheFileAddsTheIncludeAndRestartsOnce() async throws {
        let fixture = try DHCPFixture()
        try fixture.declare(DHCPFixture.network() + Self.cpro0007
            + "kind: DHCPHost\nname: printer01\nnetwork: private\nmac: 00:25:22:bd:d1:21\nip: 10.0.0.200\n")
        let configBefore = try String(contentsOfFile: fixture.config, encoding: .utf8)

        let dry = try await fixture.run(dryRun: true)
        #expect(dry.status == .changesPending && dry.counts.wouldUpdate == 3)
        #expect(!FileManager.default.fileExists(atPath: fixture.hostsFile) && fixture.restarts == 0)

        let report = try await fixture.run()
        #expect(report.status == .converged)
        #expect(report.outcomes.map(\.resource.description) == [
            "dhcp_host[cpro0007]", "dhcp_host[printer01]",
            "dhcpd_include[\(fixture.config)]", "service[dhcpd]",
        ])
        let hosts = try String(contentsOfFile: fixture.hostsFile, encoding: .utf8)
        #expect(hosts.contains("host cpro0007 {\n    hardware ethernet 00:25:22:bd:d1:20;\n    fixed-address 10.0.0.7;\n    option host-name \"cpro0007\";\n}"))
        let config = try String(contentsOfFile: fixture.config, encoding: .utf8)
        #expect(config.hasPrefix(configBefore))
        #expect(config.hasSuffix("include \"\(fixture.hostsFile)\";\n"))
        #expect(fixture.restarts == 1)
    }

    @Test func aNoOpRunTouchesNothingAndDoesNotRestart() async throws {
        let fixture = try DHCPFixture()
        try fixture.declare(DHCPFixture.network() + Self.cpro0007)
        _ = try await fixture.run()
        // A rewrite (reconcile writes files by rename) gives the file a new inode; an in-place
        // write a new modification time, to the nanosecond.
        func identity(_ path: String) -> [Int] {
            var info = stat()
            guard stat(path, &info) == 0 else { return [] }
            return [Int(info.st_ino), info.st_mtim.tv_sec, info.st_mtim.tv_nsec, Int(info.st_ctim.tv_sec), info.st_ctim.tv_nsec]
        }
        let before = identity(fixture.hostsFile)
        let config = try String(contentsOfFile: fixture.config, encoding: .utf8)

        let second = try await fixture.run()
        #expect(second.status == .converged && second.counts.unchanged == 2 && second.counts.updated == 0)
        #expect(!before.isEmpty && identity(fixture.hostsFile) == before)
        #expect(try String(contentsOfFile: fixture.config, encoding: .utf8) == config)
        #expect(fixture.restarts == 1)
    }

    @Test func changesAndRemovalsArePerReservation() async throws {
        let fixture = try DHCPFixture()
        let other = DHCPFixture.vm("cpro0051", mac: "00:25:22:bd:d1:33", ip: "10.0.0.51")
        let third = DHCPFixture.vm("cpro0052", mac: "00:25:22:bd:d1:34", ip: "10.0.0.52")
        try fixture.declare(DHCPFixture.network() + Self.cpro0007 + other + third)
        _ = try await fixture.run()

        try fixture.declare(DHCPFixture.network() + Self.cpro0007.replacingOccurrences(of: "10.0.0.7", with: "10.0.0.8") + other)
        let plan = Plan(try await fixture.provider().plan(try fixture.desired(), owned: []))
        #expect(PlanRenderer(color: false).render(plan) == """
            - dhcp_host[cpro0052]  00:25:22:bd:d1:34 → 10.0.0.52 (cpro0052)
            ~ dhcp_host[cpro0007]
                fixed-address: 10.0.0.7 → 10.0.0.8
            ~ service[dhcpd]  runs at the end: notified by 2 resources
            Plan: 0 to add, 1 to change, 1 to remove, 2 unchanged.
            """)
        let report = try await fixture.run()
        #expect(report.status == .converged && fixture.restarts == 2)
        let hosts = try String(contentsOfFile: fixture.hostsFile, encoding: .utf8)
        #expect(hosts.contains("fixed-address 10.0.0.8;") && !hosts.contains("cpro0052"))
    }

    @Test func aBlockNamedAfterTheVMsUUIDIsRenamedNotRemovedAndAddedAgain() async throws {
        let fixture = try DHCPFixture()
        try fixture.declare(DHCPFixture.network() + Self.cpro0007)
        _ = try await fixture.run()
        // As an earlier version wrote it: the VM's block named after its uuid.
        let hosts = try String(contentsOfFile: fixture.hostsFile, encoding: .utf8)
        try hosts.replacingOccurrences(of: "host cpro0007 {", with: "host 3ea808bd-5ef0-4227-a617-f5b0694e408c {")
            .write(toFile: fixture.hostsFile, atomically: true, encoding: .utf8)
        let plan = Plan(try await fixture.provider().plan(try fixture.desired(), owned: [ResourceID("dhcp_host", "3ea808bd-5ef0-4227-a617-f5b0694e408c")]))
        #expect(PlanRenderer(color: false).render(plan) == """
            ~ dhcp_host[cpro0007]
                host block: 3ea808bd-5ef0-4227-a617-f5b0694e408c → cpro0007
            ~ service[dhcpd]  runs at the end: notified by 1 resource
            Plan: 0 to add, 1 to change, 0 to remove, 1 unchanged.
            """)
        #expect(try await fixture.run().status == .converged)
        #expect(try String(contentsOfFile: fixture.hostsFile, encoding: .utf8) == hosts)
    }

    @Test func aHostDeclaredElsewhereThatCollidesIsAPlanError() async throws {
        let fixture = try DHCPFixture(extraConfig: "include \"\(FileManager.default.temporaryDirectory.path)/none.conf\";\nhost legacy {\n  hardware ethernet 00:25:22:bd:d1:20;\n  fixed-address 10.0.0.99;\n}\n")
        try fixture.declare(DHCPFixture.network() + Self.cpro0007)
        let report = try await fixture.run()
        #expect(report.status == .failed)
        let outcome = try #require(report.outcomes.first { $0.resource.type == "dhcp_host" })
        #expect(outcome.outcome == .failed)
        #expect(outcome.error == "host cpro0007 declared at \(fixture.root.path)/desired/all.yaml:12:1 collides with host legacy at \(fixture.config):4 (same MAC 00:25:22:bd:d1:20)")
        #expect(!FileManager.default.fileExists(atPath: fixture.hostsFile))
    }

    @Test func aCandidateDhcpdRejectsNeverReachesTheLiveFile() async throws {
        let fixture = try DHCPFixture()
        try fixture.declare(DHCPFixture.network() + Self.cpro0007)
        _ = try await fixture.run()
        let live = try String(contentsOfFile: fixture.hostsFile, encoding: .utf8)
        // The operator breaks dhcpd.conf; the next change cannot pass `dhcpd -t`.
        try (try String(contentsOfFile: fixture.config, encoding: .utf8) + "option broken\n").write(toFile: fixture.config, atomically: true, encoding: .utf8)
        try fixture.declare(DHCPFixture.network() + Self.cpro0007.replacingOccurrences(of: "10.0.0.7", with: "10.0.0.8"))

        let report = try await fixture.run()
        #expect(report.status == .failed)
        let error = try #require(report.outcomes.first { $0.resource.type == "dhcp_host" }?.error)
        #expect(error.hasPrefix("dhcpd -t rejected the candidate hosts file: "))
        #expect(error.contains("line "))
        #expect(try String(contentsOfFile: fixture.hostsFile, encoding: .utf8) == live)
        #expect(fixture.restarts == 1)
    }

    @Test func aRestartThatFailsRestoresThePreviousFile() async throws {
        let fixture = try DHCPFixture()
        try fixture.declare(DHCPFixture.network() + Self.cpro0007)
        _ = try await fixture.run()
        let live = try String(contentsOfFile: fixture.hostsFile, encoding: .utf8)
        // A restart that fails while the new file is in place, as dhcpd would on a bad reservation.
        fixture.restart = ["sh", "-c", "grep -q 10.0.0.8 \(fixture.hostsFile) && echo 'dhcpd: no subnet for 10.0.0.8' >&2 && exit 1; echo ok >> \(fixture.restartLog)"]
        try fixture.declare(DHCPFixture.network() + Self.cpro0007.replacingOccurrences(of: "10.0.0.7", with: "10.0.0.8"))

        let report = try await fixture.run()
        #expect(report.status == .failed)
        let handler = try #require(report.outcomes.last)
        #expect(handler.resource == ISCDHCPProvider.service && handler.outcome == .failed)
        #expect(handler.error == "dhcpd did not start (sh -c \(fixture.restart[2]) exited 1): dhcpd: no subnet for 10.0.0.8; restored the previous hosts file and restarted dhcpd")
        #expect(try String(contentsOfFile: fixture.hostsFile, encoding: .utf8) == live)
        #expect(fixture.restarts == 2)
    }
}

/// Ownership of the hosts file, and reads that fail closed.
@Suite struct DHCPHostsFileSafetyTests {
    @Test func aFileNotWrittenByReconcileIsNotReplacedUnlessAdopted() async throws {
        let fixture = try DHCPFixture()
        try fixture.declare(DHCPFixture.network() + ISCDHCPProviderTests.cpro0007)
        let foreign = "# hand-made\nhost printer { hardware ethernet 00:25:22:bd:d1:99; fixed-address 10.0.0.99; }\n"
        try foreign.write(toFile: fixture.hostsFile, atomically: true, encoding: .utf8)

        let refused = try await fixture.run()
        #expect(refused.status == .failed)
        #expect(refused.outcomes.allSatisfy { $0.action != .delete })  // its blocks are not ours to plan away
        let conflict = try #require(refused.outcomes.first { $0.resource.type == ISCDHCPProvider.hostsFileType }?.error)
        #expect(conflict.contains("was not written by reconcile") && conflict.contains("--adopt"))
        #expect(try String(contentsOfFile: fixture.hostsFile, encoding: .utf8) == foreign)
        #expect(fixture.restarts == 0)

        let provider = ISCDHCPProvider(host: try fixture.desired().hosts[0], adopt: true)
        let reconciler = Reconciler(node: "dhcp1", providers: [provider], recorder: fixture.log)
        let adopted = try await reconciler.run(try fixture.desired(), revision: "test", options: .init(dryRun: false, pruneGuard: PruneGuard(allowPrune: true)))
        #expect(adopted.status == .converged)
        #expect(adopted.outcomes.first { $0.resource.type == ISCDHCPProvider.hostsFileType }?.changes.first?.description
                == "owner: not reconcile (1 host blocks) → reconcile (adopted)")
        #expect(try String(contentsOfFile: fixture.hostsFile, encoding: .utf8).hasPrefix("# Generated by reconcile."))
    }

    @Test func theHostsFileCannotBeTheConfigFile() throws {
        let fixture = try DHCPFixture()
        let yaml = "kind: Host\nname: dhcp1\nroles: [dhcp]\ndhcp: {config: /etc/dhcp/dhcpd.conf, hostsFile: /etc/dhcp/dhcpd.conf}\n"
        try yaml.write(to: fixture.root.appendingPathComponent("desired/all.yaml"), atomically: true, encoding: .utf8)
        #expect(throws: InvalidDesiredState.self) { try fixture.desired() }
    }

    @Test func anUnreadableIncludeOrHostsFileStopsThePlan() async throws {
        let fixture = try DHCPFixture(extraConfig: "include \"/\";\n")  // a directory: not readable as a file
        try fixture.declare(DHCPFixture.network() + ISCDHCPProviderTests.cpro0007)
        let report = try await fixture.run()
        #expect(report.status == .failed && report.error?.contains("cannot read live state") == true)

        let other = try DHCPFixture()
        try other.declare(DHCPFixture.network() + ISCDHCPProviderTests.cpro0007)
        try FileManager.default.createDirectory(atPath: other.hostsFile, withIntermediateDirectories: true)
        let second = try await other.run()
        #expect(second.status == .failed && second.error?.contains("cannot read live state") == true)
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: other.hostsFile, isDirectory: &isDirectory) && isDirectory.boolValue)
    }

    @Test func aDoubledIncludeLineIsDriftAndRemoved() async throws {
        let fixture = try DHCPFixture()
        try fixture.declare(DHCPFixture.network() + ISCDHCPProviderTests.cpro0007)
        _ = try await fixture.run()
        let config = try String(contentsOfFile: fixture.config, encoding: .utf8)
        try (config + "\n" + ISCDHCPProvider.includeComment + "\ninclude \"\(fixture.hostsFile)\";\n").write(toFile: fixture.config, atomically: true, encoding: .utf8)
        let dry = try await fixture.run(dryRun: true)
        #expect(dry.outcomes.first { $0.resource.type == ISCDHCPProvider.includeType }?.changes.first?.description == "include lines: 2 → 1")
        let fixed = try await fixture.run()
        #expect(fixed.status == .converged, "\(fixed.outcomes.compactMap(\.error))")
        #expect(try String(contentsOfFile: fixture.config, encoding: .utf8).trimmingCharacters(in: .newlines) == config.trimmingCharacters(in: .newlines))
    }

    @Test func aForeignHostWithTheSameMACWrittenShortIsAClash() async throws {
        let fixture = try DHCPFixture(extraConfig: "host old { hardware ethernet 0:25:22:BD:D1:20; fixed-address 10.0.0.50; }\n")
        try fixture.declare(DHCPFixture.network() + ISCDHCPProviderTests.cpro0007)
        let report = try await fixture.run(dryRun: true)
        #expect(report.outcomes.first { $0.outcome == .failed }?.error?.contains("(same MAC 00:25:22:bd:d1:20)") == true)
    }
}
