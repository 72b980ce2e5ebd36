import Basics
import Daemon
import Engine
import Foundation
import RunLog
import Testing
import TestSupport

/// `reconcile daemon` as systemd would run it, on a git repository of DHCP reservations
/// (dhcpd's files in a temporary directory, checked by the real `dhcpd -t`), driven through
/// git commits, its HTTP port and signals.
final class DaemonFixture {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-daemon-\(UUID().uuidString)")
    let port = LocalPort.unused(following: 1)
    var daemon: SpawnedProcess?
    func path(_ name: String) -> String { root.appendingPathComponent(name).path }
    var state: String { path("state") }
    static let secret = "s3cret-for-tests"

    init(restart: String = "echo restarted >> RESTARTS") throws {
        try FileManager.default.createDirectory(atPath: path("repo"), withIntermediateDirectories: true)
        try "authoritative;\nsubnet 10.0.0.0 netmask 255.255.255.0 { }\n".write(toFile: path("dhcpd.conf"), atomically: true, encoding: .utf8)
        try writeScript("#!/bin/sh\n\(restart.replacingOccurrences(of: "RESTARTS", with: path("restarts")))\n", to: path("restart.sh"))
        try Self.secret.write(toFile: path("secret"), atomically: true, encoding: .utf8)
        try git("init", "-q", "-b", "main")
        try commit(ip: "10.0.0.200", message: "printer at .200")
    }

    deinit {
        daemon = nil
        try? FileManager.default.removeItem(at: root)
    }

    /// The environment and git options that sign the next commits (see ``SigningKeys``); none: unsigned.
    var signing: (environment: [String], options: [String]) = ([], [])

    func git(_ arguments: String...) throws {
        _ = try CommandRunner().run(["env"] + signing.environment + ["git", "-C", path("repo"), "-c", "user.name=Ops Person", "-c", "user.email=ops@example.org"]
                                    + signing.options + arguments)
    }

    /// Commits one reservation for the printer at `ip` (an address outside the network makes an invalid commit).
    func commit(ip: String, message: String) throws {
        try """
            kind: Host
            name: gw1
            roles: [dhcp]
            dhcp: {config: \(path("dhcpd.conf")), hostsFile: \(path("hosts.conf")), restart: [\(path("restart.sh"))]}
            ---
            kind: Network
            name: private
            cidr: 10.0.0.0/24
            bridge: br0
            ---
            kind: DHCPHost
            name: printer01
            network: private
            mac: 00:25:22:bd:d1:21
            ip: \(ip)

            """.write(toFile: path("repo/cloud.yaml"), atomically: true, encoding: .utf8)
        try git("add", "-A")
        try git("commit", "-q", "-m", message)
    }

