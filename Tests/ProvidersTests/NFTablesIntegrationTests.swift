import DesiredState
import Engine
import Foundation
import Netfilter
import Providers
import Testing
import TestSupport

/// The nftables backend in the client ⇄ firewall ⇄ VM namespaces of ``FirewallLab``: real
/// TCP connections prove what passes, as for iptables; drift made with `nft` is shown and
/// corrected; other tables are never touched; switching backends keeps a connection alive.
@Suite(.tags(.integration), .serialized) struct NFTablesIntegrationTests {
    static let both = FirewallIntegrationTests.both

    @Test func acceptedPortsPassDNATDropsTheRestAndSNATsOutbound() async throws {
        let lab = try FirewallLab()
        try lab.declare(Self.both, backend: "nftables")
        let report = try await lab.run()
        #expect(report.status == .converged, "\(report.outcomes.filter { $0.outcome == .failed })")
        #expect(lab.probe(from: lab.client, "203.0.113.7", 80) == "peer=198.51.100.10")  // DNAT by map, rule accepts
        #expect(lab.probe(from: lab.client, "203.0.113.7", 81) == nil)  // no rule: dropped
        #expect(lab.probe(from: lab.client, "203.0.113.7", 22) == nil)  // rule for another source
        #expect(lab.probe(from: lab.vm, "198.51.100.10", 9000) == "peer=203.0.113.7")  // SNAT by map
        let table = try #require(lab.table())
        #expect(table.contains("ip daddr vmap @vm_dispatch") && table.contains("203.0.113.7 comment \"rc:pair:cpro0007\" : 10.0.0.7"))
        let saved = try lab.save()
        #expect(!saved.contains("RC-"))  // nothing in iptables
        let again = try await lab.run()
        #expect(again.status == .converged && again.counts.updated == 0, "\(again.outcomes.filter { $0.outcome != .unchanged })")
    }

    @Test func removingARuleClosesItsPortAndRemovingAPairRemovesItsNATAndAddress() async throws {
        let lab = try FirewallLab()
        try lab.declare(Self.both, backend: "nftables")
        _ = try await lab.run()
        #expect(lab.probe(from: lab.client, "203.0.113.7", 80) != nil)
        try lab.declare(Self.both.replacingOccurrences(of: "ports: [80]", with: "ports: [8080]"), backend: "nftables")
        #expect(try await lab.run().status == .converged)
        #expect(lab.probe(from: lab.client, "203.0.113.7", 80) == nil)

        let withoutPair = FirewallLab.rules + FirewallLab.vm("cpro0007", "10.0.0.7", mac: "00:25:22:bd:d1:20", pair: nil)
            + FirewallLab.vm("cpro0051", "10.0.0.51", mac: "00:25:22:bd:d1:33", pair: "203.0.113.51")
        try lab.declare(withoutPair, backend: "nftables")
        #expect(try await lab.run().status == .converged)
        #expect(lab.probe(from: lab.client, "203.0.113.7", 80) == nil)
        #expect(lab.table()?.contains("rc:pair:cpro0007") == false)
        let addresses = try lab.lab.exec(lab.firewall, "ip", "-o", "-4", "addr", "show", "dev", lab.publicInterface)
        #expect(!addresses.contains("203.0.113.7/32") && addresses.contains("203.0.113.51/32"))
        #expect(try await lab.run(dryRun: true).status == .noChanges)
    }

    @Test func driftInOurTableIsShownAndCorrectedAndOtherTablesAreUntouched() async throws {
        let lab = try FirewallLab()
        let nft = { (command: String) throws in _ = try lab.lab.exec(lab.firewall, ["nft", command]) }
        try nft("add table inet filter")
        try nft("add chain inet filter input { type filter hook input priority 0; policy accept; }")
        try nft("add rule inet filter input tcp dport 2222 drop")
        let foreign = try lab.lab.exec(lab.firewall, "nft", "list", "table", "inet", "filter")
        try lab.declare(Self.both, backend: "nftables")
        _ = try await lab.run()

        try nft("insert rule inet reconcile vm_cpro0007 accept")  // opens everything
        try nft("add element inet reconcile pair_dnat { 203.0.113.99 : 10.0.0.99 }")
        try nft("flush chain inet reconcile vm_cpro0051")
        #expect(lab.probe(from: lab.client, "203.0.113.7", 81) != nil)
        let dry = try await lab.run(dryRun: true)
        #expect(dry.status == .changesPending)
        let drifted = Set(dry.outcomes.filter { $0.outcome == .wouldUpdate }.map(\.resource.description))
        #expect(drifted == ["nft_chain[vm_cpro0007]", "nft_chain[vm_cpro0051]", "nft_table[inet reconcile]"], "\(drifted)")
        #expect(try await lab.run().status == .converged)
        #expect(lab.probe(from: lab.client, "203.0.113.7", 81) == nil)
        #expect(lab.table()?.contains("chain vm_cpro0051 {\n\t\tct state established,related accept\n\t\tdrop\n\t}") == true)
        #expect(lab.table()?.contains("203.0.113.99") == false)
        #expect(try await lab.run(dryRun: true).status == .noChanges)

        // A flushed map and a deleted table come back.
        try nft("flush map inet reconcile pair_dnat")
        #expect(lab.probe(from: lab.client, "203.0.113.7", 80) == nil)
        #expect(try await lab.run().status == .converged)
        #expect(lab.probe(from: lab.client, "203.0.113.7", 80) == "peer=198.51.100.10")
        try nft("delete table inet reconcile")
        let gone = try await lab.run(dryRun: true)
        #expect(gone.outcomes.contains { $0.resource.description == "nft_table[inet reconcile]" && $0.action == .create })
        #expect(try await lab.run().status == .converged)
        #expect(lab.probe(from: lab.client, "203.0.113.7", 80) == "peer=198.51.100.10")
        #expect(lab.probe(from: lab.client, "203.0.113.7", 81) == nil)
        #expect(try lab.lab.exec(lab.firewall, "nft", "list", "table", "inet", "filter") == foreign)
    }

    @Test func theTableIsReadAgainOnlyWhenTheGenerationMoved() async throws {
        let lab = try FirewallLab()
        try lab.declare(Self.both, backend: "nftables")
        #expect(try await lab.run().status == .converged)
        #expect(try await lab.run(dryRun: true).status == .noChanges)
        // The kept read is what a run plans from while nothing is committed in the namespace:
        // a rule taken out of it (the kernel's table untouched) shows as one to add back.
        let file = GenerationCache(directory: lab.root.path).file("nftables", netns: lab.firewall)
        let kept = try String(contentsOfFile: file, encoding: .utf8)
        #expect(kept.contains("tcp dport 80"))
        try kept.replacingOccurrences(of: "tcp dport 80", with: "tcp dport 8080").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try await lab.run(dryRun: true).status == .changesPending)
        // Any commit in the namespace (here to another table) moves the generation: read afresh.
        _ = try lab.lab.exec(lab.firewall, ["nft", "add table inet other"])
        #expect(try await lab.run(dryRun: true).status == .noChanges)
        #expect(try String(contentsOfFile: file, encoding: .utf8).contains("tcp dport 80 "))
    }

    @Test func aRejectedTransactionNamesItsSourceAndLeavesTheTableAsItWas() async throws {
        let lab = try FirewallLab()
        try lab.declare(Self.both, backend: "nftables")
        _ = try await lab.run()
        // Someone retypes one of our maps: declaring it with our type again is refused by nft,
        // so the whole transaction is, and nothing of it is applied.
        for command in ["flush chain inet reconcile rc_prerouting", "flush chain inet reconcile rc_output", "delete map inet reconcile pair_dnat",
                        "add map inet reconcile pair_dnat { type ipv4_addr : verdict; }"] {
            try lab.lab.exec(lab.firewall, ["nft", command])
        }
        let before = lab.table()
        try lab.declare(Self.both.replacingOccurrences(of: "ports: [80]", with: "ports: [80, 8080]"), backend: "nftables")
        let report = try await lab.run()
        #expect(report.status == .failed)
        let error = try #require(report.outcomes.first { $0.outcome == .failed }?.error)
        #expect(error == "nft -c rejected the transaction: line 10 (nft_table[inet reconcile]): add rule inet reconcile rc_prerouting dnat ip to ip daddr map "
                + "@pair_dnat: Error: datatype mismatch: expected IPv4 address, expression has type netfilter verdict", "\(error)")
        #expect(lab.table() == before)
    }

    @Test func switchingBackendsKeepsAnEstablishedConnectionBothWays() async throws {
        let lab = try FirewallLab()
        let documents = Self.both + "kind: FirewallRule\nname: cpro0007-echo\nvm: cpro0007\nprotocol: tcp\nsource: 0.0.0.0/0\nports: [7000]\n"
        try lab.declare(documents)
        #expect(try await lab.run().status == .converged)
        let conversation = try lab.startConversation(with: "203.0.113.7")

        // iptables → nftables: the new table first, then the RC-* chains go.
        try lab.declare(documents, backend: "nftables")
        let dry = try await lab.run(dryRun: true)
        #expect(dry.status == .changesPending)
        let toNFT = try await lab.run()
        #expect(toNFT.status == .converged, "\(toNFT.outcomes.filter { $0.outcome == .failed })")
        let saved = try lab.save()
        #expect(!saved.contains("RC-") && lab.table() != nil, "\(saved)")
        #expect(lab.probe(from: lab.client, "203.0.113.7", 80) == "peer=198.51.100.10")
        #expect(lab.probe(from: lab.client, "203.0.113.7", 81) == nil)
        conversation.waitForMoreEchoes(3)

        // And back: the RC-* chains first, then the table goes.
        try lab.declare(documents)
        #expect(try await lab.run().status == .converged)
        let back = try lab.save()
        #expect(lab.table() == nil && back.contains("RC-VM-cpro0007"))
        #expect(lab.probe(from: lab.client, "203.0.113.7", 80) == "peer=198.51.100.10")
        #expect(try await lab.run(dryRun: true).status == .noChanges)
        conversation.waitForMoreEchoes(3)

        let outcome = conversation.finish()
        #expect(outcome.hasPrefix("ok "), "\(outcome)")
    }
}
