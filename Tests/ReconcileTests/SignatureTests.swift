import Basics
import Engine
import Foundation
import RunLog
import Testing

/// Real signing keys: two SSH keys (one allowed, one a stranger's) and an OpenPGP key in a
/// GnuPG home of the test's own, and the files reconcile is given to trust them.
final class SigningKeys {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-keys-\(UUID().uuidString.prefix(8))")
    func path(_ name: String) -> String { root.appendingPathComponent(name).path }
    var allowedSigners: String { path("allowed_signers") }
    var keyring: String { path("keyring.gpg") }
    var gnupgHome: String { path("gnupg") }

    init() throws {
        try FileManager.default.createDirectory(atPath: gnupgHome, withIntermediateDirectories: true)
        chmod(gnupgHome, 0o700)
        for name in ["ops", "stranger"] {
            _ = try CommandRunner().run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path(name)])
        }
        let opsKey = try String(contentsOfFile: path("ops.pub"), encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        try "ops@example.org namespaces=\"git\" \(opsKey)\n".write(toFile: allowedSigners, atomically: true, encoding: .utf8)
        _ = try gpg(["--quick-gen-key", "Ops Signer <gpg@example.org>", "ed25519", "sign", "never"])
        _ = try CommandRunner().run(["sh", "-c", "GNUPGHOME=\"$0\" gpg --batch --export > \"$1\"", gnupgHome, keyring])
    }

    deinit {
        _ = try? CommandRunner().run(["env", "GNUPGHOME=\(gnupgHome)", "gpgconf", "--kill", "gpg-agent"])
        try? FileManager.default.removeItem(at: root)
    }

    func gpg(_ arguments: [String]) throws -> String {
        try CommandRunner().run(["env", "GNUPGHOME=\(gnupgHome)", "gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", ""] + arguments)
    }

    /// git signing with an SSH key (`ops` is allowed, `stranger` is not).
    func ssh(_ name: String) -> (environment: [String], options: [String]) {
        ([], ["-c", "commit.gpgSign=true", "-c", "gpg.format=ssh", "-c", "user.signingkey=\(path(name))"])
    }

    /// git signing with the OpenPGP key.
    var openPGP: (environment: [String], options: [String]) {
        (["GNUPGHOME=\(gnupgHome)"], ["-c", "commit.gpgSign=true", "-c", "gpg.format=openpgp", "-c", "user.signingkey=gpg@example.org"])
    }
}

/// `--verify-signatures`: only commits signed by an allowed key converge; the rest are
/// recorded as rejected before anything is planned, and the last good state stays.
@Suite(.serialized) struct SignatureTests {
    static func reconcile(_ fixture: DaemonFixture, _ keys: SigningKeys, _ extra: [String] = []) throws -> ReconcileBinary.Result {
        try ReconcileBinary.run(["--repo", fixture.path("repo"), "--state-dir", fixture.state, "--verify-signatures",
                                 "--allowed-signers", keys.allowedSigners, "--keyring", keys.keyring] + extra)
    }

    static func lastRun(_ fixture: DaemonFixture) throws -> RunReport? { try RunLog(stateDirectory: fixture.state).runs(limit: 1).first }

