import DesiredState
import Engine
import Foundation
import Providers
import Basics
import Testing
import TestSupport

/// A real dhcpd in one namespace serves reservations reconcile wrote; a real dhclient in
/// another asks with a VM's MAC.
@Suite(.tags(.integration), .serialized) struct DHCPIntegrationTests {
    static let mac = "00:25:22:bd:d1:20"

    /// Asks for a lease once with `mac`; returns "ip hostname", or nil when nothing was offered.
    /// A dhcpd namespace and a client namespace on one link; the server side is addressed.
    struct Setup {
        var lab = NetworkLab()
        var server = "", client = "", serverInterface = "", clientInterface = ""

        init(serverAddress: String) throws {
            server = try lab.namespace("srv")
            client = try lab.namespace("cli")
            (serverInterface, clientInterface) = try lab.link((server, "s", serverAddress), (client, "c", nil))
        }
    }

    static func lease(in lab: Setup, mac: String, directory: URL) throws -> String? {
        try NetworkLab.ip("-n", lab.client, "link", "set", lab.clientInterface, "address", mac)
        let hook = directory.appendingPathComponent("hook.sh").path
        let bound = directory.appendingPathComponent("bound").path
        let config = directory.appendingPathComponent("dhclient.conf").path
        let pidFile = directory.appendingPathComponent("dhclient.pid").path
        try? FileManager.default.removeItem(atPath: bound)
        try writeScript("#!/bin/sh\ncase \"$reason\" in BOUND) echo \"$new_ip_address $new_host_name\" > \(bound) ;; esac\n", to: hook)
        try "timeout 6;\nretry 1;\n".write(toFile: config, atomically: true, encoding: .utf8)
        let leases = directory.appendingPathComponent("dhclient-\(UUID().uuidString).leases").path
        _ = try? lab.lab.exec(lab.client, "dhclient", "-4", "-1", "-cf", config, "-lf", leases, "-pf", pidFile, "-sf", hook, lab.clientInterface)
        // On success dhclient stays in the background to renew: stop it, by its pid.
        if let pid = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap({ Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) {
            kill(pid, SIGTERM)
            try? FileManager.default.removeItem(atPath: pidFile)
        }
        return (try? String(contentsOfFile: bound, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The first lease offered within a minute (dhcpd answers once it has forked and bound).
    static func firstLease(in lab: Setup, mac: String, directory: URL) -> String? {
        var lease: String?
        waitUntil(60) {
            lease = try? Self.lease(in: lab, mac: mac, directory: directory)
            return lease != nil
        }
        return lease
    }

    /// A restart script for dhcpd inside the server namespace: stop the old one by its pid
    /// file, start a new one (it exits non-zero when its configuration is bad).
    static func restartScript(_ fixture: DHCPFixture, interface: String) throws -> [String] {
        let script = fixture.root.appendingPathComponent("restart-dhcpd.sh").path
        let pidFile = fixture.root.appendingPathComponent("dhcpd.pid").path
        let leases = fixture.root.appendingPathComponent("dhcpd.leases").path
        try writeScript("""
            #!/bin/sh
            echo restarted >> \(fixture.restartLog)
            if [ -s \(pidFile) ]; then kill $(cat \(pidFile)) 2>/dev/null; sleep 0.3; rm -f \(pidFile); fi
            touch \(leases)
            exec dhcpd -4 -q -cf \(fixture.config) -lf \(leases) -pf \(pidFile) \(interface)

            """, to: script)
        return [script]
    }

    @Test func aClientGetsItsReservationThenTheNewOneThenNone() async throws {
        let lab = try Setup(serverAddress: "10.77.0.1/24")
        let fixture = try DHCPFixture(subnet: "10.77.0.0 netmask 255.255.255.0")
        fixture.netns = lab.server
        fixture.restart = try Self.restartScript(fixture, interface: lab.serverInterface)
        let vm = { (ip: String) in DHCPFixture.vm("cpro0007", mac: Self.mac, ip: ip, uuid: "3ea808bd-5ef0-4227-a617-f5b0694e408c") }
        let other = DHCPFixture.vm("cpro0051", mac: "00:25:22:bd:d1:99", ip: "10.77.0.51")

        try fixture.declare(DHCPFixture.network("10.77.0.0/24") + vm("10.77.0.7") + other)
        #expect(try await fixture.run().status == .converged)
        #expect(try Self.lease(in: lab, mac: Self.mac, directory: fixture.root) == "10.77.0.7 cpro0007")

        try fixture.declare(DHCPFixture.network("10.77.0.0/24") + vm("10.77.0.8") + other)
        #expect(try await fixture.run().status == .converged)
        #expect(try Self.lease(in: lab, mac: Self.mac, directory: fixture.root) == "10.77.0.8 cpro0007")

        // Removing the VM removes its reservation; the subnet has no range, so nothing is offered.
        try fixture.declare(DHCPFixture.network("10.77.0.0/24") + other)
        #expect(try await fixture.run().status == .converged)
        #expect(try Self.lease(in: lab, mac: Self.mac, directory: fixture.root) == nil)
    }

    /// Host blocks rendered by a template into a file dhcpd.conf includes, as the seed did.
    @Test func adoptedHostBlocksMoveIntoReconcilesFileAndTheClientKeepsItsAddress() async throws {
        let lab = try Setup(serverAddress: "10.79.0.1/24")
        let seedHosts = FileManager.default.temporaryDirectory.appendingPathComponent("seed-hosts-\(UUID().uuidString).conf").path
        defer { try? FileManager.default.removeItem(atPath: seedHosts) }
        let fixture = try DHCPFixture(subnet: "10.79.0.0 netmask 255.255.255.0", extraConfig: "include \"\(seedHosts)\";\n")
        fixture.netns = lab.server
        fixture.restart = try Self.restartScript(fixture, interface: lab.serverInterface)
        let other = "# legacy\nhost legacy { hardware ethernet 00:25:22:bd:d1:99; fixed-address 10.79.0.99; }\n"
        let seed = "# cpro0007\nhost 3ea808bd-5ef0-4227-a617-f5b0694e408c {\n    hardware ethernet \(Self.mac.uppercased());\n"
            + "    fixed-address 10.79.0.7;\n    option host-name \"cpro0007\";\n}\n" + other
        try seed.write(toFile: seedHosts, atomically: true, encoding: .utf8)
        _ = try await CommandRunner(netns: lab.server).output(fixture.restart)  // the hand-run dhcpd
        let before = Self.firstLease(in: lab, mac: Self.mac, directory: fixture.root)
        #expect(before == "10.79.0.7 cpro0007")

        try fixture.declare(DHCPFixture.network("10.79.0.0/24") + DHCPFixture.vm("cpro0007", mac: Self.mac, ip: "10.79.0.7"))
        let refused = try await fixture.run(dryRun: true)
        #expect(refused.outcomes.first { $0.resource.name == "cpro0007" }?.error?.contains("collides with host 3ea808bd") == true)
        let dry = try await fixture.run(dryRun: true, adopt: true)
        let planned = dry.outcomes.first { $0.resource.name == "cpro0007" }
        #expect(planned?.error == nil && planned?.changes.map(\.description) == ["host block: 3ea808bd-5ef0-4227-a617-f5b0694e408c at \(seedHosts):2 (hand-made) → \(fixture.hostsFile) (adopted)"],
                "\(planned?.changes.map(\.description) ?? []) \(planned?.error ?? "")")

        let report = try await fixture.run(adopt: true)
        #expect(report.status == .converged, "\(report.outcomes.filter { $0.outcome == .failed })")
        // The block left its file, every other line kept byte for byte; a backup beside it.
        #expect(try String(contentsOfFile: seedHosts, encoding: .utf8) == "# cpro0007\n" + other)
        let backups = try FileManager.default.contentsOfDirectory(atPath: (seedHosts as NSString).deletingLastPathComponent)
            .filter { $0.hasPrefix((seedHosts as NSString).lastPathComponent + ".reconcile-backup-") }
        #expect(backups.count == 1)
        for backup in backups {
            let path = (seedHosts as NSString).deletingLastPathComponent + "/" + backup
            #expect(try String(contentsOfFile: path, encoding: .utf8) == seed)
            try? FileManager.default.removeItem(atPath: path)
        }
        #expect(try String(contentsOfFile: fixture.hostsFile, encoding: .utf8).contains("hardware ethernet \(Self.mac);"))
        let after = Self.firstLease(in: lab, mac: Self.mac, directory: fixture.root)
        #expect(after == "10.79.0.7 cpro0007")
        #expect(try await fixture.run(dryRun: true, adopt: true).status == .noChanges)
    }

    /// Host blocks written straight into dhcpd.conf, as Locaweb's template did, one of them a
    /// printer whose host-name is a VM's: both move out in one change, one restart, same lease.
    @Test func hostBlocksInDhcpdConfItselfMoveOutAndTheClientKeepsItsAddress() async throws {
        let lab = try Setup(serverAddress: "10.81.0.1/24")
        let blocks = "host 3ea808bd-5ef0-4227-a617-f5b0694e408c {\n  hardware ethernet \(Self.mac);\n  fixed-address 10.81.0.7;\n  option host-name \"cpro0007\";\n}\n"
            + "host printer { hardware ethernet 00:25:22:bd:d1:98; fixed-address 10.81.0.200; option host-name \"cpro0007\"; }\n"
        let fixture = try DHCPFixture(subnet: "10.81.0.0 netmask 255.255.255.0", extraConfig: "# rendered by the template\n" + blocks + "# end\n")
        let kept = "authoritative;\nsubnet 10.81.0.0 netmask 255.255.255.0 { }\n# rendered by the template\n# end\n"
        fixture.netns = lab.server
        fixture.restart = try Self.restartScript(fixture, interface: lab.serverInterface)
        _ = try await CommandRunner(netns: lab.server).output(fixture.restart)  // the hand-run dhcpd
        let before = Self.firstLease(in: lab, mac: Self.mac, directory: fixture.root)
        #expect(before == "10.81.0.7 cpro0007")

        let printer = "kind: DHCPHost\nname: printer\nnetwork: private\nmac: \"00:25:22:bd:d1:98\"\nip: 10.81.0.200\nhostname: cpro0007\n"
        try fixture.declare(DHCPFixture.network("10.81.0.0/24") + DHCPFixture.vm("cpro0007", mac: Self.mac, ip: "10.81.0.7") + printer)
        let dry = try await fixture.run(dryRun: true, adopt: true)
        for (name, line) in [("cpro0007", 4), ("printer", 9)] {
            let planned = dry.outcomes.first { $0.resource.name == name }
            let block = name == "printer" ? "printer" : "3ea808bd-5ef0-4227-a617-f5b0694e408c"
            #expect(planned?.changes.map(\.description) == ["host block: \(block) at \(fixture.config):\(line) (hand-made) → \(fixture.hostsFile) (adopted)"],
                    "\(planned?.changes.map(\.description) ?? []) \(planned?.error ?? "")")
        }
        #expect(try String(contentsOfFile: fixture.config, encoding: .utf8).contains(blocks), "a dry run changes nothing")

        let restartsBefore = fixture.restarts
        let report = try await fixture.run(adopt: true)
        #expect(report.status == .converged, "\(report.outcomes.filter { $0.outcome == .failed })")
        #expect(fixture.restarts == restartsBefore + 1, "one restart")
        // Every other byte of dhcpd.conf kept, the include line after them; both blocks served from ours.
        let config = try String(contentsOfFile: fixture.config, encoding: .utf8)
        #expect(config.hasPrefix(kept) && config.hasSuffix("include \"\(fixture.hostsFile)\";\n") && !config.contains("hardware ethernet"), "\(config)")
        let hosts = try String(contentsOfFile: fixture.hostsFile, encoding: .utf8)
        #expect(hosts.contains("hardware ethernet \(Self.mac);") && hosts.contains("hardware ethernet 00:25:22:bd:d1:98;"), "\(hosts)")
        let after = Self.firstLease(in: lab, mac: Self.mac, directory: fixture.root)
        #expect(after == "10.81.0.7 cpro0007")
        #expect(try await fixture.run(dryRun: true, adopt: true).status == .noChanges)
        for backup in try FileManager.default.contentsOfDirectory(atPath: fixture.root.path) where backup.hasPrefix("dhcpd.conf.reconcile-backup-") {
            #expect(try String(contentsOfFile: fixture.root.appendingPathComponent(backup).path, encoding: .utf8).contains(blocks))
        }
    }

    @Test func aRejectedCandidateKeepsTheOldReservationsServed() async throws {
        let lab = try Setup(serverAddress: "10.78.0.1/24")
        let fixture = try DHCPFixture(subnet: "10.78.0.0 netmask 255.255.255.0")
        fixture.netns = lab.server
        fixture.restart = try Self.restartScript(fixture, interface: lab.serverInterface)
        try fixture.declare(DHCPFixture.network("10.78.0.0/24") + DHCPFixture.vm("cpro0007", mac: Self.mac, ip: "10.78.0.7"))
        #expect(try await fixture.run().status == .converged)

        try (try String(contentsOfFile: fixture.config, encoding: .utf8) + "option broken\n").write(toFile: fixture.config, atomically: true, encoding: .utf8)
        try fixture.declare(DHCPFixture.network("10.78.0.0/24") + DHCPFixture.vm("cpro0007", mac: Self.mac, ip: "10.78.0.8"))
        let report = try await fixture.run()
        #expect(report.status == .failed)
        #expect(try Self.lease(in: lab, mac: Self.mac, directory: fixture.root) == "10.78.0.7 cpro0007")
    }
}
