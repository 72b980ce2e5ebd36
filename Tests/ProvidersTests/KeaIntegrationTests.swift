import Basics
import DesiredState
import Engine
import Foundation
import Providers
import RunLog
import Testing
import TestSupport

/// A real kea-dhcp4 in one namespace, serving a subnet whose reservations are reconcile's
/// file; a real dhclient in another namespace asks with a VM's MAC.
final class KeaLab {
    let setup: DHCPIntegrationTests.Setup
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-kea-\(UUID().uuidString.prefix(8))")
    var config: String { root.appendingPathComponent("kea.conf").path }
    var hostsFile: String { root.appendingPathComponent("reservations.json").path }
    var socket: String { root.appendingPathComponent("kea.sock").path }
    let prefix: String
    let log: RunLog

    /// Kea serving `prefix`.0/24 (pool .100–.150) on the server end of the link.
    init(prefix: String) throws {
        self.prefix = prefix
        setup = try DHCPIntegrationTests.Setup(serverAddress: "\(prefix).1/24")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("desired"), withIntermediateDirectories: true)
        log = try RunLog(stateDirectory: root.appendingPathComponent("state").path)
        try writeConfig()
        // What the README tells operators: Kea needs the included file to start.
        try "[]\n".write(toFile: hostsFile, atomically: true, encoding: .utf8)
        try setup.lab.spawn(setup.server, ["env", "KEA_PIDFILE_DIR=\(root.path)", "KEA_LOCKFILE_DIR=\(root.path)", "kea-dhcp4", "-c", config])
        waitUntil(60) { FileManager.default.fileExists(atPath: socket) && pid != nil }
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    /// kea-dhcp4.conf as an operator writes it, including reconcile's file in the subnet;
    /// `extra` goes into Dhcp4 as it is.
    func writeConfig(extra: String = "", leases: String? = nil) throws {
        try """
            {
              // Written by hand; reconcile only writes the file included below.
              "Dhcp4": {
                "interfaces-config": {"interfaces": ["\(setup.serverInterface)"]},
                "control-socket": {"socket-type": "unix", "socket-name": "\(socket)"},
                "lease-database": {"type": "memfile", "persist": true, "name": "\(leases ?? root.path + "/leases.csv")"},
                "valid-lifetime": 600,
                \(extra)
                "subnet4": [
                  {"id": 1, "subnet": "\(prefix).0/24", "pools": [{"pool": "\(prefix).100 - \(prefix).150"}],
                   "reservations": <?include "\(hostsFile)"?>}
                ],
                "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": "\(root.path)/kea.log"}], "severity": "INFO"}]
              }
            }

            """.write(toFile: config, atomically: true, encoding: .utf8)
    }

