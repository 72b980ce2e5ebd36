import DesiredState
import Engine
import Foundation
import Netfilter
import Providers
import RunLog
import Testing
import TestSupport

/// A client, a firewall and a VM, each in its own namespace: client ⇄ firewall over the
/// "public" link, firewall ⇄ VM over the private one. reconcile manages the firewall's
/// iptables; real TCP connections prove what passes.
final class FirewallLab {
    let lab = NetworkLab()
    let client: String, firewall: String, vm: String
    let publicInterface: String
    /// The VM's end of the private link.
    let vmInterface: String
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-fw-\(UUID().uuidString)")
    let log: RunLog
    static let python = "/usr/bin/python3"

    init() throws {
        client = try lab.namespace("cl")
        firewall = try lab.namespace("fw")
        vm = try lab.namespace("vm")
        (_, publicInterface) = try lab.link((client, "c0", "198.51.100.10/24"), (firewall, "f0", "198.51.100.1/24"))
        (_, vmInterface) = try lab.link((firewall, "f1", "10.0.0.1/24"), (vm, "v0", "10.0.0.7/24"))
        try lab.exec(firewall, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        try lab.exec(client, "ip", "route", "add", "203.0.113.0/24", "via", "198.51.100.1")
        try lab.exec(vm, "ip", "route", "add", "default", "via", "10.0.0.1")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("desired"), withIntermediateDirectories: true)
        log = try RunLog(stateDirectory: root.appendingPathComponent("state").path)
        try """
            import socket, sys, threading
            def serve(port):
                s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("0.0.0.0", port)); s.listen(16)
                while True:
                    c, a = s.accept(); c.sendall(("peer=%s\\n" % a[0]).encode()); c.close()
            for p in sys.argv[1:]: threading.Thread(target=serve, args=(int(p),)).start()
            """.write(to: root.appendingPathComponent("serve.py"), atomically: true, encoding: .utf8)
        try """
            import socket, sys
            try:
                s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1.5)
                print(s.recv(100).decode().strip())
            except OSError:
                sys.exit(1)
            """.write(to: root.appendingPathComponent("probe.py"), atomically: true, encoding: .utf8)
        try lab.spawn(vm, [Self.python, root.appendingPathComponent("serve.py").path, "22", "80", "81"])
        try lab.spawn(client, [Self.python, root.appendingPathComponent("serve.py").path, "9000"])
        // Wait for the servers to listen (no firewall rules yet: the firewall reaches both).
        for (address, port) in [("10.0.0.7", 22), ("10.0.0.7", 80), ("10.0.0.7", 81), ("198.51.100.10", 9000)] {
            waitUntil(60) { (try? lab.exec(firewall, "nc", "-z", address, "\(port)")) != nil }
        }
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    /// What a connection from `namespace` to host:port is answered with, or nil if it fails.
    func probe(from namespace: String, _ host: String, _ port: Int) -> String? {
        try? lab.exec(namespace, Self.python, root.appendingPathComponent("probe.py").path, host, "\(port)")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static let rules = """
        kind: FirewallRule
        name: cpro0007-web
        vm: cpro0007
        protocol: tcp
        source: 0.0.0.0/0
        ports: [80]
        ---
        kind: FirewallRule
        name: cpro0007-ssh
        vm: cpro0007
        protocol: tcp
        source: 192.0.2.0/24
        ports: [22]
        ---

        """

    static func vm(_ name: String, _ ip: String, mac: String, pair public: String?) -> String {
        """
        kind: VirtualMachine
        name: \(name)
        host: hv1
        memory: 128MiB
        vcpus: 1
        interfaces: [{network: private, mac: "\(mac)", ip: \(ip)}]
        ---
        \(`public`.map { "kind: IPPair\nname: \(name)\nvm: \(name)\npublic: \($0)\nprivate: \(ip)\n---\n" } ?? "")
        """
    }

    func declare(_ documents: String, publicInterface: String? = nil, backend: String = "iptables") throws {
        let head = """
            kind: Host
            name: hv1
            roles: [hypervisor, firewall]
            netns: \(firewall)
            publicInterface: \(publicInterface ?? self.publicInterface)
            firewall: {backend: \(backend)}
            ---
            kind: Network
            name: private
            cidr: 10.0.0.0/24
            bridge: br0
            ---

            """
        try (head + documents).write(to: root.appendingPathComponent("desired/all.yaml"), atomically: true, encoding: .utf8)
    }

    func run(dryRun: Bool = false, allowPrune: Bool = false, adopt: Bool = false) async throws -> RunReport {
        let desired = try DesiredState.load(directory: root.appendingPathComponent("desired").path)
        // As the run sets them up: the Host's backend, then the other one retiring.
        let host = desired.hosts[0]
        // With the cache of live reads a run keeps: every scenario proves drift is still seen.
        let cache = GenerationCache(directory: root.path)
        let providers: [any Provider] = host.firewallBackend == .iptables
            ? [IPTablesProvider(host: host, adopt: adopt, cache: cache), NFTablesProvider(host: host, retiring: true, cache: cache)]
            : [NFTablesProvider(host: host, cache: cache), IPTablesProvider(host: host, retiring: true, cache: cache)]
        let reconciler = Reconciler(node: "hv1", providers: providers, recorder: log)
        return try await reconciler.run(desired, revision: "test", options: .init(dryRun: dryRun, pruneGuard: PruneGuard(allowPrune: allowPrune)))
    }

    /// One TCP connection from the client to `address`:7000 (DNATed to the VM's echo server),
    /// a line echoed every 50 ms until ``Conversation/finish()``; the first failure is kept.
    func startConversation(with address: String) throws -> Conversation {
        try """
            import socket, threading
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", 7000)); s.listen(4)
            def echo(c):
                while True:
                    data = c.recv(100)
                    if not data: return
                    c.sendall(data)
            while True:
                c, a = s.accept(); threading.Thread(target=echo, args=(c,)).start()
            """.write(to: root.appendingPathComponent("echo.py"), atomically: true, encoding: .utf8)
        try """
            import os, socket, sys, time
            out = sys.argv[2]
            s = socket.create_connection((sys.argv[1], 7000), timeout=2)
            n = 0
            open(out + ".connected", "w").write("yes")
            try:
                while not os.path.exists(out + ".stop"):
                    s.sendall(b"ping\\n")
                    if s.recv(100) != b"ping\\n": raise OSError("bad echo")
                    n += 1
                    open(out + ".count", "w").write(str(n))
                    time.sleep(0.05)
                open(out, "w").write("ok %d" % n)
            except OSError as e:
                open(out, "w").write("broken after %d: %s" % (n, e))
            """.write(to: root.appendingPathComponent("talk.py"), atomically: true, encoding: .utf8)
        try lab.spawn(vm, [Self.python, root.appendingPathComponent("echo.py").path])
        waitUntil(60) { (try? lab.exec(firewall, "nc", "-z", "10.0.0.7", "7000")) != nil }
        let result = root.appendingPathComponent("talk-\(address)").path
        try lab.spawn(client, [Self.python, root.appendingPathComponent("talk.py").path, address, result])
        waitUntil(60) { FileManager.default.fileExists(atPath: result + ".connected") }
        return Conversation(result: result)
    }

    struct Conversation {
        let result: String

        /// Lines echoed so far.
        var echoes: Int { Int((try? String(contentsOfFile: result + ".count", encoding: .utf8)) ?? "") ?? 0 }

        /// Waits until `count` more lines have been echoed (through whatever rules are in place now).
        func waitForMoreEchoes(_ count: Int) {
            let start = echoes
            waitUntil(60) { echoes >= start + count || FileManager.default.fileExists(atPath: result) }
        }

        /// Stops the conversation: `ok N` (N lines echoed) or how it broke.
        func finish() -> String {
            FileManager.default.createFile(atPath: result + ".stop", contents: nil)
            waitUntil(60) { FileManager.default.fileExists(atPath: result) }
            return (try? String(contentsOfFile: result, encoding: .utf8)) ?? "no result"
        }
    }

    /// `nft list table inet reconcile`, or nil when there is none.
    func table() -> String? { try? lab.exec(firewall, "nft", "list", "table", "inet", "reconcile") }

    func save() throws -> String { try lab.exec(firewall, "iptables-save").split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n") }

    /// The lines of `iptables-save` that reconcile does not own.
    func foreignLines() throws -> [String] {
        try save().split(separator: "\n").map(String.init).filter { !$0.contains("RC-") && !$0.hasPrefix(":") || $0.hasPrefix(":") && !$0.contains("RC-") }
    }
}

@Suite(.tags(.integration), .serialized) struct FirewallIntegrationTests {
    static let both = FirewallLab.rules + FirewallLab.vm("cpro0007", "10.0.0.7", mac: "00:25:22:bd:d1:20", pair: "203.0.113.7")
        + FirewallLab.vm("cpro0051", "10.0.0.51", mac: "00:25:22:bd:d1:33", pair: "203.0.113.51")

    @Test func acceptedPortsPassDNATDropsTheRestAndSNATsOutbound() async throws {
        let lab = try FirewallLab()
        // Before reconcile: the firewall forwards everything, but the public address is nobody's.
        #expect(lab.probe(from: lab.client, "10.0.0.7", 81) == nil)
        try lab.declare(Self.both)
        let report = try await lab.run()
        #expect(report.status == .converged, "\(report.outcomes.filter { $0.outcome == .failed })")

        #expect(lab.probe(from: lab.client, "203.0.113.7", 80) == "peer=198.51.100.10")  // DNAT, rule accepts
        #expect(lab.probe(from: lab.client, "203.0.113.7", 81) == nil)  // no rule: dropped
        #expect(lab.probe(from: lab.client, "203.0.113.7", 22) == nil)  // rule for another source
        #expect(lab.probe(from: lab.vm, "198.51.100.10", 9000) == "peer=203.0.113.7")  // SNAT outbound
        #expect(try lab.lab.exec(lab.firewall, "ip", "-o", "-4", "addr", "show", "dev", lab.publicInterface).contains("203.0.113.7/32"))

        let again = try await lab.run()
        #expect(again.status == .converged && again.counts.updated == 0)
    }

    @Test func removingARuleClosesItsPortAndRemovingAPairRemovesItsNATAndAddress() async throws {
        let lab = try FirewallLab()
        try lab.declare(Self.both)
        _ = try await lab.run()
        #expect(lab.probe(from: lab.client, "203.0.113.7", 80) != nil)

        try lab.declare(Self.both.replacingOccurrences(of: "ports: [80]", with: "ports: [8080]"))
        #expect(try await lab.run().status == .converged)
        #expect(lab.probe(from: lab.client, "203.0.113.7", 80) == nil)

        let withoutPair = FirewallLab.rules + FirewallLab.vm("cpro0007", "10.0.0.7", mac: "00:25:22:bd:d1:20", pair: nil)
            + FirewallLab.vm("cpro0051", "10.0.0.51", mac: "00:25:22:bd:d1:33", pair: "203.0.113.51")
        try lab.declare(withoutPair.replacingOccurrences(of: "ports: [80]", with: "ports: [8080]"))
        #expect(try await lab.run().status == .converged)
        #expect(lab.probe(from: lab.client, "203.0.113.7", 8080) == nil)
        #expect(!(try lab.save()).contains("rc:pair:cpro0007"))
        #expect(!(try lab.lab.exec(lab.firewall, "ip", "-o", "-4", "addr", "show", "dev", lab.publicInterface)).contains("203.0.113.7/32"))
        #expect(try lab.lab.exec(lab.firewall, "ip", "-o", "-4", "addr", "show", "dev", lab.publicInterface).contains("203.0.113.51/32"))
    }

    @Test func iptablesSaveIsReadAgainOnlyWhenTheGenerationMoved() async throws {
        let lab = try FirewallLab()
        try lab.declare(Self.both)
        #expect(try await lab.run().status == .converged)
        #expect(try await lab.run(dryRun: true).status == .noChanges)
        // iptables-nft commits to nf_tables: while nothing is committed the kept text is used
        // (here, edited by the test: a port the kernel does not hold) ...
        let file = GenerationCache(directory: lab.root.path).file("iptables", netns: lab.firewall)
        let kept = try String(contentsOfFile: file, encoding: .utf8)
        try kept.replacingOccurrences(of: "--dport 80 ", with: "--dport 8080 ").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try await lab.run(dryRun: true).status == .changesPending)
        // ... and any iptables command that commits moves the generation: read afresh.
        _ = try lab.lab.exec(lab.firewall, "iptables", "-N", "OPERATOR-CHAIN")
        #expect(try await lab.run(dryRun: true).status == .noChanges)
    }

    @Test func foreignChainsAndRulesSurviveEveryApply() async throws {
        let lab = try FirewallLab()
        for command in [
            ["iptables", "-N", "DOCKER"], ["iptables", "-A", "DOCKER", "-d", "172.17.0.2/32", "-j", "ACCEPT"],
            ["iptables", "-A", "FORWARD", "-j", "DOCKER"], ["iptables", "-N", "LIBVIRT_FWI"], ["iptables", "-A", "LIBVIRT_FWI", "-o", "virbr0", "-j", "REJECT"],
            ["iptables", "-N", "f2b-sshd"], ["iptables", "-A", "f2b-sshd", "-s", "192.0.2.66/32", "-j", "REJECT"],
            ["iptables", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"],
            ["iptables", "-t", "nat", "-A", "POSTROUTING", "-s", "172.17.0.0/16", "-j", "MASQUERADE"],
        ] { try lab.lab.exec(lab.firewall, command) }
        let before = try lab.foreignLines()
        try lab.declare(Self.both)
        _ = try await lab.run()
        try lab.declare(Self.both.replacingOccurrences(of: "ports: [80]", with: "ports: [80, 443]"))
        _ = try await lab.run()
        #expect(try lab.foreignLines() == before)
        // Our jumps come first in the built-in chains.
        let save = try lab.save()
        #expect(save.contains("-A FORWARD -m comment --comment reconcile -j RC-FORWARD\n-A FORWARD -j DOCKER"))
    }

    @Test func handMadeRCChainsAndAnOperatorsRuleAboveOurJumpAreLeftAsTheyAre() async throws {
        let lab = try FirewallLab()
        try lab.declare(Self.both)
        _ = try await lab.run()
        // A hand-made chain with our prefix that a foreign rule uses, and an operator's block
        // put above our jump on purpose.
        try lab.lab.exec(lab.firewall, "iptables", "-N", "RC-HANDMADE")
        try lab.lab.exec(lab.firewall, "iptables", "-A", "RC-HANDMADE", "-j", "RETURN")
        try lab.lab.exec(lab.firewall, "iptables", "-A", "INPUT", "-j", "RC-HANDMADE")
        try lab.lab.exec(lab.firewall, "iptables", "-I", "FORWARD", "1", "-s", "198.51.100.10/32", "-p", "tcp", "--dport", "80", "-j", "DROP")
        #expect(try await lab.run(dryRun: true).status == .noChanges)

        try lab.declare(Self.both.replacingOccurrences(of: "ports: [80]", with: "ports: [80, 81]"))
        let report = try await lab.run()
        #expect(report.status == .converged, "\(report.outcomes.compactMap(\.error))")
        let save = try lab.save()
        #expect(save.contains(":RC-HANDMADE") && save.contains("-A INPUT -j RC-HANDMADE") && save.contains("-A RC-HANDMADE -j RETURN"))
        #expect(save.contains("-A FORWARD -s 198.51.100.10/32 -p tcp -m tcp --dport 80 -j DROP\n-A FORWARD -m comment --comment reconcile -j RC-FORWARD"))
        #expect(lab.probe(from: lab.client, "203.0.113.7", 80) == nil)  // the operator's block still applies
        #expect(lab.probe(from: lab.client, "203.0.113.7", 81) == "peer=198.51.100.10")
    }

    @Test func doubledJumpsAreDriftShownAndRemoved() async throws {
        let lab = try FirewallLab()
        try lab.declare(Self.both)
        _ = try await lab.run()
        // What two writers on one namespace once left behind.
        try lab.lab.exec(lab.firewall, "iptables", "-A", "FORWARD", "-m", "comment", "--comment", "reconcile", "-j", "RC-FORWARD")
        try lab.lab.exec(lab.firewall, "iptables", "-t", "nat", "-I", "POSTROUTING", "1", "-m", "comment", "--comment", "reconcile", "-j", "RC-POSTROUTING")
        let dry = try await lab.run(dryRun: true)
        #expect(Set(dry.outcomes.filter { $0.outcome == .wouldUpdate }.map(\.resource.description))
                == ["iptables_jump[filter/FORWARD]", "iptables_jump[nat/POSTROUTING]"])
        #expect(try await lab.run().status == .converged)
        let save = try lab.save()
        #expect(save.components(separatedBy: "-j RC-FORWARD\n").count == 2 && save.components(separatedBy: "-j RC-POSTROUTING\n").count == 2)
        #expect(try await lab.run(dryRun: true).status == .noChanges)
    }

    @Test func changingThePublicInterfaceMovesOurAddresses() async throws {
        let lab = try FirewallLab()
        try lab.declare(Self.both)
        _ = try await lab.run()
        let (_, newInterface) = try lab.lab.link((lab.client, "c1", "198.51.101.10/24"), (lab.firewall, "f2", "198.51.101.1/24"))
        try lab.declare(Self.both, publicInterface: newInterface)
        let dry = try await lab.run(dryRun: true)
        let removals = dry.outcomes.filter { $0.resource.type == "public_address" }.map(\.resource.name).sorted()
        #expect(removals == ["203.0.113.51 on \(lab.publicInterface)", "203.0.113.7 on \(lab.publicInterface)"])
        #expect(try await lab.run().status == .converged)
        let old = try lab.lab.exec(lab.firewall, "ip", "-o", "-4", "addr", "show", "dev", lab.publicInterface)
        let new = try lab.lab.exec(lab.firewall, "ip", "-o", "-4", "addr", "show", "dev", newInterface)
        #expect(!old.contains("203.0.113.") && new.contains("203.0.113.7/32") && new.contains("203.0.113.51/32"))
        #expect(try await lab.run(dryRun: true).status == .noChanges)
    }

    @Test func driftShowsInTheDryRunAndIsCorrected() async throws {
        let lab = try FirewallLab()
        try lab.declare(Self.both)
        _ = try await lab.run()
        try lab.lab.exec(lab.firewall, "iptables", "-I", "RC-VM-cpro0007", "1", "-j", "ACCEPT")
        #expect(lab.probe(from: lab.client, "203.0.113.7", 81) != nil)  // the hand rule opens everything
        try lab.lab.exec(lab.firewall, "iptables", "-t", "nat", "-D", "PREROUTING", "-m", "comment", "--comment", "reconcile", "-j", "RC-PREROUTING")
        try lab.lab.exec(lab.firewall, "iptables", "-F", "RC-VM-cpro0051")

        let dry = try await lab.run(dryRun: true)
        #expect(dry.status == .changesPending)
        let drifted = Set(dry.outcomes.filter { $0.outcome == .wouldUpdate }.map(\.resource.description))
        #expect(drifted == ["iptables_chain[RC-VM-cpro0007]", "iptables_chain[RC-VM-cpro0051]", "iptables_jump[nat/PREROUTING]"])

        #expect(try await lab.run().status == .converged)
        #expect(lab.probe(from: lab.client, "203.0.113.7", 81) == nil)
        #expect(lab.probe(from: lab.client, "203.0.113.7", 80) == "peer=198.51.100.10")
        #expect(try await lab.run(dryRun: true).status == .noChanges)
    }

    @Test func aRejectedRestoreNamesTheRuleAndKeepsThePreviousRules() async throws {
        let lab = try FirewallLab()
        try lab.declare(Self.both)
        _ = try await lab.run()
        // A foreign rule now refers to our chain, so deleting the chain must fail.
        try lab.lab.exec(lab.firewall, "iptables", "-A", "INPUT", "-j", "RC-VM-cpro0051")
        let before = try lab.save()
        try lab.declare(FirewallLab.rules + FirewallLab.vm("cpro0007", "10.0.0.7", mac: "00:25:22:bd:d1:20", pair: "203.0.113.7"))

        let report = try await lab.run(allowPrune: true)
        #expect(report.status == .failed)
        let error = try #require(report.outcomes.first { $0.outcome == .failed }?.error)
        #expect(error.hasPrefix("iptables-restore --test rejected the rules: line ") || error.hasPrefix("iptables-restore failed: line "))
        #expect(error.contains("(iptables_chain[RC-VM-cpro0051] (no longer declared)): -X RC-VM-cpro0051"))
        #expect(try lab.save() == before)
    }

    /// 41 VMs: past 16 addresses each per-address list is a tree of chains. A firewall built
    /// flat (reconcile 0.5: every VM's rule in RC-FORWARD) is rebuilt as the tree in one
    /// restore, and a connection through a pair lives through it.
    @Test func pastSixteenVMsDispatchIsATreeAndTheFlatLayoutMigratesInPlace() async throws {
        let lab = try FirewallLab()
        try lab.lab.exec(lab.vm, "ip", "addr", "add", "10.0.0.49/24", "dev", lab.vmInterface)
        let others = (10..<50).map { FirewallLab.vm("cpro00\($0)", "10.0.0.\($0)", mac: "00:25:22:bd:d2:\($0)", pair: "203.0.113.\($0)") }
        let documents = Self.both + others.joined()
            + "kind: FirewallRule\nname: cpro0007-echo\nvm: cpro0007\nprotocol: tcp\nsource: 0.0.0.0/0\nports: [7000]\n---\n"
            + "kind: FirewallRule\nname: cpro0049-web\nvm: cpro0049\nprotocol: tcp\nsource: 0.0.0.0/0\nports: [80]\n"
        try lab.declare(documents)
        let first = try await lab.run()
        #expect(first.status == .converged, "\(first.outcomes.filter { $0.outcome == .failed })")
        let tree = try lab.save()
        for chain in ["RC-FWD-10.0.0.0-28", "RC-FWD-10.0.0.48-28", "RC-PRE-203.0.113.48-28", "RC-OUT-203.0.113.16-28", "RC-POST-10.0.0.32-28"] {
            #expect(tree.contains(":\(chain) - [0:0]"), "\(chain)")
        }
        #expect(tree.contains("-A RC-FWD-10.0.0.48-28 -d 10.0.0.49/32 -m comment --comment \"rc:vm:cpro0049\" -j RC-VM-cpro0049"))
        #expect(lab.probe(from: lab.client, "203.0.113.49", 80) == "peer=198.51.100.10")  // the tree's last leaf
        #expect(lab.probe(from: lab.client, "203.0.113.49", 81) == nil)
        #expect(lab.probe(from: lab.vm, "198.51.100.10", 9000) == "peer=203.0.113.7")

        // Flatten it, as reconcile 0.5 left it: every leaf in its root, no inner chains.
        let roots = ["RC-FWD-": "RC-FORWARD", "RC-PRE-": "RC-PREROUTING", "RC-OUT-": "RC-OUTPUT", "RC-POST-": "RC-POSTROUTING"]
        func root(of chain: some StringProtocol) -> String? { roots.first { chain.hasPrefix($0.key) }?.value }
        var restore: [String] = []
        for section in tree.components(separatedBy: "COMMIT\n") where section.contains("RC-") {
            let lines = section.split(separator: "\n")
            let inner = lines.filter { $0.hasPrefix(":") && root(of: $0.dropFirst()) != nil }.map { $0.dropFirst().prefix { $0 != " " } }
            let leaves = lines.filter { $0.hasPrefix("-A RC-") && !$0.contains("rc:chain:") }.compactMap { line -> String? in
                let words = line.split(separator: " ", maxSplits: 2)
                let chain = root(of: words[1]) ?? (roots.values.contains(String(words[1])) ? String(words[1]) : nil)
                return chain.map { "-A \($0) \(words[2])" }
            }
            // Declaring a chain flushes it: the roots are refilled, the inner chains emptied and removed.
            let declared = (Set(leaves.map { $0.split(separator: " ")[1] }).sorted() + inner).map { ":\($0) - [0:0]" }
            restore += [String(lines[0])] + declared + leaves + inner.map { "-X \($0)" } + ["COMMIT"]
        }
        try lab.lab.exec(lab.firewall, "sh", "-c", "printf '%s\\n' \"$0\" | iptables-restore --noflush", restore.joined(separator: "\n"))
        #expect(try !lab.save().contains("RC-FWD-") && lab.save().contains("-A RC-FORWARD -d 10.0.0.49/32"))

        let conversation = try lab.startConversation(with: "203.0.113.7")
        let dry = try await lab.run(dryRun: true)
        #expect(dry.status == .changesPending)
        let moved = dry.outcomes.first { $0.resource == ResourceID("iptables_chain", "RC-VM-cpro0049") }?.changes.map(\.description)
        #expect(moved?.contains { $0.hasPrefix("- filter/RC-FORWARD: -d 10.0.0.49/32") } == true, "\(moved ?? [])")
        #expect(moved?.contains { $0.hasPrefix("+ filter/RC-FWD-10.0.0.48-28: -d 10.0.0.49/32") } == true, "\(moved ?? [])")
        let migrated = try await lab.run()
        #expect(migrated.status == .converged, "\(migrated.outcomes.filter { $0.outcome == .failed })")
        #expect(try lab.save() == tree)
        #expect(try await lab.run(dryRun: true).status == .noChanges)
        #expect(lab.probe(from: lab.client, "203.0.113.49", 80) == "peer=198.51.100.10")
        conversation.waitForMoreEchoes(3)
        let outcome = conversation.finish()
        #expect(outcome.hasPrefix("ok "), "\(outcome)")
    }
}