    @Test func signedCommitsConvergeWithTheirSignerAndOthersAreRejected() throws {
        let fixture = try DaemonFixture()
        let keys = try SigningKeys()
        // The first commit is unsigned: rejected, nothing planned.
        let unsigned = try Self.reconcile(fixture, keys)
        #expect(unsigned.status == 77, "\(unsigned.stderr)")
        #expect(unsigned.stderr.contains("commit \(fixture.head.prefix(12)) is not signed"), "\(unsigned.stderr)")
        #expect(try Self.lastRun(fixture)?.status == .rejected && fixture.hostsFile.isEmpty)

        fixture.signing = keys.ssh("ops")
        try fixture.commit(ip: "10.0.0.201", message: "signed with ssh")
        let ssh = try Self.reconcile(fixture, keys)
        #expect(ssh.status == 0, "\(ssh.stderr)")
        #expect(fixture.hostsFile.contains("fixed-address 10.0.0.201;"))
        let signer = try #require(try Self.lastRun(fixture)?.signer)
        #expect(signer.hasPrefix("ops@example.org (ssh SHA256:"), "\(signer)")
        let shown = try ReconcileBinary.run(["show", "--state-dir", fixture.state, "2"]).stdout
        #expect(shown.contains("  signed by \(signer)"), "\(shown)")
        #expect(try ReconcileBinary.run(["history", "--state-dir", fixture.state]).stdout.contains("SIGNED BY"))

        fixture.signing = keys.openPGP
        try fixture.commit(ip: "10.0.0.202", message: "signed with openpgp")
        let openPGP = try Self.reconcile(fixture, keys)
        #expect(openPGP.status == 0, "\(openPGP.stderr)")
        let fingerprint = try keys.gpg(["--with-colons", "--list-keys"]).split(separator: "\n").first { $0.hasPrefix("fpr:") }?
            .split(separator: ":", omittingEmptySubsequences: false)[9] ?? "?"
        #expect(try Self.lastRun(fixture)?.signer == "Ops Signer <gpg@example.org> (openpgp \(fingerprint))")

        // Signed, but by a key that is not allowed: ssh-keygen calls such a signature good; it is not.
        fixture.signing = keys.ssh("stranger")
        try fixture.commit(ip: "10.0.0.203", message: "signed by a stranger")
        let stranger = try Self.reconcile(fixture, keys)
        #expect(stranger.status == 77 && stranger.stderr.contains("is signed by a key that is not in \(keys.allowedSigners)"), "\(stranger.stderr)")
        #expect(fixture.hostsFile.contains("fixed-address 10.0.0.202;"))

        // A signed commit whose content was changed after signing (the object rewritten, the signature kept).
        fixture.signing = keys.ssh("ops")
        try fixture.commit(ip: "10.0.0.204", message: "signed, then rewritten")
        let original = try ReconcileBinary.shell(["git", "-C", fixture.path("repo"), "cat-file", "commit", "HEAD"])
        let rewritten = try CommandRunner().run(["git", "-C", fixture.path("repo"), "hash-object", "-t", "commit", "-w", "--stdin"],
                                                input: Data(original.replacingOccurrences(of: "signed, then rewritten", with: "nothing to see").utf8))
            .trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try ReconcileBinary.shell(["git", "-C", fixture.path("repo"), "update-ref", "refs/heads/main", rewritten])
        let tampered = try Self.reconcile(fixture, keys)
        #expect(tampered.status == 77 && tampered.stderr.contains("the signature of commit \(rewritten.prefix(12)) does not verify"), "\(tampered.stderr)")
        #expect(fixture.hostsFile.contains("fixed-address 10.0.0.202;"))
        #expect(try RunLog(stateDirectory: fixture.state).runs(limit: 10).filter { $0.status == .rejected }.count == 3)
    }

    @Test func historyModeRefusesAnUnsignedMergeThatHeadModeLetsThrough() throws {
        let fixture = try DaemonFixture()
        let keys = try SigningKeys()
        fixture.signing = keys.ssh("ops")
        try fixture.commit(ip: "10.0.0.201", message: "signed")
        #expect(try Self.reconcile(fixture, keys, ["--verify-history"]).status == 0)  // nothing applied before: the commit alone

        // A side branch of signed commits merged without a signature, then a signed commit on top.
        try fixture.git("checkout", "-q", "-b", "side")
        try "notes\n".write(toFile: fixture.path("repo/NOTES"), atomically: true, encoding: .utf8)
        try fixture.git("add", "NOTES")
        try fixture.git("commit", "-q", "-m", "notes")
        try fixture.git("checkout", "-q", "main")
        try fixture.git("merge", "-q", "--no-ff", "--no-gpg-sign", "-m", "unsigned merge", "side")
        let merge = fixture.head
        try fixture.commit(ip: "10.0.0.205", message: "signed on top")

        let history = try Self.reconcile(fixture, keys, ["--verify-history"])
        #expect(history.status == 77 && history.stderr.contains("commit \(merge.prefix(12)) is not signed"), "\(history.stderr)")
        #expect(fixture.hostsFile.contains("fixed-address 10.0.0.201;"))
        let head = try Self.reconcile(fixture, keys)
        #expect(head.status == 0, "\(head.stderr)")
        #expect(fixture.hostsFile.contains("fixed-address 10.0.0.205;"))

        // A force-push that drops the applied commit: what the branch holds since the merge
        // base is checked, so an unsigned commit under a signed one is found.
        try fixture.git("reset", "-q", "--hard", "HEAD~2")
        fixture.signing = ([], [])
        try fixture.commit(ip: "10.0.0.206", message: "unsigned, force-pushed")
        let dropped = fixture.head
        fixture.signing = keys.ssh("ops")
        try fixture.commit(ip: "10.0.0.207", message: "signed on top of it")
        let forced = try Self.reconcile(fixture, keys, ["--verify-history"])
        #expect(forced.status == 77 && forced.stderr.contains("commit \(dropped.prefix(12)) is not signed"), "\(forced.stderr)")
        let plan = try ReconcileBinary.run(["plan", "--repo", fixture.path("repo"), "--state-dir", fixture.state, "--verify-signatures",
                                            "--verify-history", "--allowed-signers", keys.allowedSigners])
        #expect(plan.status == 77, "\(plan.stderr)")
        #expect(fixture.hostsFile.contains("fixed-address 10.0.0.205;"))
    }

