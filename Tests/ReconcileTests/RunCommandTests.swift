import Basics
import Foundation
import Libvirt
import RunLog
import Testing
import TestSupport

/// A desired state for node `hv1`: one stopped VM (a test-prefixed domain in the real
/// libvirtd, removed afterwards) and DHCP with its dhcpd files in a temporary directory, a
/// state directory beside it, and restart scripts that leave traces.
final class CLIFixture {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-cli-\(UUID().uuidString)")
    let vm = "rctest-cli-\(UUID().uuidString.prefix(8).lowercased())"
    var desired: String { root.appendingPathComponent("desired").path }
    var state: String { root.appendingPathComponent("state").path }
    func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    init() throws {
        try FileManager.default.createDirectory(atPath: root.appendingPathComponent("desired").path, withIntermediateDirectories: true)
        try "authoritative;\nsubnet 10.0.0.0 netmask 255.255.255.0 { }\n".write(toFile: path("dhcpd.conf"), atomically: true, encoding: .utf8)
        try script("restart.sh", "echo restarted >> \(path("restarts"))")
        try script("slow-restart.sh", "echo $$ > \(path("restart.pid"))\nexec sleep 60")
        try script("two-second-restart.sh", "echo $$ > \(path("restart.pid"))\nsleep 2")
        try declare(restart: "restart.sh")
    }

    deinit {
        try? FileManager.default.removeItem(at: root)
        if let connection = try? Connection(uri: "qemu:///system"), (try? connection.domain(named: vm)) != nil {
            try? connection.destroy(vm)
            try? connection.undefine(vm)
        }
    }

    func script(_ name: String, _ body: String) throws {
        try writeScript("#!/bin/sh\n\(body)\n", to: path(name))
    }

    func host(_ name: String, roles: String = "[hypervisor, dhcp]", restart: String, prefix: String = "") -> String {
        """
        kind: Host
        name: \(name)
        roles: \(roles)
        libvirt: qemu:///system
        dhcp: {config: \(path(prefix + "dhcpd.conf")), hostsFile: \(path(prefix + "hosts.conf")), restart: [\(path(restart))]}
        ---

        """
    }

    var vms: String { """
        kind: Network
        name: private
        cidr: 10.0.0.0/24
        bridge: br0
        ---
        kind: VirtualMachine
        name: \(vm)
        host: hv1
        memory: 128MiB
        vcpus: 1
        state: stopped
        interfaces: [{network: private, mac: "00:25:22:bd:d1:20", ip: 10.0.0.7}]
        ---
        kind: DHCPHost
        name: printer01
        network: private
        mac: 00:25:22:bd:d1:21
        ip: 10.0.0.200

        """
    }

    func declare(restart: String, hosts: String? = nil) throws {
        try ((hosts ?? host("hv1", restart: restart)) + vms).write(toFile: desired + "/cloud.yaml", atomically: true, encoding: .utf8)
    }

    /// Runs reconcile on this fixture. Tests run in parallel and every fixture's host writes
    /// the same libvirt (`qemu:///system`): a run waits for another's target lock unless the
    /// test says otherwise (`--lock-timeout 0`).
    func run(_ arguments: String...) throws -> ReconcileBinary.Result {
        try ReconcileBinary.run(["--dir", desired, "--state-dir", state] + ReconcileBinary.waitForLocks(arguments))
    }

    /// Runs a subcommand that reads the state directory (`history`, `show`).
    func tool(_ arguments: String...) throws -> ReconcileBinary.Result {
        try ReconcileBinary.run(arguments + ["--state-dir", state])
    }

    /// Starts `reconcile` without waiting for it.
    func start(_ arguments: String...) throws -> SpawnedProcess {
        try SpawnedProcess([ReconcileBinary.path, "--dir", desired, "--state-dir", state] + ReconcileBinary.waitForLocks(arguments), log: path("started.log"))
    }

