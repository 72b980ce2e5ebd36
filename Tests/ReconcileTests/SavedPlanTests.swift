import Basics
import Foundation
import Testing
import TestSupport

/// `reconcile plan --out FILE` then `reconcile apply FILE`, against a real iptables in a
/// namespace and real `dhcpd -t`: the saved plan is applied exactly, and refused — changing
/// nothing — when the live state or the desired revision moved, or it is for elsewhere.
@Suite struct SavedPlanTests {
    final class Fixture {
        let lab = NetworkLab()
        let root: URL
        let firewall: String
        let publicInterface: String

        init() throws {
            root = try PrivateDirectory.make(prefix: "reconcile-saved")
            firewall = try lab.namespace("sfw")
            let peer = try lab.namespace("spe")
            publicInterface = try lab.link((firewall, "p0", "198.51.100.1/24"), (peer, "q0", "198.51.100.2/24")).0
            try FileManager.default.createDirectory(at: root.appendingPathComponent("desired"), withIntermediateDirectories: true)
            try "authoritative;\nsubnet 10.0.0.0 netmask 255.255.255.0 { }\n".write(toFile: path("dhcpd.conf"), atomically: true, encoding: .utf8)
            try writeScript("#!/bin/sh\necho restarted >> \(path("restarts"))\n", to: path("restart.sh"))
            try declare(ports: "[22]")
        }

        deinit { try? FileManager.default.removeItem(at: root) }

        func path(_ name: String) -> String { root.appendingPathComponent(name).path }

        func declare(ports: String) throws {
            try """
                kind: Host
                name: fw1
                roles: [firewall, dhcp]
                netns: \(firewall)
                publicInterface: \(publicInterface)
                dhcp: {config: \(path("dhcpd.conf")), hostsFile: \(path("hosts.conf")), restart: [\(path("restart.sh"))]}
                ---
                kind: Host
                name: hv9
                roles: [hypervisor]
                ---
                kind: Network
                name: private
                cidr: 10.0.0.0/24
                bridge: br0
                ---
                kind: VirtualMachine
                name: cpro0007
                memory: 128MiB
                vcpus: 1
                interfaces: [{network: private, mac: "52:54:00:00:00:07", ip: 10.0.0.7}]
                ---
                kind: IPPair
                name: cpro0007
                vm: cpro0007
                public: 203.0.113.7
                private: 10.0.0.7
                ---
                kind: FirewallRule
                name: cpro0007-ssh
                vm: cpro0007
                protocol: tcp
                source: 0.0.0.0/0
                ports: \(ports)

                """.write(toFile: path("desired/cloud.yaml"), atomically: true, encoding: .utf8)
        }

        /// `reconcile plan` with this fixture's source.
        func plan(_ arguments: String...) throws -> ReconcileBinary.Result {
            try ReconcileBinary.run(["plan", "--dir", path("desired"), "--state-dir", path("state"), "--node", "fw1"] + arguments)
        }

        func apply(_ file: String, stateDirectory: String? = nil) throws -> ReconcileBinary.Result {
            try ReconcileBinary.run(["apply", path(file), "--state-dir", stateDirectory ?? path("state")])
        }

        func rules(_ chain: String) throws -> String { try lab.exec(firewall, "iptables", "-S", chain) }

        var restarts: Int { ((try? String(contentsOfFile: path("restarts"), encoding: .utf8)) ?? "").split(separator: "\n").count }
    }