    /// Kea's pid, from its pid file.
    var pid: Int32? {
        (try? String(contentsOfFile: root.appendingPathComponent("kea.kea-dhcp4.pid").path, encoding: .utf8))
            .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    func host(isc: String = "") -> String {
        """
        kind: Host
        name: dhcp1
        roles: [hypervisor, dhcp]
        netns: "\(setup.server)"
        dhcp: {server: kea, config: \(config), hostsFile: \(hostsFile), controlSocket: \(socket)\(isc)}
        ---

        """
    }

    func declare(_ documents: String, host: String? = nil) throws {
        try ((host ?? self.host()) + DHCPFixture.network("\(prefix).0/24") + documents)
            .write(to: root.appendingPathComponent("desired/all.yaml"), atomically: true, encoding: .utf8)
    }

    func run(dryRun: Bool = false) async throws -> RunReport {
        let desired = try DesiredState.load(directory: root.appendingPathComponent("desired").path)
        let host = desired.hosts[0]
        let reconciler = Reconciler(node: "dhcp1", providers: [KeaProvider(host: host), ISCDHCPProvider(host: host, retiring: true)], recorder: log)
        return try await reconciler.run(desired, revision: "test", options: .init(dryRun: dryRun))
    }

    func lease(_ mac: String) throws -> String? {
        try DHCPIntegrationTests.lease(in: setup, mac: mac, directory: root)
    }

    /// Sends one command to Kea's control socket, as an operator would with socat.
    func control(_ command: String) throws -> String {
        try CommandRunner().run(["python3", "-c", """
            import json, socket, sys
            s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(json.dumps({"command": sys.argv[2]}).encode())
            print(b"".join(iter(lambda: s.recv(65536), b"")).decode())
            """, socket, command])
    }
}

@Suite(.tags(.integration), .serialized) struct KeaIntegrationTests {
    static let mac = "00:25:22:bd:d1:20"

    @Test func aReservationIsServedAndChangedByAReloadThatKeepsKeaAndItsLeases() async throws {
        let lab = try KeaLab(prefix: "10.81.0")
        let pid = try #require(lab.pid)
        let other = DHCPFixture.vm("cpro0051", mac: "00:25:22:bd:d1:99", ip: "10.81.0.51")
        let vm = { (ip: String) in DHCPFixture.vm("cpro0007", mac: Self.mac, ip: ip) + other }
        try lab.declare(vm("10.81.0.7"))
        let first = try await lab.run()
        #expect(first.status == .converged, "\(first.outcomes.filter { $0.outcome == .failed })")
        #expect(try lab.lease(Self.mac) == "10.81.0.7 cpro0007")
        let text = try String(contentsOfFile: lab.hostsFile, encoding: .utf8)
        #expect(text.hasPrefix("# Generated by reconcile."))
        #expect(text.contains(#"{"hostname":"cpro0007","hw-address":"00:25:22:bd:d1:20","ip-address":"10.81.0.7","user-context":{"comment":"cpro0007","reconcile":"cpro0007"}}"#))

        // A client with a dynamic lease from the pool.
        let dynamic = try #require(try lab.lease("00:25:22:bd:d1:77"))
        #expect(dynamic.hasPrefix("10.81.0.1"))

        try lab.declare(vm("10.81.0.8"))
        let dry = try await lab.run(dryRun: true)
        #expect(dry.outcomes.filter { $0.action != nil }.map { "\($0.resource): \($0.changes.map(\.description))" }
                == ["kea_reservation[cpro0007]: [\"ip-address: 10.81.0.7 → 10.81.0.8\"]"])
        #expect(try await lab.run().status == .converged)
        #expect(try lab.lease(Self.mac) == "10.81.0.8 cpro0007")
        #expect(lab.pid == pid && kill(pid, 0) == 0)  // reloaded, never restarted
        // The dynamic lease lived through the reload: its client renews the same address, and
        // a newcomer gets another one.
        #expect(try lab.lease("00:25:22:bd:d1:77") == dynamic)
        let newcomer = try #require(try lab.lease("00:25:22:bd:d1:78"))
        #expect(newcomer != dynamic && newcomer.hasPrefix("10.81.0.1"))
        #expect(try await lab.run(dryRun: true).status == .noChanges)

        // Removing the VM removes its reservation (the client then gets a pool address).
        try lab.declare(other)
        let removed = try await lab.run()
        #expect(removed.status == .converged, "\(removed.outcomes.filter { $0.outcome == .failed })")
        #expect(try lab.lease(Self.mac)?.hasPrefix("10.81.0.1") == true)
    }

