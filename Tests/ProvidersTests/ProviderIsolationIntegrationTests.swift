import DesiredState
import Engine
import Foundation
import Providers
import Testing
import TestSupport

/// One node with a firewall (nftables), dhcpd's files and BIND, all real, in one namespace:
/// with `named` stopped, a commit that changes a rule, a reservation and the records of the
/// same VM converges the rule and the reservation; only the records fail, with the reason, and
/// the next run after `named` is back converges them.
@Suite(.tags(.integration), .serialized) struct ProviderIsolationIntegrationTests {
    static func rule(port: Int) -> String {
        "kind: FirewallRule\nname: cpro0007-web\nvm: cpro0007\nprotocol: tcp\nsource: 0.0.0.0/0\nports: [\(port)]\n---\n"
    }

    @Test func withNamedStoppedTheRuleAndTheReservationConvergeAndOnlyTheRecordsFail() async throws {
        let lab = try DNSLab()
        let dhcp = try DHCPFixture()
        let host = "firewall: {backend: nftables}\ndhcp: {config: \(dhcp.config), hostsFile: \(dhcp.hostsFile), restart: [sh, -c, \"echo restarted >> \(dhcp.restartLog)\"]}"
        func declare(ip: String, port: Int) throws {
            try lab.declare(DNSLab.vm("cpro0007", ip) + Self.rule(port: port), roles: "hypervisor, firewall, dhcp, dns", host: host)
        }
        func run() async throws -> RunReport {
            let desired = try DesiredState.load(directory: lab.root.appendingPathComponent("desired").path)
            let node = desired.hosts[0]
            let providers: [any Provider] = [NFTablesProvider(host: node), ISCDHCPProvider(host: node), DNSProvider(host: node, settings: try #require(node.dns))]
            return try await Reconciler(node: "dns1", providers: providers, recorder: lab.log).run(desired, revision: "test", options: .init(dryRun: false))
        }
        let table = { (try? lab.lab.exec(lab.namespace, "nft", "list", "table", "inet", "reconcile")) ?? "" }
        let hostsFile = { (try? String(contentsOfFile: dhcp.hostsFile, encoding: .utf8)) ?? "" }

        try declare(ip: "10.0.0.7", port: 80)
        let first = try await run()
        #expect(first.status == .converged, "\(first.outcomes.filter { $0.outcome == .failed })")
        #expect(lab.answer("cpro0007.example.test", "A") == ["10.0.0.7"] && table().contains("tcp dport 80 accept"))

        lab.stopNamed()
        try declare(ip: "10.0.0.8", port: 8080)
        let report = try await run()
        #expect(report.status == .failed && report.unreadProviders == ["dns"])
        #expect(report.error?.hasPrefix("dns: cannot read live state: ") == true, "\(report.error ?? "")")
        // The rule, the VM's dispatch and its reservation changed; dhcpd was restarted for it.
        #expect(table().contains("tcp dport 8080 accept") && table().contains("10.0.0.8 comment \"rc:vm:cpro0007\" : goto vm_cpro0007"), "\(table())")
        #expect(hostsFile().contains("fixed-address 10.0.0.8;") && dhcp.restarts == 2)
        let failed = report.outcomes.filter { $0.outcome == .failed }
        // What it declares now and what it made before: the records it could not check.
        #expect(Set(failed.map(\.resource.description)) == ["dns_record[cpro0007.example.test A]", "dns_record[7.0.0.10.in-addr.arpa PTR]",
                                                            "dns_record[8.0.0.10.in-addr.arpa PTR]"], "\(failed)")
        #expect(failed.allSatisfy { $0.error?.hasPrefix("dns: cannot read live state: ") == true })
        let id = try #require(report.id)
        let recorded = try #require(try lab.log.run(id: id))
        #expect(recorded.unreadProviders == ["dns"] && recorded.error == report.error)

        try lab.startNamed()
        let after = try await run()
        #expect(after.status == .converged, "\(after.outcomes.filter { $0.outcome == .failed })")
        #expect(lab.answer("cpro0007.example.test", "A") == ["10.0.0.8"] && lab.answer("8.0.0.10.in-addr.arpa", "PTR") == ["cpro0007.example.test."])
    }
}
