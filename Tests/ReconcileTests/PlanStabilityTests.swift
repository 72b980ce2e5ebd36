import Basics
import Foundation
import Testing
import TestSupport

/// The same desired and live state print the same plan, byte for byte, in every process
/// (Swift seeds its hashing per process: an order taken from a dictionary would show).
@Suite struct PlanStabilityTests {
    @Test func aPlanPrintsTheSameTwentyTimes() throws {
        let lab = NetworkLab()
        let firewall = try lab.namespace("pfw"), peer = try lab.namespace("ppe")
        let (publicInterface, _) = try lab.link((firewall, "p0", "198.51.100.1/24"), (peer, "q0", "198.51.100.2/24"))
        let root = try PrivateDirectory.make(prefix: "reconcile-plan")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("desired"), withIntermediateDirectories: true)
        var yaml = """
            kind: Host
            name: fw1
            roles: [firewall]
            netns: \(firewall)
            publicInterface: \(publicInterface)
            ---
            kind: Host
            name: hv9
            roles: [hypervisor]
            ---
            kind: Network
            name: private
            cidr: 10.0.0.0/24
            bridge: br0

            """
        for index in 1...6 {
            yaml += """
                ---
                kind: VirtualMachine
                name: vm\(index)
                memory: 128MiB
                vcpus: 1
                interfaces: [{network: private, mac: "52:54:00:00:00:0\(index)", ip: 10.0.0.\(10 + index)}]
                ---
                kind: IPPair
                name: vm\(index)
                vm: vm\(index)
                public: 203.0.113.\(10 + index)
                private: 10.0.0.\(10 + index)
                ---
                kind: FirewallRule
                name: vm\(index)-web
                vm: vm\(index)
                protocol: tcp
                source: 0.0.0.0/0
                ports: [80, 443]

                """
        }
        try yaml.write(to: root.appendingPathComponent("desired/all.yaml"), atomically: true, encoding: .utf8)
        let arguments = ["--dir", root.appendingPathComponent("desired").path, "--state-dir", root.appendingPathComponent("state").path, "--node", "fw1"]
        #expect(try ReconcileBinary.run(arguments).status == 0)

        // Drift in several chains and both tables: the plan has many lines to order.
        try lab.exec(firewall, "iptables", "-F", "RC-VM-vm2")
        try lab.exec(firewall, "iptables", "-I", "RC-VM-vm4", "1", "-j", "ACCEPT")
        // Each pair loses a rule in two of its three chains, so its changes span chains.
        for _ in 1...6 {
            for chain in ["RC-PREROUTING", "RC-POSTROUTING"] { try lab.exec(firewall, "iptables", "-t", "nat", "-D", chain, "1") }
        }
        try lab.exec(firewall, "iptables", "-D", "RC-FORWARD", "1")
        var plans: Set<String> = []
        for _ in 0..<20 {
            let dry = try ReconcileBinary.run(arguments + ["--dry-run"])
            #expect(dry.status == 2)
            plans.insert(dry.stdout.components(separatedBy: "\nDry run #").first ?? "")  // the run's own number differs
        }
        #expect(plans.count == 1, "\(plans.sorted().joined(separator: "\n=====\n"))")
        // JSON plans too (the run's own record, with its number and times, aside).
        var jsonPlans: Set<Data> = []
        for _ in 0..<20 {
            let dry = try ReconcileBinary.run(arguments + ["--dry-run", "--output", "json"])
            let json = try #require(try JSONSerialization.jsonObject(with: Data(dry.stdout.utf8)) as? [String: Any])
            jsonPlans.insert(try JSONSerialization.data(withJSONObject: json["plan"] ?? [:], options: [.sortedKeys]))
        }
        #expect(jsonPlans.count == 1)
        #expect(plans.first?.contains("~ iptables_chain[RC-VM-vm2]") == true, "\(plans.first ?? "")")
    }
}
