import DesiredState
import Engine
import Foundation
import Providers
import Testing
import TestSupport

/// A firewall built the seed's way — one `iptables -A` per rule, a chain named after the VM's
/// address, DNAT and SNAT for its pair — taken over with `--adopt` while traffic flows.
@Suite(.tags(.integration), .serialized) struct FirewallAdoptionTests {
    static let seed = [
        "-A FORWARD -m state --state RELATED,ESTABLISHED -j ACCEPT",
        "-N 10.0.0.7/32", "-A FORWARD -d 10.0.0.7/32 -j 10.0.0.7/32",
        "-A 10.0.0.7/32 -p tcp -s 192.0.2.0/24 -d 10.0.0.7 --dport 22 -j ACCEPT",
        "-A 10.0.0.7/32 -p tcp -d 10.0.0.7 -m multiport --dports 80,7000 -j ACCEPT",
        "-A 10.0.0.7/32 -j DROP",
        "-t nat -A PREROUTING -d 203.0.113.7 -j DNAT --to-destination 10.0.0.7",
        "-t nat -A POSTROUTING -s 10.0.0.7 -j SNAT --to-source 203.0.113.7",
    ]

    static let desired = FirewallLab.vm("cpro0007", "10.0.0.7", mac: "52:54:00:0a:00:07", pair: "203.0.113.7") + """
        kind: FirewallRule
        name: cpro0007-1
        vm: cpro0007
        protocol: tcp
        source: 192.0.2.0/24
        ports: [22]
        ---
        kind: FirewallRule
        name: cpro0007-2
        vm: cpro0007
        protocol: tcp
        source: 0.0.0.0/0
        ports: [80, 7000]

        """

    /// New connections, one after another until stopped, to an accepted port and to a dropped
    /// one: how many of each did what they should not.
    static let loop = """
        import os, socket, sys
        out, failures, surprises, rounds = sys.argv[2], 0, 0, 0
        open(out + ".started", "w").write("yes")
        while not os.path.exists(out + ".stop"):
            for port, allowed in ((80, True), (81, False)):
                try:
                    socket.create_connection((sys.argv[1], port), timeout=0.5 if not allowed else 2).close()
                    ok = True
                except OSError:
                    ok = False
                if allowed and not ok: failures += 1
                if ok and not allowed: surprises += 1
            rounds += 1
        open(out, "w").write("%d %d %d" % (rounds, failures, surprises))
        """

    @Test func handRulesAreSwappedForReconcilesInOneTransactionWithoutABlip() async throws {
        let lab = try FirewallLab()
        for rule in Self.seed { try lab.lab.exec(lab.firewall, ["iptables"] + rule.split(separator: " ").map(String.init)) }
        #expect(lab.probe(from: lab.client, "203.0.113.7", 80) == "peer=198.51.100.10")
        #expect(lab.probe(from: lab.client, "203.0.113.7", 81) == nil)
        try lab.declare(Self.desired)

        // Shown first: reconcile's chains come, the hand rules go — all in one plan.
        let dry = try await lab.run(dryRun: true, adopt: true)
        let hand = dry.outcomes.filter { $0.resource.type == "iptables_hand_rules" }
        #expect(hand.map(\.resource.name).sorted() == ["filter/cpro0007", "nat/cpro0007"])
        let removed = hand.flatMap(\.changes).map(\.description)
        #expect(removed.contains { $0.contains("filter/FORWARD: -d 10.0.0.7/32 -j 10.0.0.7/32") }, "\(removed)")
        #expect(removed.contains { $0.contains("filter/10.0.0.7/32: -d 10.0.0.7/32 -p tcp -m multiport --dports 80,7000 -j ACCEPT") }, "\(removed)")
        #expect(removed.contains { $0.contains("nat/PREROUTING: -d 203.0.113.7/32 -j DNAT --to-destination 10.0.0.7") }, "\(removed)")

        // During the takeover: a held connection through the pair, and new ones to 80 and 81.
        let conversation = try lab.startConversation(with: "203.0.113.7")
        try Self.loop.write(to: lab.root.appendingPathComponent("loop.py"), atomically: true, encoding: .utf8)
        let loopResult = lab.root.appendingPathComponent("loop").path
        try lab.lab.spawn(lab.client, [FirewallLab.python, lab.root.appendingPathComponent("loop.py").path, "203.0.113.7", loopResult])
        waitUntil(60) { FileManager.default.fileExists(atPath: loopResult + ".started") }
        let report = try await lab.run(adopt: true)
        #expect(report.status == .converged, "\(report.outcomes.filter { $0.outcome == .failed })")
        // A few more rounds under reconcile's rules alone.
        let adopted = try lab.save()
        FileManager.default.createFile(atPath: loopResult + ".stop", contents: nil)
        waitUntil(60) { FileManager.default.fileExists(atPath: loopResult) }
        let counts = try String(contentsOfFile: loopResult, encoding: .utf8).split(separator: " ").compactMap { Int($0) }
        #expect(counts.count == 3 && counts[0] > 0 && counts[1] == 0 && counts[2] == 0, "rounds, failures, unexpected successes: \(counts)")
        #expect(conversation.finish().hasPrefix("ok "))

        #expect(!adopted.contains("10.0.0.7/32 -j 10.0.0.7/32") && !adopted.contains(":10.0.0.7/32"), "\(adopted)")
        #expect(!adopted.contains("-A PREROUTING -d 203.0.113.7/32 -j DNAT"), "\(adopted)")
        #expect(adopted.contains("-A FORWARD -m state --state RELATED,ESTABLISHED -j ACCEPT"))  // about no VM: left
        #expect(lab.probe(from: lab.client, "203.0.113.7", 80) == "peer=198.51.100.10" && lab.probe(from: lab.client, "203.0.113.7", 81) == nil)
        #expect(try await lab.run(dryRun: true, adopt: true).status == .noChanges)
    }

    @Test func withoutAdoptTheHandRulesAreNotTouched() async throws {
        let lab = try FirewallLab()
        for rule in Self.seed { try lab.lab.exec(lab.firewall, ["iptables"] + rule.split(separator: " ").map(String.init)) }
        try lab.declare(Self.desired)
        let report = try await lab.run()
        #expect(report.outcomes.allSatisfy { $0.resource.type != "iptables_hand_rules" })
        let saved = try lab.save()
        #expect(saved.contains("-A FORWARD -d 10.0.0.7/32 -j 10.0.0.7/32") && saved.contains("-A PREROUTING -d 203.0.113.7/32 -j DNAT --to-destination 10.0.0.7"))
    }
}
