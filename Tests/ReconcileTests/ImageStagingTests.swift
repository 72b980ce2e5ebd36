import Basics
import Foundation
import Libvirt
import Testing
import TestSupport

/// A run fetches its Images before it takes the node's locks, and a download dies with the run.
@Suite struct ImageStagingTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-staging-\(UUID().uuidString.prefix(8))")
    func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    /// Serves `image.qcow2` on /IMAGE?gate=NAME once the file NAME exists in the root, writing
    /// "GET" to `requests` as each request arrives.
    func startServer(port: Int) throws -> SpawnedProcess {
        let script = """
            import http.server, os, sys, time
            root = sys.argv[2]
            class Handler(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    with open(os.path.join(root, 'requests'), 'a') as log: log.write('GET\\n')
                    gate = os.path.join(root, self.path.split('gate=')[1])
                    while not os.path.exists(gate): time.sleep(0.1)
                    body = open(os.path.join(root, 'image.qcow2'), 'rb').read()
                    self.send_response(200)
                    self.send_header('Content-Length', str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
            http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), Handler).serve_forever()
            """
        return try SpawnedProcess(["python3", "-c", script, "\(port)", root.path], log: "/dev/null")
    }

    func requests() -> Int { ((try? String(contentsOfFile: path("requests"), encoding: .utf8)) ?? "").split(separator: "\n").count }

    /// Whether `pid` holds a lock on a file of reconcile's target lock directory (/proc/locks).
    func holdsTargetLock(_ pid: Int32) throws -> Bool {
        let directory = "/run/lock/reconcile"
        let inodes = Set(((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).compactMap { name -> String? in
            var info = stat()
            return stat(directory + "/" + name, &info) == 0 ? String(info.st_ino) : nil
        })
        return try String(contentsOfFile: "/proc/locks", encoding: .utf8).split(separator: "\n").contains { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            // "1: FLOCK  ADVISORY  WRITE 1234 00:19:5678 0 EOF"
            guard fields.count > 5, fields[4] == "\(pid)", let inode = fields[5].split(separator: ":").last else { return false }
            return inodes.contains(String(inode))
        }
    }

    /// Whether a process downloading `url` is still running.
    func downloading(_ url: String) -> Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).contains { pid in
            guard Int(pid) != nil, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data, as: UTF8.self).contains(url)
        }
    }

    @Test func aDownloadHoldsNoLockAndDiesWithItsRun() throws {
        let lab = try LibvirtLab()
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(atPath: path("desired"), withIntermediateDirectories: true)
        try CommandRunner().run(["qemu-img", "create", "-q", "-f", "qcow2", path("image.qcow2"), "16M"])
        let sha256 = String(try CommandRunner().run(["sha256sum", path("image.qcow2")]).prefix(64))
        let port = LocalPort.unused()
        let server = try startServer(port: port)
        defer { _ = server }
        #expect(waitUntil(30) { (try? CommandRunner().run(["nc", "-z", "127.0.0.1", "\(port)"])) != nil })
        func declare(gate: String) throws -> String {
            let url = "http://127.0.0.1:\(port)/image?gate=\(gate)"
            try """
                kind: Host
                name: hv1
                roles: [hypervisor]
                libvirt: \(lab.uri)
                ---
                kind: Image
                name: base
                source: "\(url)"
                sha256: "\(sha256)"
                pool: \(lab.pool)
                """.write(toFile: path("desired/cloud.yaml"), atomically: true, encoding: .utf8)
            return url
        }
        let arguments = [ReconcileBinary.path, "--dir", path("desired"), "--state-dir", path("state"), "--lock-timeout", "300", "--allow-empty"]

        // Killed while it downloads: curl goes with it, and the next run leaves nothing partial.
        let killedURL = try declare(gate: "never")
        let killed = try SpawnedProcess(arguments, log: path("killed.log"))
        #expect(waitUntil(300) { requests() == 1 }, "the run asks for the image")
        #expect(try !holdsTargetLock(killed.pid), "a download must not hold libvirt's lock")
        killed.signal(SIGKILL)
        _ = killed.wait(timeout: 30)
        #expect(waitUntil(30) { !downloading(killedURL) }, "curl must not outlive its run")

        // Stopped with SIGTERM: curl goes, and what it wrote with it.
        let stoppedURL = try declare(gate: "never-again")
        let stopped = try SpawnedProcess(arguments, log: path("stopped.log"))
        #expect(waitUntil(300) { requests() == 2 }, "the run asks for the image again")
        #expect(waitUntil(30) { ((try? FileManager.default.contentsOfDirectory(atPath: path("state/images"))) ?? []).contains { $0.hasSuffix(".partial") } })
        stopped.signal(SIGTERM)
        #expect(stopped.wait(timeout: 30) == 128 + SIGTERM, "the signal ends the run as it would have")
        #expect(waitUntil(30) { !downloading(stoppedURL) })
        #expect(try FileManager.default.contentsOfDirectory(atPath: path("state/images")).filter { $0.hasSuffix(".partial") }.isEmpty)

        _ = try declare(gate: "open")
        try Data().write(to: URL(fileURLWithPath: path("open")))
        let converged = try ReconcileBinary.run(Array(arguments.dropFirst()))
        #expect(converged.status == 0, "\(converged.stdout)\(converged.stderr)")
        #expect(try Connection(uri: lab.uri).volumes(pool: lab.pool)?.map(\.name) == ["base-\(sha256.prefix(12)).qcow2"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: path("state/images")).isEmpty, "staged and partial files are gone")
    }
}
