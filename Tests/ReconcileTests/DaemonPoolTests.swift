import Basics
import Daemon
import Engine
import Foundation
import RunLog
import Runs
import Testing
import TestSupport

/// The daemon's HTTP side answers while its run waits: for a restart handler, inside a long
/// `nft -f`, for another process's lock. The daemon runs in this process with all its work
/// (the loop, the runs, the HTTP handlers) on one thread (``OneThreadExecutor``): a run that
/// blocked that thread instead of suspending would stop `/healthz` too. Each wait is held open
/// by a gate the test controls, never by a sleep.
@Suite(.serialized) struct DaemonPoolTests {
    @Test func healthAndMetricsAnswerWhileTheRunWaitsForACommandATransactionOrALock() async throws {
        let lab = NetworkLab()
        let namespace = try lab.namespace("pool")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-pool-\(UUID().uuidString.prefix(8))")
        func path(_ name: String) -> String { root.appendingPathComponent(name).path }
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(atPath: path("desired"), withIntermediateDirectories: true)
        try "authoritative;\nsubnet 10.0.0.0 netmask 255.255.0.0 { }\n".write(toFile: path("dhcpd.conf"), atomically: true, encoding: .utf8)
        // The restart says it started, then waits while its gate exists.
        FileManager.default.createFile(atPath: path("restart.gate"), contents: nil)
        try writeScript("#!/bin/sh\ntouch \(path("restart.started"))\nwhile [ -e \(path("restart.gate")) ]; do sleep 0.05; done\n", to: path("restart.sh"))
        // Enough VMs that one `nft -f` is there long enough to be found and held.
        let vms = (0..<1_500).map { index in
            let ip = "10.0.\(index / 250).\(index % 250 + 2)", mac = String(format: "00:25:22:bd:%02x:%02x", index / 250, index % 250 + 2)
            return "kind: VirtualMachine\nname: vm\(index)\nhost: hv1\nmemory: 128MiB\nvcpus: 1\ninterfaces: [{network: private, mac: \"\(mac)\", ip: \(ip)}]\n---\n"
                + "kind: FirewallRule\nname: vm\(index)-web\nvm: vm\(index)\nprotocol: tcp\nsource: 0.0.0.0/0\nports: [80]\n---\n"
        }
        // The VMs run on hv1; the daemon converges gw1, the firewall and DHCP server in front of them.
        try """
            kind: Host
            name: hv1
            roles: [hypervisor]
            ---
            kind: Host
            name: gw1
            roles: [firewall, dhcp]
            netns: \(namespace)
            firewall: {backend: nftables}
            dhcp: {config: \(path("dhcpd.conf")), hostsFile: \(path("hosts.conf")), restart: [\(path("restart.sh"))]}
            ---
            kind: Network
            name: private
            cidr: 10.0.0.0/16
            bridge: br0
            ---

            """.appending(vms.joined()).write(toFile: path("desired/cloud.yaml"), atomically: true, encoding: .utf8)

        let port = LocalPort.unused()
        let pipeline = RunPipeline(source: .directory(path("desired")), stateDirectory: path("state"), node: "gw1")
        try StateDirectory.prepare(path("state"))
        let daemon = Daemon(pipeline: pipeline, interval: .seconds(600), host: "127.0.0.1", port: port, webhookSecret: nil)
        let executor = OneThreadExecutor()
        let running = Task { try await withTaskExecutorPreference(executor) { try await daemon.run() } }
        defer { running.cancel() }
        func get(_ route: String) -> (status: Int, body: String) {
            // A deadline, not a measurement: a blocked daemon never answers.
            let output = (try? CommandRunner().run(["curl", "-s", "--max-time", "30", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)\(route)"])) ?? ""
            let status = Int(output.split(separator: "\n").last ?? "") ?? 0
            return (status, String(output.dropLast(String(status).count + 1)))
        }
        /// `/healthz` says ok, `/metrics` and the status page are served.
        func answers() -> Bool {
            let health = get("/healthz"), metrics = get("/metrics"), page = get("/")
            let answered = health == (200, "ok\n") && metrics.status == 200 && page.body.contains("<h1>reconcile</h1>")
            if !answered { Issue.record("/healthz \(health), /metrics \(metrics.status), / \(page.status)") }
            return answered
        }
        func runs() -> [RunReport] { (try? RunLog(stateDirectory: path("state")).runs(limit: 100)) ?? [] }

        // 1. Inside `nft -f`: the transaction is found and stopped (SIGSTOP) until the test has asked.
        func holdTheTransaction(until done: () -> Bool) -> Bool {
            guard let transaction = NFTProcess.find(in: namespace, until: done) else { return false }
            kill(transaction, SIGSTOP)
            #expect(answers(), "the daemon did not answer while nft -f ran")
            kill(transaction, SIGCONT)
            return true
        }
        var held = holdTheTransaction { FileManager.default.fileExists(atPath: path("restart.started")) }

        // 2. Inside the restart handler dhcpd's change notified.
        #expect(waitUntil(120) { FileManager.default.fileExists(atPath: path("restart.started")) })
        #expect(answers(), "the daemon did not answer while the restart ran")
        try FileManager.default.removeItem(atPath: path("restart.gate"))
        #expect(waitUntil(120) { runs().first?.status == .converged }, "\(runs().first.map { "\($0.status) \($0.error ?? "")" } ?? "no run")")

        // A transaction that ended before it was seen: the table is deleted by hand, and the run
        // that puts it back is watched instead.
        for _ in 0..<5 where !held {
            try lab.exec(namespace, "nft", "delete", "table", "inet", "reconcile")
            let before = runs().count
            kill(getpid(), SIGHUP)  // run now
            held = holdTheTransaction { runs().count > before && runs().first?.status != .running }
            #expect(waitUntil(120) { runs().count > before && runs().first?.status == .converged })
        }
        #expect(held, "no nft -f was seen running")

        // 3. Waiting for the state directory's lock, which another process holds.
        FileManager.default.createFile(atPath: path("lock.gate"), contents: nil)
        let holder = try SpawnedProcess(["flock", path("state/lock"), "sh", "-c",
                                         "touch \(path("lock.held")); while [ -e \(path("lock.gate")) ]; do sleep 0.05; done"], log: "/dev/null")
        #expect(waitUntil(60) { FileManager.default.fileExists(atPath: path("lock.held")) })
        let beforeLock = runs().count
        kill(getpid(), SIGHUP)  // run now
        #expect(waitUntil(60) { get("/").body.contains("id=\"lock-wait\"") }, "the status page never said the run waits for the lock")
        #expect(answers(), "the daemon did not answer while its run waited for the lock")
        try FileManager.default.removeItem(atPath: path("lock.gate"))
        _ = holder.wait(timeout: 30)
        #expect(waitUntil(120) { runs().count > beforeLock && runs().first?.status == .converged })
        running.cancel()
        _ = try? await running.value
    }
}

/// Finding a real `nft -f -` this process started in a network namespace.
enum NFTProcess {
    /// The pid of a child of this process running `nft -f -` (not `nft -c`) in `namespace`,
    /// looked for until one appears or `done` says it will not any more.
    static func find(in namespace: String, until done: () -> Bool) -> pid_t? {
        var info = stat()
        guard stat("/run/netns/\(namespace)", &info) == 0 else { return nil }
        let target = "net:[\(info.st_ino)]"
        let me = getpid()
        while !done() {
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                guard let pid = pid_t(entry), pid != me,
                      let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                      let parent = stat.split(separator: ")").last?.split(separator: " ").dropFirst().first, pid_t(parent) == me,
                      let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                      command == Data("nft\0-f\0-\0".utf8),
                      (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/net")) == target else { continue }
                return pid
            }
        }
        return nil
    }
}
