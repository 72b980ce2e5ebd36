import Basics
import Foundation
import Testing
import TestSupport

extension Tag {
    /// Boots a real guest operating system under TCG: minutes, not seconds. Skip with
    /// `scripts/test --skip GuestBootTests`.
    @Tag static var guest: Self
}

/// "Commit a VM, get a reachable, configured server": one `reconcile` run puts a Debian 12
/// image (built from Debian's packages by scripts/guest-image, served over HTTP on 127.0.0.1)
/// into a pool, makes the VM's disk on it and its cloud-init seed; the guest boots under TCG,
/// and over the network the test sees what cloud-init did. New user data and a restart: the
/// guest applies it.
@Suite(.tags(.guest), .serialized) struct GuestBootTests {
    let libvirt: LibvirtLab
    let network = NetworkLab()
    let gateway: String
    let root: URL
    let address = "10.77.0.40"

    init() throws {
        libvirt = try LibvirtLab()
        gateway = try network.namespace("gw")
        root = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-guest-\(libvirt.id)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("repo/cloud-init"), withIntermediateDirectories: true)
        // The namespace sits on the lab's bridge as the network's gateway: the test reaches the guest from there.
        try libvirt.joinBridge(gateway, address: "10.77.0.1/24")
    }

    func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    func git(_ arguments: String...) throws { _ = try ReconcileBinary.shell(["git", "-C", path("repo")] + arguments) }

    func reconcile(_ extra: String...) throws -> ReconcileBinary.Result {
        try ReconcileBinary.run(ReconcileBinary.waitForLocks(["--repo", path("repo"), "--state-dir", path("state")] + extra))
    }

    /// Runs `command` in the guest over SSH from the gateway namespace, as the image's default
    /// user with the declared key; nil while the guest does not answer (or refuses the key).
    func ssh(_ command: String) -> String? {
        let arguments = ["ssh", "-i", path("key"), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                         "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", "debian@\(address)", command]
        guard let result = try? CommandRunner(netns: gateway, timeout: 60).output(arguments), result.status == 0 else { return nil }
        return result.stdout
    }

    /// Waits (up to 15 minutes: TCG on a loaded machine) until `command` answers `expected`.
    func waitForGuest(_ command: String, _ expected: String) -> String? {
        let deadline = Date().addingTimeInterval(900)
        var last: String?
        while Date() < deadline {
            last = ssh(command)
            if last == expected { return last }
            sleep(3)
        }
        return last
    }

    func userData(_ marker: String) -> String {
        "#cloud-config\nwrite_files:\n  - {path: /etc/reconcile-marker, content: \"\(marker)\\n\"}\n"
    }

    @Test func aCommittedVMBootsConfiguredAndTakesNewUserDataAtItsNextBoot() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        // Built into an empty cache, as on a fresh machine: its stdout is the image's path and
        // nothing else (mkfs.ext4 once printed "Creating regular file …" there).
        let cache = path("image-cache")
        let printed = try CommandRunner(timeout: 1800).run(
            ["env", "RECONCILE_GUEST_IMAGE_CACHE=\(cache)", ReconcileBinary.repository.appendingPathComponent("scripts/guest-image").path])
        let image = cache + "/debian-12-cloudinit-v2.qcow2"
        #expect(printed == image + "\n", "guest-image printed \(printed.debugDescription)")
        #expect(FileManager.default.fileExists(atPath: image))
        let sha256 = String(try CommandRunner(timeout: 300).run(["sha256sum", image]).prefix(64))
        let port = LocalPort.unused()
        let server = try SpawnedProcess(["python3", "-m", "http.server", "\(port)", "--bind", "127.0.0.1",
                                         "--directory", (image as NSString).deletingLastPathComponent], log: "/dev/null")
        defer { _ = server }
        let url = "http://127.0.0.1:\(port)/\((image as NSString).lastPathComponent)"
        #expect(waitUntil(30) { (try? CommandRunner().run(["curl", "-fsI", url])) != nil })
        try CommandRunner().run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", path("key")])
        let publicKey = try String(contentsOfFile: path("key.pub"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)

        let vm = libvirt.prefix + "-web"
        try """
            kind: Host
            name: hv1
            roles: [hypervisor]
            libvirt: \(libvirt.uri)
            virtType: qemu
            ---
            kind: Network
            name: lab
            cidr: 10.77.0.0/24
            gateway: 10.77.0.1
            dns: [10.77.0.1]
            bridge: \(libvirt.bridge)
            ---
            kind: Image
            name: debian-12
            source: \(url)
            sha256: "\(sha256)"
            pool: \(libvirt.pool)
            ---
            kind: VirtualMachine
            name: \(vm)
            memory: 512MiB
            vcpus: 1
            disks: [{name: root, pool: \(libvirt.pool), size: 4GiB, image: debian-12}]
            interfaces: [{network: lab, mac: "00:25:22:77:00:40", ip: \(address)}]
            cloudInit:
              userDataFile: cloud-init/web.cfg
              sshAuthorizedKeys: ["\(publicKey)"]

            """.write(toFile: path("repo/cloud.yaml"), atomically: true, encoding: .utf8)
        try userData("one").write(toFile: path("repo/cloud-init/web.cfg"), atomically: true, encoding: .utf8)
        try git("init", "-q", "-b", "main")
        try git("-c", "user.name=Ops", "-c", "user.email=ops@example.org", "add", "-A")
        try git("-c", "user.name=Ops", "-c", "user.email=ops@example.org", "commit", "-q", "-m", "A web server")

        // One run: the image into the pool, the disk on it, the seed, the running guest.
        let first = try reconcile()
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
        #expect(first.stdout.contains("libvirt_image[") && first.stdout.contains("libvirt_domain[\(vm)]"), "\(first.stdout)")

        // What cloud-init did, seen over the network: the key is accepted, the name and the
        // address are the declared ones, the user data ran.
        let facts = "hostname; ip -4 -o addr show eth0 | awk '{print $4}'; cat /etc/reconcile-marker"
        #expect(waitForGuest(facts, "\(vm)\n\(address)/24\none\n") == "\(vm)\n\(address)/24\none\n")
        #expect(try reconcile("--dry-run").status == 0)

        // New user data: planned as taking effect at next boot; with a restart allowed, applied.
        try userData("two").write(toFile: path("repo/cloud-init/web.cfg"), atomically: true, encoding: .utf8)
        try git("-c", "user.name=Ops", "-c", "user.email=ops@example.org", "commit", "-q", "-am", "New user data")
        let planned = try reconcile("--dry-run")
        #expect(planned.stdout.contains("cloudInit.userData: sha256:") && planned.stdout.contains("(takes effect at next boot)"), "\(planned.stdout)")
        let restarted = try reconcile("--allow-restart")
        #expect(restarted.status == 0, "\(restarted.stdout)\n\(restarted.stderr)")
        #expect(waitForGuest(facts, "\(vm)\n\(address)/24\ntwo\n") == "\(vm)\n\(address)/24\ntwo\n")
    }
}