    /// Waits for a file to appear and returns its content (for up to two minutes: a run may
    /// first wait for another test's run to release the machine's libvirt).
    func waitFor(_ name: String) -> String? {
        for _ in 0..<2_400 {
            if let text = try? String(contentsOfFile: path(name), encoding: .utf8), !text.isEmpty { return text }
            usleep(50_000)
        }
        return nil
    }

    var restarts: Int { ((try? String(contentsOfFile: path("restarts"), encoding: .utf8)) ?? "").split(separator: "\n").count }
}

@Suite struct RunCommandTests {
    @Test func dryRunExits2ThenApplyConvergesThenThereIsNothingToDo() throws {
        let fixture = try CLIFixture()
        let dry = try fixture.run("--dry-run")
        #expect(dry.status == 2)
        #expect(dry.stdout.contains("+ dhcp_host[\(fixture.vm)]  00:25:22:bd:d1:20 → 10.0.0.7 (\(fixture.vm))\n"))
        #expect(dry.stdout.contains("+ libvirt_domain[\(fixture.vm)]  128 MiB, 1 vCPU, stopped\n"))
        #expect(dry.stdout.contains("Plan: 4 to add, 0 to change, 0 to remove, 0 unchanged.\n"))
        #expect(!FileManager.default.fileExists(atPath: fixture.path("hosts.conf")))

        let apply = try fixture.run()
        #expect(apply.status == 0)
        #expect(apply.stdout.range(of: #"5/5 resources updated in [0-9.]+ s \(run #2, converged\)\.\n$"#, options: .regularExpression) != nil)
        #expect(fixture.restarts == 1)

        let again = try fixture.run()
        #expect(again.status == 0)
        #expect(again.stdout.hasPrefix("Plan: 0 to add, 0 to change, 0 to remove, 4 unchanged.\n0/4 resources updated"))
        #expect(try fixture.run("--dry-run").status == 0)
        #expect(fixture.restarts == 1)
    }