    @Test func aRejectedCandidateChangesNothingAndKeepsTheOldReservationServed() async throws {
        let lab = try KeaLab(prefix: "10.82.0")
        let pid = try #require(lab.pid)
        try lab.declare(DHCPFixture.vm("cpro0007", mac: Self.mac, ip: "10.82.0.7"))
        #expect(try await lab.run().status == .converged)
        let before = try String(contentsOfFile: lab.hostsFile, encoding: .utf8)

        try lab.writeConfig(extra: #""no-such-parameter": 1,"#)
        try lab.declare(DHCPFixture.vm("cpro0007", mac: Self.mac, ip: "10.82.0.8"))
        let report = try await lab.run()
        #expect(report.status == .failed)
        let error = report.outcomes.first { $0.outcome == .failed }?.error ?? ""
        #expect(error.hasPrefix("kea-dhcp4 -t rejected the candidate reservations: ") && error.contains("no-such-parameter"), "\(error)")
        #expect(try String(contentsOfFile: lab.hostsFile, encoding: .utf8) == before)
        #expect(try lab.lease(Self.mac) == "10.82.0.7 cpro0007")
        #expect(lab.pid == pid)
    }

    /// `kea-dhcp4 -t` passes a lease file Kea cannot open; `config-reload` does not.
    @Test func aReloadKeaRefusesPutsThePreviousFileBackAndTheNextRunConverges() async throws {
        let lab = try KeaLab(prefix: "10.86.0")
        try lab.declare(DHCPFixture.vm("cpro0007", mac: Self.mac, ip: "10.86.0.7"))
        #expect(try await lab.run().status == .converged)
        let before = try String(contentsOfFile: lab.hostsFile, encoding: .utf8)

        try lab.writeConfig(leases: "/nonexistent-\(UUID().uuidString)/leases.csv")
        try lab.declare(DHCPFixture.vm("cpro0007", mac: Self.mac, ip: "10.86.0.8"))
        let report = try await lab.run()
        #expect(report.status == .failed)
        let error = report.outcomes.first { $0.outcome == .failed }?.error ?? ""
        #expect(error.hasPrefix("Kea refused config-reload: ") && error.contains("leases.csv")
                && error.contains("put the previous \(lab.hostsFile) back, but Kea did not load it either (Kea refused config-reload: "), "\(error)")
        #expect(try String(contentsOfFile: lab.hostsFile, encoding: .utf8) == before)

        try lab.writeConfig()
        let next = try await lab.run()
        #expect(next.status == .converged, "\(next.outcomes.filter { $0.outcome == .failed })")
        #expect(try lab.lease(Self.mac) == "10.86.0.8 cpro0007")
    }

    @Test func handEditsOfTheFileAndOfWhatKeaLoadedAreDriftShownAndCorrected() async throws {
        let lab = try KeaLab(prefix: "10.83.0")
        try lab.declare(DHCPFixture.vm("cpro0007", mac: Self.mac, ip: "10.83.0.7"))
        #expect(try await lab.run().status == .converged)
        let written = try String(contentsOfFile: lab.hostsFile, encoding: .utf8)

        // Edited by hand and loaded: the file and Kea both differ.
        try written.replacingOccurrences(of: "10.83.0.7", with: "10.83.0.9").write(toFile: lab.hostsFile, atomically: true, encoding: .utf8)
        #expect(try lab.control("config-reload").contains("\"result\": 0"))
        let dry = try await lab.run(dryRun: true)
        #expect(dry.status == .changesPending)
        #expect(dry.outcomes.first { $0.resource.name == "cpro0007" }?.changes.map(\.description) == ["ip-address: 10.83.0.9 → 10.83.0.7"])
        #expect(try await lab.run().status == .converged)
        #expect(try String(contentsOfFile: lab.hostsFile, encoding: .utf8) == written)
        #expect(try lab.lease(Self.mac) == "10.83.0.7 cpro0007")

        // Kea runs something else than the file (loaded from a hand edit, the file put back since).
        try written.replacingOccurrences(of: "10.83.0.7", with: "10.83.0.9").write(toFile: lab.hostsFile, atomically: true, encoding: .utf8)
        _ = try lab.control("config-reload")
        try written.write(toFile: lab.hostsFile, atomically: true, encoding: .utf8)
        let loaded = try await lab.run(dryRun: true)
        #expect(loaded.outcomes.filter { $0.action != nil }.map(\.resource.description) == ["kea_loaded[\(lab.socket)]"])
        #expect(try await lab.run().status == .converged)
        #expect(try await lab.run(dryRun: true).status == .noChanges)
        #expect(try lab.lease(Self.mac) == "10.83.0.7 cpro0007")
    }