    @Test func theDaemonRecordsAnUnsignedCommitOnceKeepsTheLastGoodStateAndShowsWhoSigned() throws {
        let fixture = try DaemonFixture()
        let keys = try SigningKeys()
        fixture.signing = keys.ssh("ops")
        try fixture.commit(ip: "10.0.0.201", message: "signed")
        try fixture.start(interval: 0.5, ["--verify-signatures", "--allowed-signers", keys.allowedSigners])
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().first?.status == .converged })
        #expect(try fixture.http("GET", "/").body.contains("<td id=\"signer\">ops@example.org (ssh SHA256:"))

        fixture.signing = ([], [])
        try fixture.commit(ip: "10.0.0.209", message: "pushed without a signature")
        let bad = fixture.head
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.runs().contains { $0.revision == bad } })
        #expect(fixture.waitForSkippedTicks(3), "three more ticks saw the unsigned revision")
        let attempts = fixture.runs().filter { $0.revision == bad }
        #expect(attempts.count == 1 && attempts.first?.status == .rejected, "\(attempts.map(\.status))")
        #expect(fixture.hostsFile.contains("fixed-address 10.0.0.201;"))
        #expect(try fixture.http("GET", "/").body.contains("<td id=\"rejected\"><code>\(bad)</code> is not signed by an allowed key"))

        fixture.signing = keys.ssh("ops")
        try fixture.commit(ip: "10.0.0.210", message: "signed again")
        #expect(fixture.waitUntil(DaemonFixture.patience) { fixture.hostsFile.contains("fixed-address 10.0.0.210;") })
    }

    /// An edited plan cannot lower the check `apply` is given: apply verifies the commit it
    /// fetches with its own policy, refuses a plan recorded with a weaker one, and refuses plan
    /// and key files others may write.
    @Test func aSavedPlanCannotDropTheSignatureCheck() throws {
        let fixture = try DaemonFixture()
        let keys = try SigningKeys()
        let verify = ["--verify-signatures", "--allowed-signers", keys.allowedSigners]
        func plan(_ file: String, _ extra: [String]) throws -> ReconcileBinary.Result {
            try ReconcileBinary.run(["plan", "--out", fixture.path(file), "--repo", fixture.path("repo"), "--state-dir", fixture.state] + extra)
        }
        func apply(_ file: String, _ extra: [String]) throws -> ReconcileBinary.Result {
            try ReconcileBinary.run(["apply", fixture.path(file), "--state-dir", fixture.state] + extra)
        }
        /// Rewrites a plan's JSON as an attacker would, keeping its mode.
        func edit(_ file: String, _ python: String) throws {
            _ = try CommandRunner().run(["python3", "-c", "import json,sys\np=json.load(open(sys.argv[1]))\n\(python)\njson.dump(p,open(sys.argv[1],'w'))", fixture.path(file)])
        }
        fixture.signing = keys.ssh("ops")
        try fixture.commit(ip: "10.0.0.201", message: "signed")
        #expect(try plan("signed.json", verify).status == 2)

        try FileManager.default.copyItem(atPath: fixture.path("signed.json"), toPath: fixture.path("dropped.json"))
        try edit("dropped.json", "p['source']['signatures'] = None")
        let dropped = try apply("dropped.json", verify)
        #expect(dropped.status == 77 && dropped.stderr.contains("the plan was made without verifying signatures"), "\(dropped.stderr)")

        // An unsigned commit planned without the check, then claimed to be checked: apply verifies what it fetches.
        fixture.signing = ([], [])
        try fixture.commit(ip: "10.0.0.205", message: "unsigned")
        #expect(try plan("unsigned.json", []).status == 2)
        #expect(try apply("unsigned.json", verify).status == 77)
        try edit("unsigned.json", "p['source']['signatures'] = json.load(open(sys.argv[1].replace('unsigned', 'signed')))['source']['signatures']")
        let claimed = try apply("unsigned.json", verify)
        #expect(claimed.status == 77 && claimed.stderr.contains("is not signed"), "\(claimed.stderr)")
        #expect(fixture.hostsFile.isEmpty, "nothing was applied")

        // Files others may write are not trusted.
        chmod(fixture.path("signed.json"), 0o666)
        let writable = try apply("signed.json", verify)
        #expect(writable.status == 64 && writable.stderr.contains("is writable by others (mode 666)"), "\(writable.stderr)")
        chmod(keys.allowedSigners, 0o666)
        let signers = try Self.reconcile(fixture, keys)
        #expect(signers.status == 64 && signers.stderr.contains("\(keys.allowedSigners) is writable by others"), "\(signers.stderr)")
    }

    @Test func halfAskedVerificationIsAUsageError() throws {
        let fixture = try DaemonFixture()
        let noKeys = try ReconcileBinary.run(["--repo", fixture.path("repo"), "--state-dir", fixture.state, "--verify-signatures"])
        #expect(noKeys.status == 64 && noKeys.stderr.contains("--verify-signatures needs the keys allowed to sign"))
        let directory = try ReconcileBinary.run(["--dir", fixture.path("repo"), "--state-dir", fixture.state, "--verify-signatures", "--allowed-signers", "/etc/hostname"])
        #expect(directory.status == 64 && directory.stderr.contains("--verify-signatures needs --repo"))
        #expect(try RunLog(stateDirectory: fixture.state).runs(limit: 1).isEmpty)
    }
}