    var head: String {
        (try? CommandRunner().run(["git", "-C", path("repo"), "rev-parse", "HEAD"]))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    /// - Parameter prefix: a command the daemon runs under (`prlimit …`, which execs it).
    func start(interval: Double, _ extra: [String] = [], prefix: [String] = []) throws {
        daemon = try SpawnedProcess(prefix + [ReconcileBinary.path, "daemon", "--repo", path("repo"), "--interval", "\(interval)",
                                     "--listen", "127.0.0.1:\(port)", "--webhook-secret-file", path("secret"), "--state-dir", state] + extra,
                                    log: path("daemon.log"))
        // The tests talk to it: it answers on its port first (or has stopped, and says why).
        let daemon = daemon!
        let answering = waitUntil(Self.patience) { daemon.wait(timeout: 0) != nil || (try? http("GET", "/healthz")) != nil }
        try #require(answering && daemon.wait(timeout: 0) == nil, "the daemon did not start answering on 127.0.0.1:\(port): \(daemon.output)")
    }

    /// Long enough for anything these tests wait for on a loaded machine: waits poll for the
    /// state they need and end as soon as it is there.
    static let patience = 60.0

    func runs() -> [RunReport] { (try? RunLog(stateDirectory: state).runs(limit: 1000)) ?? [] }

    /// Polls `condition` for up to `timeout` seconds (see TestSupport's ``waitUntil(_:_:)``).
    @discardableResult
    func waitUntil(_ timeout: Double, _ condition: () -> Bool) -> Bool {
        TestSupport.waitUntil(timeout, condition)
    }

    var hostsFile: String { (try? String(contentsOfFile: path("hosts.conf"), encoding: .utf8)) ?? "" }

    /// `curl` to the daemon (on `port`, by default the operator's listener, from `netns`);
    /// returns the HTTP status and the body.
    func http(_ method: String, _ route: String, body: String = "", signature: String? = nil, port: Int? = nil, token: String? = nil,
              netns: String = "") throws -> (status: Int, body: String) {
        var arguments = ["curl", "-s", "-w", "\n%{http_code}", "-X", method, "http://127.0.0.1:\(port ?? self.port)\(route)"]
        if method == "POST" { arguments += ["--data-binary", "@-"] }
        if let signature { arguments += ["-H", "X-Hub-Signature-256: \(signature)"] }
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        let output = try CommandRunner(netns: netns).run(arguments, input: method == "POST" ? Data(body.utf8) : nil)
        let status = Int(output.split(separator: "\n").last ?? "") ?? 0
        return (status, String(output.dropLast(String(status).count + 1)))
    }

    /// A counter or gauge of `/metrics` (0 when not exported yet).
    func metric(_ name: String, token: String? = nil) -> Double {
        let text = (try? http("GET", "/metrics", token: token).body) ?? ""
        return text.split(separator: "\n").compactMap { line -> Double? in
            let fields = line.split(separator: " ")
            return fields.count == 2 && fields[0] == name ? Double(fields[1]) : nil
        }.first ?? 0
    }

    /// Waits until the daemon has skipped the rejected revision on `ticks` more ticks: ticks
    /// that could have tried it again, counted by the daemon itself.
    func waitForSkippedTicks(_ ticks: Double) -> Bool {
        let start = metric("reconcile_rejected_revision_skips_total")
        return waitUntil(Self.patience) { metric("reconcile_rejected_revision_skips_total") >= start + ticks }
    }

    func signature(_ body: String) throws -> String {
        let digest = try CommandRunner().run(["openssl", "dgst", "-sha256", "-hmac", Self.secret], input: Data(body.utf8))
        return "sha256=" + (digest.split(separator: " ").last ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

@Suite(.serialized) struct DaemonTests {
    @Test func aCommitIsConvergedByTheNextIntervalRunAndDriftIsCorrected() throws {
        let fixture = try DaemonFixture()
        try fixture.start(interval: 2)
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.hostsFile.contains("fixed-address 10.0.0.200;") }, "\(fixture.daemon?.output ?? "")")
        try fixture.commit(ip: "10.0.0.201", message: "printer moves to .201")
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().first { $0.revision == fixture.head }?.status == .converged })
        #expect(fixture.runs().first { $0.revision == fixture.head }?.trigger == "interval")
        #expect(fixture.hostsFile.contains("fixed-address 10.0.0.201;"))
        // Drift: the hosts file removed by hand is back by a later tick, same revision.
        let before = fixture.runs().count
        try FileManager.default.removeItem(atPath: fixture.path("hosts.conf"))
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.hostsFile.contains("fixed-address 10.0.0.201;") })
        // Metrics are updated after the run is recorded: poll for them, as a scraper would.
        #expect(fixture.waitUntil(DaemonFixture.patience) {
            let metrics = (try? fixture.http("GET", "/metrics").body) ?? ""
            return metrics.contains("reconcile_drift_corrections_total ") && !metrics.contains("reconcile_drift_corrections_total 0") && metrics.contains("reconcile_runs_total{status=\"converged\"} ")
        }, "\((try? fixture.http("GET", "/metrics").body) ?? "")")
        #expect(fixture.runs().count > before)
    }

    @Test func aSignedWebhookStartsARunAndAnUnsignedOneNothing() throws {
        let fixture = try DaemonFixture()
        try fixture.start(interval: 600)  // no interval run during the test: a run after start is the webhook's
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().count == 1 && fixture.runs()[0].status == .converged })
        try fixture.commit(ip: "10.0.0.202", message: "printer moves to .202")

        let body = #"{"ref":"refs/heads/main"}"#
        #expect(try fixture.http("POST", "/hooks/git", body: body).status == 401)
        #expect(try fixture.http("POST", "/hooks/git", body: body, signature: "sha256=" + String(repeating: "0", count: 64)).status == 401)
        #expect(try fixture.http("POST", "/hooks/git", body: body, signature: try fixture.signature(body)).status == 202)
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().first { $0.revision == fixture.head }?.status == .converged },
                "\(fixture.daemon?.output ?? "")")
        // Two runs: the start, then the signed webhook's (the refused ones started none).
        #expect(fixture.runs().map(\.trigger) == ["webhook", "start"])
        #expect(fixture.hostsFile.contains("fixed-address 10.0.0.202;"))
    }

    @Test func aBurstOfWebhooksDuringARunCoalescesIntoOneMoreRun() throws {
        // While the gate file exists, a run that changes something waits in dhcpd's restart.
        let fixture = try DaemonFixture(restart: "while [ -e GATE ]; do sleep 0.05; done".replacingOccurrences(of: "GATE", with: "RESTARTS.gate"))
        try fixture.start(interval: 600)
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().first?.status == .converged })
        FileManager.default.createFile(atPath: fixture.path("restarts.gate"), contents: nil)
        try fixture.commit(ip: "10.0.0.205", message: "printer moves to .205")
        let body = "{}", signature = try fixture.signature("{}")
        #expect(try fixture.http("POST", "/hooks/git", body: body, signature: signature).status == 202)
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().first?.status == .running && fixture.runs().count == 2 })
        for _ in 0..<10 { #expect(try fixture.http("POST", "/hooks/git", body: body, signature: signature).status == 202) }
        try FileManager.default.removeItem(atPath: fixture.path("restarts.gate"))
        // The burst is one run; a signal after it is the run after that.
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().count == 3 && fixture.runs()[0].status != .running })
        fixture.daemon?.signal(SIGHUP)
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().count >= 4 && fixture.runs()[0].status != .running })
        #expect(fixture.runs().map(\.trigger) == ["signal", "webhook", "webhook", "start"])
    }

    @Test func anInvalidCommitIsRecordedOnceAndTheLastGoodStateStaysApplied() throws {
        let fixture = try DaemonFixture()
        try fixture.start(interval: 0.5)
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().first?.status == .converged })
        let good = fixture.head
        try fixture.commit(ip: "10.9.9.9", message: "a typo")
        let bad = fixture.head
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().contains { $0.revision == bad } })
        #expect(fixture.waitForSkippedTicks(3), "three more ticks saw the invalid revision")
        let attempts = fixture.runs().filter { $0.revision == bad }
        #expect(attempts.count == 1 && attempts.first?.status == .failed)
        #expect(attempts.first?.error?.contains("cloud.yaml:15:5: ip 10.9.9.9 is outside network private (10.0.0.0/24)") == true, "\(attempts.first?.error ?? "")")
        #expect(fixture.hostsFile.contains("fixed-address 10.0.0.200;"))
        let page = try fixture.http("GET", "/").body
        #expect(page.contains("<td id=\"applied\"><code>\(good)</code>"))
        #expect(page.contains("<td id=\"attempted\"><code>\(bad)</code>"))
        #expect(page.contains("<td id=\"rejected\"><code>\(bad)</code> is invalid"))

        try fixture.commit(ip: "10.0.0.203", message: "fixed")
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.hostsFile.contains("fixed-address 10.0.0.203;") })
    }

    @Test func aBranchThatCannotBeLoadedIsARecordedFailureAndTheDaemonKeepsServing() throws {
        let fixture = try DaemonFixture()
        try fixture.start(interval: 0.5)
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().first?.status == .converged })
        // Nesting that once overflowed the loader's stack and crash-looped the daemon.
        try ("x:\n" + String(repeating: "- ", count: 70_000) + "x\n").write(toFile: fixture.path("repo/deep.yaml"), atomically: true, encoding: .utf8)
        try fixture.git("add", "-A")
        try fixture.git("commit", "-q", "-m", "a hostile file")
        let bad = fixture.head
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().contains { $0.revision == bad } })
        let failed = fixture.runs().first { $0.revision == bad }
        #expect(failed?.status == .failed && failed?.error?.contains("deep.yaml:2:127: nested deeper than 64 levels") == true, "\(failed?.error ?? "")")
        #expect(try fixture.http("GET", "/healthz").status == 200)
        #expect(fixture.hostsFile.contains("fixed-address 10.0.0.200;"))
    }

    @Test func theBackoffDoublesToFiveMinutesAndHealthFailsAfterFiveFailures() async throws {
        // The backoff itself, without waiting for it: 5 s doubling to at most 5 minutes.
        #expect((1...8).map { ReconcileLoop.backoff(afterFailures: $0) } == [5, 10, 20, 40, 80, 160, 300, 300].map(Duration.seconds))
        let status = DaemonStatus()
        for _ in 0..<4 { await status.skipped(error: "lock held") }
        #expect(await status.unhealthy(stuckAfter: 60) == nil)
        await status.skipped(error: "lock held")
        #expect(await status.unhealthy(stuckAfter: 60) == "failing: lock held")
    }

    /// Synchronous: its waits poll, and a polling wait must not hold a thread of the cooperative pool.
    @Test func failedRunsAreRetriedAndHealthStaysUpBeforeFive() throws {
        let fixture = try DaemonFixture(restart: "echo dhcpd would not start >&2; exit 1")
        try fixture.start(interval: 0.5)
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().count >= 2 && fixture.runs()[0].status != .running })
        #expect(fixture.runs().allSatisfy { $0.status == .failed || $0.status == .running }, "\(fixture.runs().map(\.status))")
        #expect(try fixture.http("GET", "/healthz").status == 200)  // unhealthy only after five failures in a row
    }

    /// The status page and the metrics name a provider that could not read its live state.
    @Test func aProviderThatCannotReadIsNamedOnTheStatusPageAndInTheMetrics() throws {
        let fixture = try DaemonFixture()
        try FileManager.default.createDirectory(atPath: fixture.path("hosts.conf"), withIntermediateDirectories: false)  // not a file dhcpd reads
        try fixture.start(interval: 600)
        let series = "reconcile_provider_read_failures_total{provider=\"dhcpd\"}"
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.metric(series) >= 1 },
                "\((try? fixture.http("GET", "/metrics").body) ?? "")\n\(fixture.daemon?.output ?? "")")
        let page = try fixture.http("GET", "/").body
        #expect(page.contains("<td id=\"unread-providers\">dhcpd could not read live state"), "\(page)")
        let run = try #require(fixture.runs().first { !$0.unreadProviders.isEmpty })
        #expect(run.unreadProviders == ["dhcpd"])
        // `history` names it beside the status, `show` says what it means.
        let history = try ReconcileBinary.run(["history", "--state-dir", fixture.state])
        #expect(history.stdout.contains("failed (dhcpd unread)"), "\(history.stdout)")
        let show = try ReconcileBinary.run(["show", "\(run.id ?? 0)", "--state-dir", fixture.state])
        #expect(show.stdout.contains("unread    dhcpd (could not read live state"), "\(show.stdout)")
    }

    @Test func aStuckRunMakesHealthFailAndACommandThatOutlivesItsTimeoutIsKilled() throws {
        // The restart waits for a gate the test removes: the run is stuck until then.
        let fixture = try DaemonFixture(restart: "while [ -e GATE ]; do sleep 0.05; done".replacingOccurrences(of: "GATE", with: "RESTARTS.gate"))
        FileManager.default.createFile(atPath: fixture.path("restarts.gate"), contents: nil)
        try fixture.start(interval: 600, ["--stuck-after", "1"])
        #expect(fixture.waitUntil(DaemonFixture.patience) {
            let health = try? fixture.http("GET", "/healthz")
            return health?.status == 503 && health?.body == "failing\n"
        })
        // Why is on the status page, not on the probe's endpoint.
        #expect(try fixture.http("GET", "/").body.contains("<td id=\"health\">stuck: a run has been in progress for"))
        try FileManager.default.removeItem(atPath: fixture.path("restarts.gate"))
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().first?.status == .converged })
        #expect(try fixture.http("GET", "/healthz").status == 200)
    }

    @Test func theWebhookListenerAnswersTheSignedWebhookAndNothingElse() throws {
        let fixture = try DaemonFixture()
        let hooks = fixture.port + 1
        try fixture.start(interval: 600, ["--webhook-listen", "127.0.0.1:\(hooks)"])
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().first?.status == .converged })
        #expect(try fixture.http("GET", "/healthz") == (200, "ok\n"))
        for route in ["/", "/metrics", "/healthz"] { #expect(try fixture.http("GET", route, port: hooks).status == 404, "\(route)") }
        #expect(try fixture.http("POST", "/hooks/git", body: "{}", port: hooks).status == 401)
        #expect(try fixture.http("POST", "/hooks/git", body: "{}", signature: fixture.signature("{}")).status == 404)  // not on --listen
        let big = String(repeating: "x", count: 2 << 20)
        #expect(try fixture.http("POST", "/hooks/git", body: big, signature: fixture.signature(big), port: hooks).status == 413)
        #expect(try fixture.http("POST", "/hooks/git", body: "{}", signature: fixture.signature("{}"), port: hooks).status == 202)
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().count == 2 && fixture.runs()[0].trigger == "webhook" })
    }

    @Test func offLoopbackEverythingButTheWebhookNeedsTheToken() throws {
        let fixture = try DaemonFixture()
        let refused = try ReconcileBinary.run(["daemon", "--repo", fixture.path("repo"), "--state-dir", fixture.state, "--listen", "0.0.0.0:\(fixture.port)"])
        #expect(refused.status == 64 && refused.stderr.contains("--listen 0.0.0.0:\(fixture.port) is reachable from other machines: give --token-file"))

        // Bound to every address of a namespace of the test's own.
        let lab = NetworkLab()
        let namespace = try lab.namespace("dmn")
        let token = "t0ken-for-the-status-page"
        try token.write(toFile: fixture.path("token"), atomically: true, encoding: .utf8)
        fixture.daemon = try SpawnedProcess(["ip", "netns", "exec", namespace, ReconcileBinary.path, "daemon", "--repo", fixture.path("repo"),
                                             "--interval", "600", "--listen", "0.0.0.0:\(fixture.port)", "--token-file", fixture.path("token"),
                                             "--webhook-secret-file", fixture.path("secret"), "--state-dir", fixture.state], log: fixture.path("daemon.log"))
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().first?.status == .converged })
        for route in ["/", "/metrics", "/healthz"] {
            #expect(try fixture.http("GET", route, netns: namespace).status == 401, "\(route)")
            #expect(try fixture.http("GET", route, token: "wrong-token-of-the-same-size", netns: namespace).status == 401, "\(route)")
            #expect(try fixture.http("GET", route, token: token, netns: namespace).status == 200, "\(route)")
        }
        // The git server cannot send a bearer token; the webhook's signature is its own.
        #expect(try fixture.http("POST", "/hooks/git", body: "{}", signature: fixture.signature("{}"), netns: namespace).status == 202)
        fixture.daemon = nil  // stopped by its pid before the namespace goes
    }

    /// 2,000 half-sent webhooks on the webhook listener of a daemon limited to 1,024 open
    /// files: each listener holds its share, the rest wait in the backlog; health answers and
    /// a run opens what it needs.
    @Test func halfSentWebhooksCannotStarveTheNode() throws {
        let fixture = try DaemonFixture()
        let hooks = fixture.port + 1
        try fixture.start(interval: 600, ["--webhook-listen", "127.0.0.1:\(hooks)"], prefix: ["prlimit", "--nofile=1024:1024", "--"])
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().first?.status == .converged })
        // 2,000 connections, each sent the head of a webhook whose body never comes; ready when
        // 1,100 are connected (more than the daemon's descriptors without a cap) or after 10 s.
        let flood = """
            import resource, select, socket, time
            resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
            pending = []
            for _ in range(2000):
                s = socket.socket()
                s.setblocking(False)
                try: s.connect(('127.0.0.1', \(hooks)))
                except BlockingIOError: pass
                pending.append(s)
            poller, sockets = select.poll(), {s.fileno(): s for s in pending}
            for s in pending: poller.register(s, select.POLLOUT)
            connected, deadline = 0, time.time() + 10
            while sockets and connected < 1100 and time.time() < deadline:
                for fd, _ in poller.poll(500):
                    s = sockets.pop(fd)
                    poller.unregister(fd)
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                        s.send(b'POST /hooks/git HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 100\\r\\n\\r\\n{')
                        connected += 1
            print('ready', connected, flush=True)
            time.sleep(600)
            """
        let client = try SpawnedProcess(["python3", "-c", flood], log: fixture.path("flood.log"))
        defer { client.signal(SIGKILL) }
        #expect(fixture.waitUntil(DaemonFixture.patience) { client.output.hasPrefix("ready") }, "\(client.output)")
        // Without a cap the daemon accepts until its descriptors run out: give it the time to.
        let descriptors = { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(fixture.daemon?.pid ?? 0)/fd").count) ?? 0 }
        fixture.waitUntil(10) { descriptors() >= 1000 }
        #expect(descriptors() <= Daemon.defaultMaxConnections + 100, "the webhook listener holds at most its cap: \(descriptors()) open")
        #expect(try fixture.http("GET", "/healthz") == (200, "ok\n"))
        fixture.daemon?.signal(SIGHUP)
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().count == 2 && fixture.runs()[0].trigger == "signal" })
        #expect([.converged, .noChanges].contains(fixture.runs().first?.status), "\(fixture.runs().first?.error ?? "")")
    }

    @Test func anIdleConnectionIsClosedAndAnEmptyWebhookSecretRefused() throws {
        let fixture = try DaemonFixture()
        try fixture.start(interval: 600, ["--idle-timeout", "1"])
        #expect(fixture.waitUntil(DaemonFixture.patience) { (try? fixture.http("GET", "/healthz").status) == 200 })
        // A client that connects and sends nothing: the server hangs up (recv returns no bytes).
        let probe = "import socket\ns = socket.create_connection(('127.0.0.1', \(fixture.port)))\ns.settimeout(\(DaemonFixture.patience))\n"
            + "print('closed' if s.recv(1) == b'' else 'data')\n"
        #expect(try CommandRunner().run(["python3", "-c", probe]) == "closed\n")

        try "\n".write(toFile: fixture.path("empty-secret"), atomically: true, encoding: .utf8)
        let refused = try ReconcileBinary.run(["daemon", "--repo", fixture.path("repo"), "--state-dir", fixture.path("state2"),
                                               "--webhook-secret-file", fixture.path("empty-secret")])
        #expect(refused.status == 64 && refused.stderr.contains("holds 0 bytes; use at least 16"), "\(refused.stderr)")
    }

    @Test func aBusyPortStopsTheDaemonBeforeItsFirstRun() throws {
        let fixture = try DaemonFixture()
        try fixture.start(interval: 600)
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().first?.status == .converged })
        // A second daemon on the same port, with a state directory of its own.
        let second = try SpawnedProcess([ReconcileBinary.path, "daemon", "--repo", fixture.path("repo"), "--interval", "10m",
                                         "--listen", "127.0.0.1:\(fixture.port)", "--state-dir", fixture.path("state2")], log: fixture.path("second.log"))
        #expect(second.wait(timeout: DaemonFixture.patience) == 1)
        #expect(second.output.contains("the daemon on 127.0.0.1:\(fixture.port) stopped") && second.output.contains("in use"), "\(second.output)")
        #expect(((try? RunLog(stateDirectory: fixture.path("state2")).runs(limit: 10)) ?? []).isEmpty)
    }

    @Test func whileSuspendedRunsPlanButApplyNothing() throws {
        let fixture = try DaemonFixture()
        try fixture.start(interval: 600)
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().first?.status == .converged })
        let suspend = try ReconcileBinary.run(["suspend", "--reason", "maintenance of hv1", "--until", "2099-01-01T00:00:00Z",
                                               "--state-dir", fixture.state])
        #expect(suspend.status == 0)
        try fixture.commit(ip: "10.0.0.204", message: "printer moves to .204")
        fixture.daemon?.signal(SIGHUP)
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().first { $0.revision == fixture.head }?.status == .changesPending })
        #expect(fixture.runs().first?.dryRun == true)
        #expect(fixture.hostsFile.contains("fixed-address 10.0.0.200;"))
        #expect(try fixture.http("GET", "/").body.contains("Suspended: maintenance of hv1 until 2099-01-01T00:00:00Z."))

        #expect(try ReconcileBinary.run(["resume", "--state-dir", fixture.state]).status == 0)
        fixture.daemon?.signal(SIGHUP)
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.hostsFile.contains("fixed-address 10.0.0.204;") })
    }

    /// The status page as a real browser (headless Chromium) builds it.
    @Test func theStatusPageShowsRevisionsSuspensionDriftAndRunsInABrowser() throws {
        let fixture = try DaemonFixture()
        try fixture.start(interval: 600)
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().first?.status == .converged })
        let applied = fixture.head
        #expect(try ReconcileBinary.run(["suspend", "--reason", "disk swap", "--state-dir", fixture.state]).status == 0)
        try fixture.commit(ip: "10.0.0.206", message: "printer moves to .206")
        fixture.daemon?.signal(SIGHUP)
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().count == 2 && fixture.runs()[0].status != .running })

        let dom = try CommandRunner().output(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                                              "http://127.0.0.1:\(fixture.port)/"], drainTimeout: 5).stdout
        #expect(dom.contains("<tbody><tr><th>applied revision</th><td id=\"applied\"><code>\(applied)</code>"), "\(dom)")
        #expect(dom.contains("<td id=\"attempted\"><code>\(fixture.head)</code>"))
        #expect(dom.contains("<p id=\"suspended\" class=\"suspended\">Suspended: disk swap until `reconcile resume`."))
        #expect(dom.contains("<ul id=\"drift\"><li>would-update dhcp_host[printer01]: fixed-address: 10.0.0.200 → 10.0.0.206</li>"))
        #expect(dom.components(separatedBy: "<tr><td>#").count - 1 == 2)
        #expect(dom.contains("changes-pending (dry-run)"))
    }

    @Test func theStatusPageListsFiftyResourcesOfABigRunAndCountsTheRest() throws {
        let fixture = try DaemonFixture()
        let log = try RunLog(stateDirectory: fixture.state)
        var big = RunReport(trigger: "manual", revision: "sha256:big", node: "gw1", dryRun: false, startedAt: Date())
        big.id = try log.begin(big)
        big.status = .converged
        big.outcomes = (1...5_000).map { ResourceOutcome(ResourceID("firewall_rule", "r\($0)"), .updated, action: .create) }
        big.counts = RunReport.Counts(big.outcomes)
        try log.finish(big)
        try fixture.start(interval: 600)
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().count == 2 && fixture.runs().first?.status == .converged })

        let page = try fixture.http("GET", "/").body
        #expect(page.contains("updated firewall_rule[r50]<br>… and 4950 more: <code>reconcile show \(big.id ?? 0)</code>"), "\(page)")
        #expect(!page.contains("firewall_rule[r51]"))
        #expect(page.utf8.count < 20_000)
    }

    @Test func sigkillMidRunLeavesAHistoryTheNextDaemonCompletesAndSigtermExits0() throws {
        let fixture = try DaemonFixture(restart: "echo $$ > RESTARTS.pid\nsleep 3\necho restarted >> RESTARTS")
        try fixture.start(interval: 600)
        // The first run's dhcpd restart takes 3 s: kill the daemon in the middle of it.
        #expect(fixture.waitUntil(DaemonFixture.patience) { FileManager.default.fileExists(atPath: fixture.path("restarts.pid")) })
        fixture.daemon?.signal(SIGKILL)
        #expect(fixture.daemon?.wait(timeout: DaemonFixture.patience) == 128 + SIGKILL)
        if let pid = Int32((try? String(contentsOfFile: fixture.path("restarts.pid"), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") {
            kill(pid, SIGTERM)  // the restart script it left, by its pid
        }

        try fixture.start(interval: 600)
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().count == 2 && fixture.runs()[0].status == .converged }, "\(fixture.daemon?.output ?? "")")
        #expect(fixture.runs().map(\.status) == [.converged, .interrupted])
        #expect(try RunLog(stateDirectory: fixture.state).integrityCheck() == "ok")
        #expect(fixture.waitUntil(DaemonFixture.patience) { (try? String(contentsOfFile: fixture.path("restarts"), encoding: .utf8))?.contains("restarted") == true })

        fixture.daemon?.signal(SIGTERM)
        #expect(fixture.daemon?.wait(timeout: DaemonFixture.patience) == 0, "\(fixture.daemon?.output ?? "")")
    }

    @Test func sigtermLetsTheStepInFlightFinishAndRecordsTheRunAsInterrupted() throws {
        let fixture = try DaemonFixture(restart: "echo $$ > RESTARTS.pid\nsleep 2\necho restarted >> RESTARTS")
        try fixture.start(interval: 600)
        #expect(fixture.waitUntil(DaemonFixture.patience) { FileManager.default.fileExists(atPath: fixture.path("restarts.pid")) })
        fixture.daemon?.signal(SIGTERM)
        #expect(fixture.daemon?.wait(timeout: DaemonFixture.patience) == 0, "\(fixture.daemon?.output ?? "")")
        #expect(fixture.runs().first?.status == .interrupted)
        #expect((try? String(contentsOfFile: fixture.path("restarts"), encoding: .utf8)) == "restarted\n")  // it finished
    }

    @Test func twoHundredNoOpCyclesKeepMemoryFlat() throws {
        let fixture = try DaemonFixture()
        try fixture.start(interval: 0.02)
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().count >= 10 })
        let atTen = try #require(fixture.daemon?.residentKiB)
        #expect(fixture.waitUntil(10 * DaemonFixture.patience) { fixture.runs().count >= 200 })
        let atTwoHundred = try #require(fixture.daemon?.residentKiB)
        print("daemon RSS: \(atTen / 1024) MiB at cycle 10, \(atTwoHundred / 1024) MiB at cycle 200")
        #expect(atTwoHundred - atTen < 16 * 1024, "grew from \(atTen) KiB to \(atTwoHundred) KiB")
    }
}
