import Basics
import Foundation
import Testing
import TestSupport

/// `--repo ssh://…` with `--ssh-key`: a real sshd in a network namespace of the test's own
/// serves a bare repository; reconcile runs inside that namespace.
@Suite(.serialized) struct GitSSHTests {
    @Test func anSSHRepositoryIsReadWithAKeyFileAndRefusedWithout() throws {
        let fixture = try DaemonFixture()  // its repository of DHCP reservations
        let lab = NetworkLab()
        let namespace = try lab.namespace("ssh")
        let shell = CommandRunner()
        for key in ["host", "client", "stranger"] {
            try shell.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", fixture.path(key)])
        }
        try FileManager.default.copyItem(atPath: fixture.path("client.pub"), toPath: fixture.path("authorized_keys"))
        try """
            ListenAddress 127.0.0.1
            Port 2222
            HostKey \(fixture.path("host"))
            AuthorizedKeysFile \(fixture.path("authorized_keys"))
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin prohibit-password
            StrictModes no
            UsePAM no
            PidFile \(fixture.path("sshd.pid"))

            """.write(toFile: fixture.path("sshd_config"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        try shell.run(["git", "clone", "-q", "--bare", fixture.path("repo"), fixture.path("bare.git")])
        try lab.spawn(namespace, ["/usr/sbin/sshd", "-D", "-e", "-f", fixture.path("sshd_config")])
        #expect(fixture.waitUntil(5) { (try? lab.exec(namespace, "nc", "-z", "127.0.0.1", "2222")) != nil })

        let url = "ssh://root@127.0.0.1:2222\(fixture.path("bare.git"))"
        let inNamespace = CommandRunner(netns: namespace)
        try "# none\n".write(toFile: fixture.path("empty_known_hosts"), atomically: true, encoding: .utf8)
        try inNamespace.run(["ssh-keyscan", "-p", "2222", "-t", "ed25519", "127.0.0.1"])
            .write(toFile: fixture.path("known_hosts"), atomically: true, encoding: .utf8)
        func reconcile(_ arguments: [String], knownHosts: String = "known_hosts") throws -> CommandRunner.Output {
            try inNamespace.output([ReconcileBinary.path, "--dry-run", "--repo", url, "--state-dir", fixture.state,
                                    "--ssh-known-hosts", fixture.path(knownHosts)] + arguments)
        }
        let unknown = try reconcile(["--ssh-key", fixture.path("client")], knownHosts: "empty_known_hosts")
        #expect(unknown.status == 69)
        #expect(unknown.stderr.contains("the host key of [127.0.0.1]:2222 is not in \(fixture.path("empty_known_hosts"))"),
                "\(unknown.stderr)")

        let plan = try reconcile(["--ssh-key", fixture.path("client")])
        #expect(plan.status == 2, "\(plan.stdout)\(plan.stderr)")
        #expect(plan.stdout.contains("+ dhcp_host[printer01]  00:25:22:bd:d1:21 → 10.0.0.200 (printer01)"))
        try shell.run(["ssh-keygen", "-q", "-H", "-f", fixture.path("known_hosts")])  // hashed names, as Debian's ssh writes them
        #expect(try reconcile(["--ssh-key", fixture.path("client")]).status == 2)

        let stranger = try reconcile(["--ssh-key", fixture.path("stranger")])
        #expect(stranger.status == 69)
        #expect(stranger.stderr.contains("the server refused the key \(fixture.path("stranger"))"), "\(stranger.stderr)")
        let none = try reconcile([])
        #expect(none.status == 69)
        #expect(none.stderr.contains("give an ssh:// URL with --ssh-key"), "\(none.stderr)")
    }
}