    @Test func aSavedPlanIsAppliedExactlyAndThenThereIsNothingToDo() throws {
        let fixture = try Fixture()
        let planned = try fixture.plan("--out", fixture.path("plan.json"), "--show-commands")
        #expect(planned.status == 2, "\(planned.stderr)")
        #expect(planned.stdout.contains("Plan saved to \(fixture.path("plan.json")); apply exactly it with: reconcile apply \(fixture.path("plan.json"))"))
        // --show-commands: what apply sends, batch by batch — the whole restore input (tested,
        // then applied, the address batch beside it), dhcpd's check and the hosts file.
        #expect(planned.stdout.contains("  iptables:\n    iptables-restore --noflush -w --test\n      *filter\n"), "\(planned.stdout)")
        #expect(planned.stdout.contains("      -A RC-VM-cpro0007 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"))
        #expect(planned.stdout.contains("    ip -batch -  (at the same time)\n      addr add 203.0.113.7/32 dev \(fixture.publicInterface) label \(fixture.publicInterface):rc\n"))
        #expect(planned.stdout.contains("  dhcpd:\n    dhcpd -t -cf candidate-configuration.conf\n    write \(fixture.path("hosts.conf"))\n"))
        #expect(planned.stdout.contains("      host cpro0007 {\n"))
        var info = stat()
        #expect(stat(fixture.path("plan.json"), &info) == 0 && info.st_mode & 0o777 == 0o600)
        let saved = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture.path("plan.json")))) as? [String: Any])
        #expect(saved["format"] as? String == "reconcile-plan/2")
        #expect(saved["node"] as? String == "fw1")
        #expect((saved["revision"] as? String)?.hasPrefix("sha256:") == true)
        // Nothing changed by planning.
        #expect(try !fixture.rules("FORWARD").contains("RC-FORWARD"))
        #expect(!FileManager.default.fileExists(atPath: fixture.path("hosts.conf")))

        let applied = try fixture.apply("plan.json")
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        #expect(try fixture.rules("RC-VM-cpro0007").contains("--dport 22"))
        #expect(try String(contentsOfFile: fixture.path("hosts.conf"), encoding: .utf8).contains("fixed-address 10.0.0.7;"))
        #expect(fixture.restarts == 1)
        #expect(try fixture.lab.exec(fixture.firewall, "ip", "-4", "addr", "show", "dev", fixture.publicInterface).contains("203.0.113.7/32"))
        #expect(try fixture.plan().status == 0)
        // History records the run as applied from a plan.
        let history = try ReconcileBinary.run(["history", "--state-dir", fixture.path("state")])
        #expect(history.stdout.contains("apply"), "\(history.stdout)")
    }

    @Test func aStalePlanChangesNothingAndSaysWhatChanged() throws {
        let fixture = try Fixture()
        #expect(try ReconcileBinary.run(["--dir", fixture.path("desired"), "--state-dir", fixture.path("state"), "--node", "fw1"]).status == 0)
        try fixture.declare(ports: "[22, 80]")
        #expect(try fixture.plan("--out", fixture.path("plan.json")).status == 2)

        // Someone changes the very chain the plan rewrites: refused, exit 3, nothing applied;
        // both resources with rules in that chain were planned from it.
        try fixture.lab.exec(fixture.firewall, "iptables", "-I", "RC-VM-cpro0007", "1", "-s", "192.0.2.9", "-j", "ACCEPT")
        let stale = try fixture.apply("plan.json")
        #expect(stale.status == 3, "\(stale.stdout)\(stale.stderr)")
        #expect(stale.stdout.contains("plan is stale: firewall_rule[cpro0007-ssh], iptables_chain[RC-VM-cpro0007] changed since the plan was made"), "\(stale.stdout)")
        let rules = try fixture.rules("RC-VM-cpro0007")
        #expect(rules.contains("192.0.2.9") && !rules.contains("22,80"))

        // A new plan from what is there now applies; the hand rule goes, as the plan showed.
        let fresh = try fixture.plan("--out", fixture.path("plan.json"))
        #expect(fresh.stdout.contains("- filter/RC-VM-cpro0007: -s 192.0.2.9/32 -j ACCEPT"), "\(fresh.stdout)")
        #expect(try fixture.apply("plan.json").status == 0)
        #expect(try fixture.rules("RC-VM-cpro0007").contains("--dports 22,80"))
        #expect(try !fixture.rules("RC-VM-cpro0007").contains("192.0.2.9"))

        // The desired state moved after planning: refused.
        try fixture.declare(ports: "[22]")
        #expect(try fixture.plan("--out", fixture.path("plan.json")).status == 2)
        try fixture.declare(ports: "[22, 443]")
        let moved = try fixture.apply("plan.json")
        #expect(moved.status == 3 && moved.stdout.contains("plan is stale: it was made from revision sha256:"), "\(moved.stdout)")
        #expect(try fixture.rules("RC-VM-cpro0007").contains("--dports 22,80"))
    }

    @Test func aPlanForAnotherStateDirectoryOrMachineIsRefused() throws {
        let fixture = try Fixture()
        #expect(try fixture.plan("--out", fixture.path("plan.json")).status == 2)
        let elsewhere = try fixture.apply("plan.json", stateDirectory: fixture.path("other-state"))
        #expect(elsewhere.status == 64)
        #expect(elsewhere.stderr.contains("the plan was made with the state directory \(fixture.path("state")), not \(fixture.path("other-state"))"), "\(elsewhere.stderr)")
        let text = try String(contentsOfFile: fixture.path("plan.json"), encoding: .utf8)
        let machine = try String(contentsOfFile: "/etc/machine-id", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        try text.replacingOccurrences(of: machine, with: "0123456789abcdef0123456789abcdef").write(toFile: fixture.path("other.json"), atomically: true, encoding: .utf8)
        let otherMachine = try fixture.apply("other.json")
        #expect(otherMachine.status == 64 && otherMachine.stderr.contains("the plan was made on another machine"), "\(otherMachine.stderr)")
        try "{\"format\": \"reconcile-plan/9\"}".write(toFile: fixture.path("future.json"), atomically: true, encoding: .utf8)
        let future = try fixture.apply("future.json")
        #expect(future.status == 64 && future.stderr.contains("is a plan of format reconcile-plan/9"))
        // A plan of the text steps before typed ones: made again, not guessed at.
        var older = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        older["format"] = "reconcile-plan/1"
        try JSONSerialization.data(withJSONObject: older).write(to: URL(fileURLWithPath: fixture.path("old.json")))
        let old = try fixture.apply("old.json")
        #expect(old.status == 64 && old.stderr.contains("is a plan of format reconcile-plan/1 made by an earlier reconcile: run `reconcile plan --out` again"),
                "\(old.stderr)")
        #expect(try !fixture.rules("FORWARD").contains("RC-FORWARD"))
    }
}
