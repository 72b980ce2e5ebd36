import Basics
import DesiredState
import Engine
import Foundation
import Providers
import RunLog
import Testing
import TestSupport

/// A real BIND `named` in a namespace of the test's own, with a dynamic forward zone
/// (`example.test`, holding a record made by hand) and a reverse zone (`0.10.in-addr.arpa`),
/// both updatable with one TSIG key; `dig` sees what reconcile did.
final class DNSLab {
    let lab = NetworkLab()
    let namespace: String
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-dns-\(UUID().uuidString.prefix(8))")
    func path(_ name: String) -> String { root.appendingPathComponent(name).path }
    let log: RunLog

    /// - Parameter denied: names the key may not update (BIND refuses their updates).
    init(denied: [String] = []) throws {
        namespace = try lab.namespace("dns")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("desired"), withIntermediateDirectories: true)
        log = try RunLog(stateDirectory: root.appendingPathComponent("state").path)
        try CommandRunner().run(["tsig-keygen", "-a", "hmac-sha256", "rc-key"]).write(toFile: path("key.conf"), atomically: true, encoding: .utf8)
        try CommandRunner().run(["tsig-keygen", "-a", "hmac-sha256", "rc-key"]).write(toFile: path("wrong.conf"), atomically: true, encoding: .utf8)
        let soa = "$TTL 300\n@ IN SOA ns.example.test. admin.example.test. 1 3600 600 86400 300\n@ IN NS ns.example.test.\n"
        try (soa + "ns IN A 127.0.0.1\nhand IN A 10.0.0.99\nweb IN A 10.0.0.98\n").write(toFile: path("forward.zone"), atomically: true, encoding: .utf8)
        try soa.write(toFile: path("reverse.zone"), atomically: true, encoding: .utf8)
        try """
            include "\(path("key.conf"))";
            options {
                directory "\(root.path)"; pid-file "\(path("named.pid"))"; session-keyfile "\(path("session.key"))";
                listen-on port 5353 { 127.0.0.1; }; listen-on-v6 { none; }; recursion no; dnssec-validation no;
                allow-transfer { key rc-key; };
            };
            zone "example.test" { type primary; file "\(path("forward.zone"))"; update-policy { \(denied.map { "deny rc-key name \($0) ANY; " }.joined())grant rc-key zonesub ANY; }; };
            zone "0.10.in-addr.arpa" { type primary; file "\(path("reverse.zone"))"; update-policy { grant rc-key zonesub ANY; }; };

            """.write(toFile: path("named.conf"), atomically: true, encoding: .utf8)
        try startNamed()
    }

    private var named: SpawnedProcess?

    func startNamed() throws {
        named = try lab.spawn(namespace, ["named", "-g", "-u", "root", "-c", path("named.conf")])
        waitUntil(60) { !answer("example.test", "SOA").isEmpty }
    }

    /// Stops named (by its pid) and waits until it has exited.
    func stopNamed() {
        named?.signal(SIGTERM)
        #expect(named?.wait(timeout: 30) != nil, "named did not stop")
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    /// What the server answers for `name` and `type` (`+short`), one value a line, sorted.
    func answer(_ name: String, _ type: String) -> [String] {
        let output = (try? lab.exec(namespace, "dig", "@127.0.0.1", "-p", "5353", name, type, "+short", "+time=2", "+tries=1")) ?? ""
        return output.split(separator: "\n").map(String.init).filter { !$0.hasPrefix(";") }.sorted()
    }

    /// Runs nsupdate by hand, as an operator would.
    func nsupdate(_ lines: String) throws {
        _ = try CommandRunner(netns: namespace).run(["nsupdate", "-k", path("key.conf")],
                                                    input: Data("server 127.0.0.1 5353\n\(lines)\nsend\n".utf8))
    }

    /// - Parameter host: more of the Host's keys (with their roles in `roles`).
    func declare(_ documents: String, key: String = "key.conf", network: String = "10.0.0.0/24",
                 roles: String = "hypervisor, dns", host: String = "") throws {
        try """
            kind: Host
            name: dns1
            roles: [\(roles)]
            netns: "\(namespace)"
            \(host)
            dns: {server: "127.0.0.1:5353", zone: example.test, reverseZones: [0.10.in-addr.arpa], tsigKeyFile: \(path(key))}
            ---

            """.appending(DHCPFixture.network(network) + documents).write(to: root.appendingPathComponent("desired/all.yaml"), atomically: true, encoding: .utf8)
    }

    func run(dryRun: Bool = false) async throws -> RunReport {
        let desired = try DesiredState.load(directory: root.appendingPathComponent("desired").path)
        let host = desired.hosts[0]
        let provider = DNSProvider(host: host, settings: try #require(host.dns))
        return try await Reconciler(node: "dns1", providers: [provider], recorder: log).run(desired, revision: "test", options: .init(dryRun: dryRun))
    }

    static func vm(_ name: String, _ ip: String) -> String {
        let octets = ip.split(separator: ".").compactMap { Int($0) }
        let mac = String(format: "00:25:22:bd:%02x:%02x", octets[2], octets[3])
        return "kind: VirtualMachine\nname: \(name)\nhost: dns1\nmemory: 128MiB\nvcpus: 1\ninterfaces: [{network: private, mac: \"\(mac)\", ip: \(ip)}]\n---\n"
    }
}

@Suite(.tags(.integration), .serialized) struct DNSIntegrationTests {
    static let printer = "kind: DHCPHost\nname: printer01\nnetwork: private\nmac: 00:25:22:bd:d1:21\nip: 10.0.0.200\nhostname: printer\n---\n"

    @Test func namesFollowTheVMsAndHandMadeRecordsAreLeftAlone() async throws {
        let lab = try DNSLab()
        try lab.declare(DNSLab.vm("cpro0007", "10.0.0.7") + DNSLab.vm("cpro0051", "10.0.0.51") + Self.printer)
        let first = try await lab.run()
        #expect(first.status == .converged, "\(first.outcomes.filter { $0.outcome == .failed })")
        #expect(lab.answer("cpro0007.example.test", "A") == ["10.0.0.7"])
        #expect(lab.answer("7.0.0.10.in-addr.arpa", "PTR") == ["cpro0007.example.test."])
        #expect(lab.answer("printer.example.test", "A") == ["10.0.0.200"])
        #expect(lab.answer("_reconcile.cpro0007.example.test", "TXT") == ["\"heritage=reconcile,type=A\""])
        #expect(try await lab.run(dryRun: true).status == .noChanges)

        // A changed address moves both records.
        try lab.declare(DNSLab.vm("cpro0007", "10.0.0.8") + DNSLab.vm("cpro0051", "10.0.0.51") + Self.printer)
        let moved = try await lab.run()
        #expect(moved.status == .converged, "\(moved.outcomes.filter { $0.outcome == .failed })")
        #expect(lab.answer("cpro0007.example.test", "A") == ["10.0.0.8"])
        #expect(lab.answer("7.0.0.10.in-addr.arpa", "PTR").isEmpty && lab.answer("8.0.0.10.in-addr.arpa", "PTR") == ["cpro0007.example.test."])

        // A removed VM's names go, its ownership record too; hand-made records stay.
        try lab.declare(DNSLab.vm("cpro0051", "10.0.0.51") + Self.printer)
        #expect(try await lab.run().status == .converged)
        #expect(lab.answer("cpro0007.example.test", "A").isEmpty && lab.answer("8.0.0.10.in-addr.arpa", "PTR").isEmpty)
        #expect(lab.answer("_reconcile.cpro0007.example.test", "TXT").isEmpty)
        #expect(lab.answer("hand.example.test", "A") == ["10.0.0.99"] && lab.answer("cpro0051.example.test", "A") == ["10.0.0.51"])
    }

    @Test func aHandMadeRecordAtAWantedNameIsAConflictAndChangesNothing() async throws {
        let lab = try DNSLab()
        // A CNAME cannot share its name with a hand-made record of any type.
        try lab.declare(DNSLab.vm("hand", "10.0.0.9") + DNSLab.vm("cpro0051", "10.0.0.51") + Self.record("web.example.test", "CNAME", "hand.example.test"))
        let report = try await lab.run()
        #expect(report.status == .failed)
        let error = report.outcomes.first { $0.resource.name == "hand.example.test A" }?.error ?? ""
        #expect(error.contains("hand.example.test. holds records reconcile did not make (A 10.0.0.99)"), "\(error)")
        let alias = report.outcomes.first { $0.resource.name == "web.example.test CNAME" }?.error ?? ""
        #expect(alias.contains("web.example.test. holds records reconcile did not make (A 10.0.0.98)"), "\(alias)")
        #expect(lab.answer("web.example.test", "A") == ["10.0.0.98"] && lab.answer("web.example.test", "CNAME").isEmpty)
        #expect(lab.answer("hand.example.test", "A") == ["10.0.0.99"])
        #expect(lab.answer("cpro0051.example.test", "A") == ["10.0.0.51"])  // the rest goes on
    }

    @Test func aRecordDeletedByHandIsDriftShownAndRestored() async throws {
        let lab = try DNSLab()
        try lab.declare(DNSLab.vm("cpro0007", "10.0.0.7"))
        #expect(try await lab.run().status == .converged)
        try lab.nsupdate("zone example.test\nupdate delete cpro0007.example.test A")
        #expect(lab.answer("cpro0007.example.test", "A").isEmpty)
        let dry = try await lab.run(dryRun: true)
        #expect(dry.outcomes.filter { $0.action != nil }.map { "\($0.resource): \($0.changes.map(\.description))" }
                == ["dns_record[cpro0007.example.test A]: [\"A: 10.0.0.7\"]"])
        #expect(try await lab.run().status == .converged)
        #expect(lab.answer("cpro0007.example.test", "A") == ["10.0.0.7"])
    }

    @Test func aRecordChangedBetweenPlanAndUpdateFailsTheUpdateInsteadOfBeingOverwritten() async throws {
        let lab = try DNSLab()
        try lab.declare(DNSLab.vm("cpro0007", "10.0.0.7"))
        #expect(try await lab.run().status == .converged)
        try lab.declare(DNSLab.vm("cpro0007", "10.0.0.8"))
        let desired = try DesiredState.load(directory: lab.root.appendingPathComponent("desired").path)
        let provider = DNSProvider(host: desired.hosts[0], settings: try #require(desired.hosts[0].dns))
        let planned = try await provider.plan(desired, owned: [])
        // Someone points the name elsewhere between the read and the update.
        try lab.nsupdate("zone example.test\nupdate delete cpro0007.example.test A\nupdate add cpro0007.example.test 300 A 10.0.0.77")
        let failed = await provider.converge(planned.filter { $0.action != nil })
        #expect(failed.values.allSatisfy { $0.contains("the zone example.test changed since the plan was made") } && !failed.isEmpty, "\(failed)")
        #expect(lab.answer("cpro0007.example.test", "A") == ["10.0.0.77"])
    }

    /// A zone's messages go in one nsupdate; one refused message fails only the resources it carries.
    @Test func aMessageThatFailsFailsOnlyItsOwnRecords() async throws {
        let lab = try DNSLab()
        try lab.declare((0..<600).map { DNSLab.vm(String(format: "cpro%04d", $0), "10.0.\($0 / 250).\($0 % 250 + 1)") }.joined(), network: "10.0.0.0/16")
        let desired = try DesiredState.load(directory: lab.root.appendingPathComponent("desired").path)
        let provider = DNSProvider(host: desired.hosts[0], settings: try #require(desired.hosts[0].dns))
        let planned = try await provider.plan(desired, owned: []).filter { $0.action != nil }
        let last = try #require(planned.first { $0.id.name == "cpro0599.example.test A" }?.steps.first)
        guard case .dns(.update(let message)) = last else { Issue.record("not an update: \(last)"); return }
        #expect(message.zone == "example.test" && message.parts > 1 && message.part > 1, "\(message.name)")
        try lab.nsupdate("zone example.test\nupdate add cpro0599.example.test 300 A 10.0.0.77")
        let failed = await provider.converge(planned)
        let carried = Set(planned.filter { $0.steps == [last] }.map(\.id))
        #expect(Set(failed.keys) == carried, "\(failed.count) failed, \(carried.count) in the refused message")
        #expect(failed.values.allSatisfy { $0.contains("the zone \(message.name) changed since the plan was made") })
        #expect(lab.answer("cpro0000.example.test", "A") == ["10.0.0.1"] && lab.answer("cpro0599.example.test", "A") == ["10.0.0.77"])
        #expect(lab.answer("100.2.0.10.in-addr.arpa", "PTR") == ["cpro0599.example.test."])  // the reverse zone's update went in
    }

    /// 4,000 records: more than one DNS message (64 KiB) holds ("ran out of space" when sent as
    /// one), so each zone's changes go as several UPDATEs.
    @Test func manyNamesGoInAsManyUpdatesAsTheyNeed() async throws {
        let lab = try DNSLab()
        let vms = (0..<2_000).map { DNSLab.vm(String(format: "cpro%04d", $0), "10.0.\($0 / 250).\($0 % 250 + 1)") }
        try lab.declare(vms.joined(), network: "10.0.0.0/16")
        let report = try await lab.run()
        #expect(report.status == .converged && report.counts.updated == 4_000, "\(report.outcomes.filter { $0.outcome == .failed }.prefix(3))")
        #expect(lab.answer("cpro0000.example.test", "A") == ["10.0.0.1"] && lab.answer("cpro1999.example.test", "A") == ["10.0.7.250"])
        #expect(lab.answer("250.7.0.10.in-addr.arpa", "PTR") == ["cpro1999.example.test."])
        #expect(try await lab.run(dryRun: true).status == .noChanges)
    }

    static func record(_ name: String, _ type: String, _ value: String, ttl: Int? = nil) -> String {
        "kind: DNSRecord\nname: \(name)\ntype: \(type)\nvalue: \(value)\n" + (ttl.map { "ttl: \($0)\n" } ?? "") + "---\n"
    }

    @Test func dnsRecordsOfEveryTypeAreKeptAndOwnedPerRecordSet() async throws {
        let lab = try DNSLab()
        // A TXT made by hand where reconcile will put an A: another record set, not a conflict.
        try lab.nsupdate("zone example.test\nupdate add www.example.test 300 TXT \"hand\"")
        let records = Self.record("www.example.test", "A", "[192.0.2.10, 192.0.2.11]")
            + Self.record("alias.example.test", "CNAME", "www.example.test")
            + Self.record("v6.example.test", "AAAA", "'2001:DB8:0:0:0:0:0:1'")
            + Self.record("_sip._tcp.example.test", "SRV", "'10 5 5060 www.example.test'")
            + Self.record("example.test", "TXT", "'v=spf1  -all'", ttl: 60)
        try lab.declare(DNSLab.vm("cpro0007", "10.0.0.7") + records)
        let first = try await lab.run()
        #expect(first.status == .converged, "\(first.outcomes.filter { $0.outcome == .failed })")
        #expect(lab.answer("www.example.test", "A") == ["192.0.2.10", "192.0.2.11"])
        #expect(lab.answer("www.example.test", "TXT") == ["\"hand\""])
        #expect(lab.answer("alias.example.test", "CNAME") == ["www.example.test."])
        #expect(lab.answer("v6.example.test", "AAAA") == ["2001:db8::1"])
        #expect(lab.answer("_sip._tcp.example.test", "SRV") == ["10 5 5060 www.example.test."])
        #expect(lab.answer("example.test", "TXT") == ["\"v=spf1  -all\""])
        #expect(lab.answer("_reconcile.www.example.test", "TXT") == ["\"heritage=reconcile,type=A\""])
        #expect(try await lab.run(dryRun: true).status == .noChanges)

        // A TTL is a property; a name changes type in one update (the CNAME goes, the A comes).
        try lab.declare(DNSLab.vm("cpro0007", "10.0.0.7") + Self.record("www.example.test", "A", "[192.0.2.10, 192.0.2.11]")
            + Self.record("alias.example.test", "A", "192.0.2.12") + Self.record("_sip._tcp.example.test", "SRV", "'10 5 5060 www.example.test'")
            + Self.record("example.test", "TXT", "'v=spf1  -all'", ttl: 120))
        let dry = try await lab.run(dryRun: true)
        let planned = dry.outcomes.filter { $0.action != nil }.map { "\($0.resource) \($0.changes.map(\.description))" }.sorted()
        #expect(planned == [
            "dns_record[alias.example.test A] [\"A: 192.0.2.12\"]",
            "dns_record[alias.example.test CNAME] [\"CNAME: www.example.test. → (none)\"]",
            "dns_record[example.test TXT] [\"ttl: 60 → 120\"]",
            "dns_record[v6.example.test AAAA] [\"AAAA: 2001:db8::1 → (none)\"]",
        ], "\(planned)")
        let second = try await lab.run()
        #expect(second.status == .converged, "\(second.outcomes.filter { $0.outcome == .failed })")
        #expect(lab.answer("alias.example.test", "A") == ["192.0.2.12"] && lab.answer("alias.example.test", "CNAME").isEmpty)
        #expect(lab.answer("v6.example.test", "AAAA").isEmpty && lab.answer("_reconcile.v6.example.test", "TXT").isEmpty)
        #expect(lab.answer("www.example.test", "TXT") == ["\"hand\""] && lab.answer("hand.example.test", "A") == ["10.0.0.99"])
        #expect(try await lab.run(dryRun: true).status == .noChanges)
    }

    /// A record set the server refuses (its update policy denies the name) fails alone; the
    /// sets that travelled in the same message go in.
    @Test func aRefusedRecordSetFailsOnlyItself() async throws {
        let lab = try DNSLab(denied: ["blocked.example.test"])
        try lab.declare(DNSLab.vm("cpro0007", "10.0.0.7") + DNSIntegrationTests.record("blocked.example.test", "A", "192.0.2.1") + "---\n"
                        + DNSIntegrationTests.record("www.example.test", "A", "192.0.2.2"))
        let report = try await lab.run()
        let failed = report.outcomes.filter { $0.outcome == .failed }
        #expect(failed.map(\.resource.name) == ["blocked.example.test A"], "\(failed)")
        #expect(failed.first?.error == "the update of blocked.example.test A was refused: REFUSED", "\(failed)")
        #expect(lab.answer("cpro0007.example.test", "A") == ["10.0.0.7"] && lab.answer("www.example.test", "A") == ["192.0.2.2"])
        #expect(lab.answer("blocked.example.test", "A").isEmpty)
    }

    @Test func aWrongKeyFailsClearlyAndChangesNothing() async throws {
        let lab = try DNSLab()
        try lab.declare(DNSLab.vm("cpro0007", "10.0.0.7"), key: "wrong.conf")
        let report = try await lab.run()
        #expect(report.status == .failed)
        #expect(report.error?.contains("the zone transfer of example.test from 127.0.0.1:5353 failed: TSIG error BADSIG (the server has a key of that name with another secret") == true,
                "\(report.error ?? "")")
        #expect(lab.answer("cpro0007.example.test", "A").isEmpty)
    }
}