    @Test func jsonOutputCarriesThePlanAndTheRun() throws {
        let fixture = try CLIFixture()
        let result = try fixture.run("--dry-run", "--output", "json")
        #expect(result.status == 2)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let plan = try #require(json["plan"] as? [String: Any])
        #expect((plan["summary"] as? [String: Int])?["add"] == 4)
        let resources = (plan["resources"] as? [[String: Any]])?.compactMap { $0["resource"] as? String }
        #expect(resources == ["dhcp_host[printer01]", "dhcp_host[\(fixture.vm)]", "dhcpd_include[\(fixture.path("dhcpd.conf"))]",
                              "libvirt_domain[\(fixture.vm)]"])
        #expect((json["run"] as? [String: Any])?["status"] as? String == "changes-pending")
    }

    @Test func invalidDesiredStateExits65AndIsRecordedAsFailed() throws {
        let fixture = try CLIFixture()
        try "kind: Network\nname: x\n".write(toFile: fixture.desired + "/bad.yaml", atomically: true, encoding: .utf8)
        let result = try fixture.run()
        #expect(result.status == 65)
        #expect(result.stderr.contains("bad.yaml:1:1: Network is missing required key \"cidr\""))
        #expect(!FileManager.default.fileExists(atPath: fixture.path("hosts.conf")))
        let shown = try fixture.tool("show", "1")
        #expect(shown.stdout.hasPrefix("Run #1: failed, apply on "))
        #expect(shown.stdout.contains("bad.yaml:1:1: Network is missing required key \"cidr\""))
    }

    /// Makes the fixture's desired state a git repository with its first commit.
    func gitRepository(_ fixture: CLIFixture) throws -> (repo: String, git: (String...) throws -> String) {
        let repo = fixture.path("repo")
        try FileManager.default.createDirectory(atPath: repo + "/cloud", withIntermediateDirectories: true)
        let git = { (arguments: String...) throws -> String in
            try ReconcileBinary.shell(["git", "-C", repo] + arguments)
        }
        _ = try git("init", "-q", "-b", "main")
        _ = try git("config", "user.name", "Ops Person")
        _ = try git("config", "user.email", "ops@example.org")
        try FileManager.default.copyItem(atPath: fixture.desired + "/cloud.yaml", toPath: repo + "/cloud/cloud.yaml")
        _ = try git("add", "-A")
        _ = try git("commit", "-q", "-m", "Two reservations")
        return (repo, git)
    }

    @Test func desiredStateFromGitCommitsRefsDirtyCopiesAndOffline() throws {
        let fixture = try CLIFixture()
        let (repo, git) = try gitRepository(fixture)
        let first = try git("rev-parse", "HEAD").trimmingCharacters(in: .whitespacesAndNewlines)
        let from = ["--repo", repo, "--path", "cloud"]

        let plan = try ReconcileBinary.run(ReconcileBinary.waitForLocks(["--state-dir", fixture.state, "--dry-run"] + from))
        #expect(plan.status == 2 && plan.stdout.contains("Plan: 4 to add"))
        #expect(try ReconcileBinary.run(ReconcileBinary.waitForLocks(["--state-dir", fixture.state] + from)).status == 0)
        let shown = try fixture.tool("show", "2")
        #expect(shown.stdout.contains("  revision  \(first) (Ops Person: Two reservations)\n"))

        // A new commit changes the plan; an uncommitted edit never does.
        let file = repo + "/cloud/cloud.yaml"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        try text.replacingOccurrences(of: "ip: 10.0.0.200", with: "ip: 10.0.0.201").write(toFile: file, atomically: true, encoding: .utf8)
        _ = try git("commit", "-q", "-am", "Move the printer")
        try text.replacingOccurrences(of: "ip: 10.0.0.200", with: "ip: 10.0.0.202").write(toFile: file, atomically: true, encoding: .utf8)
        let changed = try ReconcileBinary.run(ReconcileBinary.waitForLocks(["--state-dir", fixture.state, "--dry-run"] + from))
        #expect(changed.status == 2 && changed.stdout.contains("fixed-address: 10.0.0.200 → 10.0.0.201"))
        // --ref picks the older commit, which is what the machine has: nothing to do.
        #expect(try ReconcileBinary.run(ReconcileBinary.waitForLocks(["--state-dir", fixture.state, "--dry-run", "--ref", first] + from)).status == 0)

        // Unreachable: a clear error, exit 69, recorded; --offline plans from the last fetch.
        let gone = ["--repo", fixture.path("gone"), "--path", "cloud"]
        let unreachable = try ReconcileBinary.run(ReconcileBinary.waitForLocks(["--state-dir", fixture.state, "--dry-run"] + gone))
        #expect(unreachable.status == 69)
        #expect(unreachable.stderr.hasPrefix("fetch \(fixture.path("gone")): "))
        let offline = try ReconcileBinary.run(ReconcileBinary.waitForLocks(["--state-dir", fixture.state, "--dry-run", "--offline"] + from))
        #expect(offline.status == 2 && offline.stdout.contains("fixed-address: 10.0.0.200 → 10.0.0.201"))
        // Offline never plans from a mirror of another repository than the one named.
        let elsewhere = try ReconcileBinary.run(ReconcileBinary.waitForLocks(["--state-dir", fixture.state, "--dry-run", "--offline"] + gone))
        #expect(elsewhere.status == 69 && elsewhere.stderr.contains("was last fetched from \(repo), not \(fixture.path("gone"))"), "\(elsewhere.stderr)")
    }

    @Test func anInvalidCommitIsRecordedWithItsErrorsAndExits65() throws {
        let fixture = try CLIFixture()
        let (repo, git) = try gitRepository(fixture)
        try "kind: Network\nname: Bad\n".write(toFile: repo + "/cloud/bad.yaml", atomically: true, encoding: .utf8)
        _ = try git("add", "-A")
        _ = try git("commit", "-q", "-m", "Break it")
        let result = try ReconcileBinary.run(ReconcileBinary.waitForLocks(["--state-dir", fixture.state, "--repo", repo, "--path", "cloud"]))
        #expect(result.status == 65)
        #expect(result.stderr.contains("cloud/bad.yaml:1:1: Network is missing required key \"cidr\""))
        #expect(result.stderr.contains("cloud/bad.yaml:2:7: name \"Bad\" must match"))
        let shown = try fixture.tool("show", "1")
        #expect(shown.stdout.contains("(Ops Person: Break it)") && shown.stdout.contains("cloud/bad.yaml:1:1"))
        #expect(!FileManager.default.fileExists(atPath: fixture.path("hosts.conf")))
    }

    @Test func aFailingResourceExits1AndHistoryShowsIt() throws {
        let fixture = try CLIFixture()
        try (try String(contentsOfFile: fixture.path("dhcpd.conf"), encoding: .utf8) + "option broken\n")
            .write(toFile: fixture.path("dhcpd.conf"), atomically: true, encoding: .utf8)
        let result = try fixture.run()
        #expect(result.status == 1)
        #expect(result.stdout.contains("✗ dhcp_host[\(fixture.vm)]: dhcpd -t rejected the candidate hosts file: "))

        let history = try fixture.tool("history")
        #expect(history.status == 0)
        #expect(history.stdout.split(separator: "\n").count == 2)
        #expect(history.stdout.contains(" apply  failed "))
        let shown = try fixture.tool("show", "1")
        #expect(shown.stdout.hasPrefix("Run #1: failed, apply on hv1\n"))
        #expect(shown.stdout.contains("failed       dhcp_host[\(fixture.vm)] (create)\n    dhcpd -t rejected the candidate hosts file"))
        #expect(try fixture.tool("show", "9").status == 64)
        let json = try fixture.tool("history", "--output", "json")
        let runs = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(runs.count == 1 && runs.first?["status"] as? String == "failed")
        #expect((runs.first?["startedAt"] as? String)?.range(of: #"^20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ$"#, options: .regularExpression) != nil)
    }

    @Test func aSecondRunExits75NamingTheHolderOrWaitsForIt() throws {
        let fixture = try CLIFixture()
        try fixture.declare(restart: "two-second-restart.sh")
        let first = try fixture.start()
        #expect(fixture.waitFor("restart.pid") != nil)

        let second = try fixture.run("--dry-run", "--lock-timeout", "0")
        #expect(second.status == 75)
        #expect(second.stderr.hasPrefix("reconcile: \(fixture.state): another run holds the lock: pid \(first.pid) since 20"))

        // With a timeout it waits for the holder to finish, then finds nothing to do.
        let waiting = try fixture.run("--dry-run", "--lock-timeout", "5m")
        #expect(waiting.status == 0, "\(waiting.stdout)\(waiting.stderr)")
        #expect(first.wait(timeout: 30) == 0)
    }

    @Test func anInvalidDesiredStateUnderJSONPrintsItsErrorsAsJSON() throws {
        let fixture = try CLIFixture()
        try "kind: Network\nname: Bad\n".write(toFile: fixture.desired + "/bad.yaml", atomically: true, encoding: .utf8)
        let result = try fixture.run("--dry-run", "--output", "json")
        #expect(result.status == 65)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
        #expect((json["run"] as? [String: Any])?["status"] as? String == "failed")
        let errors = try #require(json["errors"] as? [[String: Any]])
        #expect(errors.first?["message"] as? String == "Network is missing required key \"cidr\"")
        #expect(errors.first?["line"] as? Int == 1 && (errors.first?["file"] as? String)?.hasSuffix("bad.yaml") == true)
    }

    @Test func anEmptyDesiredStateIsRefusedUnlessAllowedAndThenCreatesNothing() throws {
        let fixture = try CLIFixture()
        try (fixture.host("hv1", roles: "[dhcp]", restart: "restart.sh") + "kind: Network\nname: private\ncidr: 10.0.0.0/24\nbridge: br0\n")
            .write(toFile: fixture.desired + "/cloud.yaml", atomically: true, encoding: .utf8)
        let config = try String(contentsOfFile: fixture.path("dhcpd.conf"), encoding: .utf8)
        let refused = try fixture.run("--dry-run")
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("error: the desired state declares no VM, IP pair, firewall rule or DHCP host (1 YAML files)"), "\(refused.stdout)")
        // Allowed: nothing of this node's is declared, so nothing is created for it.
        let allowed = try fixture.run("--dry-run", "--allow-empty")
        #expect(allowed.status == 0, "\(allowed.stdout)\(allowed.stderr)")
        #expect(allowed.stdout.hasPrefix("Plan: 0 to add, 0 to change, 0 to remove, 0 unchanged."), "\(allowed.stdout)")
        #expect(try String(contentsOfFile: fixture.path("dhcpd.conf"), encoding: .utf8) == config)
    }

    @Test func aStateDirectoryThatIsAFileOrAMissingRepositoryIsSaidPlainly() throws {
        let fixture = try CLIFixture()
        try "not a directory\n".write(toFile: fixture.path("file"), atomically: true, encoding: .utf8)
        let file = try ReconcileBinary.run(["--dir", fixture.desired, "--state-dir", fixture.path("file"), "--dry-run"])
        #expect(file.status == 1 && file.stderr == "reconcile: state directory \(fixture.path("file")): Not a directory\n", "\(file.stderr)")
        let missing = try ReconcileBinary.run(["--repo", fixture.path("no-repo"), "--state-dir", fixture.state, "--dry-run"])
        #expect(missing.status == 69 && missing.stderr.hasPrefix("fetch \(fixture.path("no-repo")): no repository at this path\n"), "\(missing.stderr)")
    }

    @Test func versionDurationsWithUnitsAndJSONSuspension() throws {
        let version = try ReconcileBinary.run(["--version"])
        #expect(version.status == 0 && version.stdout.range(of: #"^\d+\.\d+\.\d+\n$"#, options: .regularExpression) != nil, "\(version.stdout)")
        let fixture = try CLIFixture()
        let badUnit = try fixture.run("--dry-run", "--lock-timeout", "5 minutes")
        #expect(badUnit.status == 64 && badUnit.stderr.contains("--lock-timeout"), "\(badUnit.stderr)")
        #expect(try fixture.run("--dry-run", "--lock-timeout", "2m", "--shutdown-timeout", "90s").status == 2)

        let suspended = try fixture.tool("suspend", "--reason", "disk swap", "--until", "2099-01-01T00:00:00Z", "--output", "json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(suspended.stdout.utf8)) as? [String: Any])
        #expect(json["suspended"] as? Bool == true)
        #expect((json["suspension"] as? [String: Any])?["reason"] as? String == "disk swap")
        #expect((json["suspension"] as? [String: Any])?["until"] as? String == "2099-01-01T00:00:00Z")
        let resumed = try fixture.tool("resume", "--output", "json")
        #expect((try JSONSerialization.jsonObject(with: Data(resumed.stdout.utf8)) as? [String: Any])?["suspended"] as? Bool == false)
    }

    @Test func aRestartThatOutlivesItsTimeoutIsKilledWithItsGroupAndTheLockIsReleased() throws {
        let fixture = try CLIFixture()
        try fixture.script("stuck-restart.sh", "echo $$ > \(fixture.path("restart.pid"))\nsleep infinity")
        let hosts = fixture.host("hv1", restart: "stuck-restart.sh")
            .replacingOccurrences(of: "restart: [\(fixture.path("stuck-restart.sh"))]}", with: "restart: [\(fixture.path("stuck-restart.sh"))], restartTimeout: 1}")
        try fixture.declare(restart: "stuck-restart.sh", hosts: hosts)
        let result = try fixture.run()
        #expect(result.status == 1)
        #expect(result.stdout.contains("✗ service[dhcpd]: \(fixture.path("stuck-restart.sh")) timed out after 1 s (killed)"), "\(result.stdout)")
        let shell = try #require(fixture.waitFor("restart.pid").flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        // The script's process group, its sleep included, is gone (or a zombie for init to reap).
        let group = try CommandRunner().run(["ps", "-e", "-o", "pgid=,stat="]).split(separator: "\n")
            .map { $0.split(separator: " ") }.filter { $0.first.flatMap { Int32($0) } == shell && $0.last?.hasPrefix("Z") == false }
        #expect(group.isEmpty, "\(group)")
        // The run ended (and with it its locks): the next one runs, and retries the pending restart.
        let next = try fixture.run()
        #expect(next.status == 1 && next.stdout.contains("timed out after 1 s"), "\(next.stdout)\(next.stderr)")
    }

    @Test func aSecondWriterOfTheSameTargetsExits75WhateverItsStateDirectory() throws {
        let fixture = try CLIFixture()
        try fixture.declare(restart: "slow-restart.sh")
        let first = try fixture.start()
        let sleeper = try #require(fixture.waitFor("restart.pid").flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        let other = try ReconcileBinary.run(["--dir", fixture.desired, "--state-dir", fixture.path("other-state"), "--dry-run", "--lock-timeout", "0"])
        #expect(other.status == 75)
        #expect(other.stderr.hasPrefix("reconcile: another run writes "), "\(other.stderr)")
        #expect(other.stderr.contains(": pid \(first.pid) since 20") && other.stderr.contains("state directory \(fixture.state)"))
        kill(sleeper, SIGKILL)
        _ = first.wait(timeout: 60)
    }

    @Test func aRunKilledMidwayIsConvergedByTheNextAndTheDatabaseIsIntact() throws {
        let fixture = try CLIFixture()
        try fixture.declare(restart: "slow-restart.sh")
        let first = try fixture.start()
        // Killed while restarting dhcpd: the hosts file is written, the restart has not finished.
        let sleeper = try #require(fixture.waitFor("restart.pid").flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        first.signal(SIGKILL)
        kill(sleeper, SIGKILL)
        #expect(first.wait(timeout: 30) == 128 + SIGKILL)
        #expect(FileManager.default.fileExists(atPath: fixture.path("hosts.conf")))

        try fixture.declare(restart: "restart.sh")
        let dry = try fixture.run("--dry-run")
        #expect(dry.status == 2)
        #expect(dry.stdout.contains("~ service[dhcpd]  runs at the end: pending: notified by a run that ended before running it\n"), "\(dry.stdout)")
        let next = try fixture.run()
        #expect(next.status == 0)
        #expect(fixture.restarts == 1)
        #expect(try fixture.run().stdout.contains("0/4 resources updated"))

        let history = try fixture.tool("history")
        #expect(history.stdout.contains("\n1    "))
        #expect(history.stdout.contains("interrupted"))
        #expect(try RunLog(stateDirectory: fixture.state).run(id: 1)?.status == .interrupted)
        #expect(try RunLog(stateDirectory: fixture.state).integrityCheck() == "ok")
    }

    @Test func nodeChoosesWhichHostsShareToConverge() throws {
        let fixture = try CLIFixture()
        try "authoritative;\nsubnet 10.0.0.0 netmask 255.255.255.0 { }\n".write(toFile: fixture.path("b-dhcpd.conf"), atomically: true, encoding: .utf8)
        try fixture.declare(restart: "restart.sh", hosts: fixture.host("hv1", roles: "[hypervisor]", restart: "restart.sh")
            + fixture.host("dhcp2", roles: "[dhcp]", restart: "restart.sh", prefix: "b-"))

        let ambiguous = try fixture.run("--dry-run")
        #expect(ambiguous.status == 64)
        #expect(ambiguous.stderr == "reconcile: several hosts are declared (hv1, dhcp2); choose one with --node\n")
        #expect(try fixture.run("--node", "nope").status == 64)

        // hv1 has no provider yet for its hypervisor role; dhcp2 serves the reservations.
        #expect(try fixture.run("--node", "hv1").status == 0)
        #expect(!FileManager.default.fileExists(atPath: fixture.path("b-hosts.conf")))
        let dhcp2 = try fixture.run("--node", "dhcp2")
        #expect(dhcp2.status == 0)
        #expect(FileManager.default.fileExists(atPath: fixture.path("b-hosts.conf")))
        #expect(!FileManager.default.fileExists(atPath: fixture.path("hosts.conf")))
    }
}