    @Test func aReservationOutsideEveryKeaSubnetIsAPlanErrorNamingBoth() async throws {
        let lab = try KeaLab(prefix: "10.84.0")
        try lab.declare(DHCPFixture.vm("cpro0007", mac: Self.mac, ip: "10.84.0.7"))
        #expect(try await lab.run().status == .converged)
        let before = try String(contentsOfFile: lab.hostsFile, encoding: .utf8)
        try (lab.host() + DHCPFixture.network("10.84.0.0/16") + DHCPFixture.vm("cpro0007", mac: Self.mac, ip: "10.84.9.7"))
            .write(to: lab.root.appendingPathComponent("desired/all.yaml"), atomically: true, encoding: .utf8)
        let report = try await lab.run()
        #expect(report.status == .failed)
        let error = report.outcomes.first { $0.resource.name == "cpro0007" }?.error ?? ""
        #expect(error.contains("reservation cpro0007 declared at ") && error.contains("is for 10.84.9.7, outside every subnet of Kea's configuration")
                && error.contains("10.84.0.0/24 (id 1)"), "\(error)")
        #expect(try String(contentsOfFile: lab.hostsFile, encoding: .utf8) == before)

        // A missing kea-dhcp4.conf is a conflict, as a missing dhcpd.conf is: the reservations
        // wait for it, and the run goes on (Kea's live state was read).
        try FileManager.default.removeItem(atPath: lab.config)
        try lab.declare(DHCPFixture.vm("cpro0007", mac: Self.mac, ip: "10.84.0.8"))
        let missing = try await lab.run()
        #expect(missing.status == .failed && missing.unreadProviders.isEmpty, "\(missing.error ?? "")")
        #expect(missing.outcomes.first { $0.resource.type == KeaProvider.includeType }?.error == "\(lab.config) does not exist")
        #expect(missing.outcomes.first { $0.resource.name == "cpro0007" }?.outcome == .skipped)
        #expect(try String(contentsOfFile: lab.hostsFile, encoding: .utf8) == before)
    }

    @Test func movingAHostFromISCToKeaMovesItsReservationsInOneRun() async throws {
        let lab = try KeaLab(prefix: "10.85.0")
        // reconcile's ISC files, as a run with server isc left them.
        let isc = try DHCPFixture(subnet: "10.85.0.0 netmask 255.255.255.0")
        try isc.declare(DHCPFixture.network("10.85.0.0/24") + DHCPFixture.vm("cpro0007", mac: Self.mac, ip: "10.85.0.7"))
        #expect(try await isc.run().status == .converged)
        #expect(try String(contentsOfFile: isc.config, encoding: .utf8).contains("include \"\(isc.hostsFile)\";"))

        let host = lab.host(isc: ", isc: {config: \(isc.config), hostsFile: \(isc.hostsFile)}")
        try lab.declare(DHCPFixture.vm("cpro0007", mac: Self.mac, ip: "10.85.0.7"), host: host)
        let dry = try await lab.run(dryRun: true)
        #expect(Set(dry.outcomes.filter { $0.action != nil }.map(\.resource.description)) == [
            "kea_reservation[cpro0007]", "dhcp_host[cpro0007]", "dhcpd_include[\(isc.config)]", "dhcp_hosts_file[\(isc.hostsFile)]",
        ])
        let moved = try await lab.run()
        #expect(moved.status == .converged, "\(moved.outcomes.filter { $0.outcome == .failed })")
        #expect(try lab.lease(Self.mac) == "10.85.0.7 cpro0007")
        #expect(!FileManager.default.fileExists(atPath: isc.hostsFile))
        #expect(try String(contentsOfFile: isc.config, encoding: .utf8) == "authoritative;\nsubnet 10.85.0.0 netmask 255.255.255.0 { }\n\n")
        #expect(isc.restarts == 1)  // only the ISC run's own restart
        #expect(try await lab.run(dryRun: true).status == .noChanges)
    }
}
