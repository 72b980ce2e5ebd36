import Basics
import Engine
import Foundation
import Git

/// Which commits may converge: only those signed by a listed key (`--verify-signatures`).
///
/// The signature and the bytes it signs come from libgit2; maintained tools judge them:
/// `ssh-keygen -Y find-principals` / `-Y verify` against an allowed-signers file (git's
/// `gpg.ssh.allowedSignersFile` format) for SSH signatures, `gpgv` against a keyring for
/// OpenPGP ones. Verdicts come from exit statuses and the principal found, never from the
/// tools' prose: for a key that is not listed, ssh-keygen still prints "Good signature".
public struct SignaturePolicy: Sendable, Codable, Equatable {
    public enum Mode: String, Sendable, Codable {
        /// The commit to apply.
        case head
        /// Every commit between the last applied one and the commit to apply, merges included.
        case history
    }

    public var mode: Mode
    public var allowedSigners: String?
    public var keyring: String?

    /// More commits than this between two applied ones is refused, not walked.
    static let historyLimit = 10_000

    public init(mode: Mode, allowedSigners: String?, keyring: String?) {
        (self.mode, self.allowedSigners, self.keyring) = (mode, allowedSigners, keyring)
    }

    /// Whether this policy checks less than `other`: none is weakest, then the commit alone,
    /// then every commit since the last applied one.
    public static func isWeaker(_ policy: SignaturePolicy?, than other: SignaturePolicy?) -> Bool {
        func rank(_ policy: SignaturePolicy?) -> Int { policy.map { $0.mode == .history ? 2 : 1 } ?? 0 }
        return rank(policy) < rank(other)
    }

    /// Why a commit may not converge.
    public struct Rejection: Error, CustomStringConvertible {
        public var description: String
    }

    /// Checks `head` (and, in history mode, every commit since `lastApplied`, or `head` alone
    /// when nothing was applied yet); returns who signed `head`, or throws ``Rejection``.
    /// A force-push that dropped `lastApplied` is checked from the merge base: every commit
    /// the branch holds that was never applied is checked.
    public func verify(_ head: String, lastApplied: String?, in repository: Repository) throws -> String {
        for (file, what) in [(allowedSigners, "the allowed signers file"), (keyring, "the keyring")] {
            guard let file else { continue }
            do { try TrustedFile.check(file, what: what) } catch { throw Rejection(description: "\(error)") }
        }
        var commits = [head]
        if mode == .history, let lastApplied, lastApplied != head {
            guard repository.contains(lastApplied) else {
                throw Rejection(description: "the last applied commit \(lastApplied.prefix(12)) is not in the mirror, so the commits since it "
                                    + "cannot be checked; apply once with --verify-signatures alone (the commit to apply) to start again from it")
            }
            do {
                commits = try repository.commits(since: lastApplied, to: head, limit: Self.historyLimit)
            } catch {
                throw Rejection(description: "cannot list the commits since the last applied one: \(error)")
            }
        }
        var signer = ""
        for commit in commits {
            let who = try verifyOne(commit, in: repository)
            if commit == head { signer = who }
        }
        return signer
    }

    private func verifyOne(_ commit: String, in repository: Repository) throws -> String {
        let short = commit.prefix(12)
        let signed: Repository.SignedCommit
        do {
            guard let found = try repository.signature(of: commit) else { throw Rejection(description: "commit \(short) is not signed") }
            signed = found
        } catch let error as GitError {
            throw Rejection(description: "\(error)")
        }
        let directory = try PrivateDirectory.make(prefix: "reconcile-signature")
        defer { try? FileManager.default.removeItem(at: directory) }
        let signatureFile = directory.appendingPathComponent("signature").path
        try Data(signed.signature.utf8).write(to: URL(fileURLWithPath: signatureFile))
        if signed.signature.hasPrefix("-----BEGIN SSH SIGNATURE-----") {
            guard let allowedSigners else {
                throw Rejection(description: "commit \(short) has an SSH signature and no --allowed-signers file was given")
            }
            return try verifySSH(short, signed, signatureFile: signatureFile, allowedSigners: allowedSigners)
        }
        if signed.signature.hasPrefix("-----BEGIN PGP SIGNATURE-----") {
            guard let keyring else { throw Rejection(description: "commit \(short) has an OpenPGP signature and no --keyring was given") }
            let dataFile = directory.appendingPathComponent("data").path
            try signed.signedData.write(to: URL(fileURLWithPath: dataFile))
            return try verifyOpenPGP(short, signatureFile: signatureFile, dataFile: dataFile, keyring: keyring, home: directory.path)
        }
        throw Rejection(description: "commit \(short) has a signature of a kind reconcile does not verify (only SSH and OpenPGP)")
    }

    /// The principal the key is listed for, then the signature checked for it (namespace `git`).
    private func verifySSH(_ commit: Substring, _ signed: Repository.SignedCommit, signatureFile: String, allowedSigners: String) throws -> String {
        let runner = CommandRunner(timeout: 30)
        let found = try runner.output(["ssh-keygen", "-Y", "find-principals", "-s", signatureFile, "-f", allowedSigners])
        guard found.status == 0, found.timedOutAfter == nil,
              let principal = found.stdout.split(separator: "\n").first.map(String.init), !principal.isEmpty
        else {
            throw Rejection(description: "commit \(commit) is signed by a key that is not in \(allowedSigners)")
        }
        let verified = try runner.output(["ssh-keygen", "-Y", "verify", "-f", allowedSigners, "-I", principal, "-n", "git", "-s", signatureFile],
                                         input: signed.signedData)
        guard verified.status == 0, verified.timedOutAfter == nil else {
            let why = (verified.stderr + verified.stdout).trimmingCharacters(in: .whitespacesAndNewlines)
            throw Rejection(description: "the signature of commit \(commit) does not verify for \(principal): \(why)")
        }
        // Recorded, not judged: the key's fingerprint as ssh-keygen names it.
        let key = verified.stdout.split(separator: " ").first { $0.hasPrefix("SHA256:") }.map { " (ssh \($0.trimmingCharacters(in: .whitespacesAndNewlines)))" } ?? " (ssh)"
        return principal.escapingControlCharacters + key
    }

    /// gpgv with a private home: the keyring given and nothing of root's own.
    private func verifyOpenPGP(_ commit: Substring, signatureFile: String, dataFile: String, keyring: String, home: String) throws -> String {
        let keyringPath = URL(fileURLWithPath: keyring).standardizedFileURL.path
        let result = try CommandRunner(timeout: 30).output(["gpgv", "--homedir", home, "--status-fd", "1", "--keyring", keyringPath, signatureFile, dataFile])
        let status = result.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.filter { $0.first == "[GNUPG:]" }
        guard result.status == 0, result.timedOutAfter == nil, let valid = status.first(where: { $0.count > 2 && $0[1] == "VALIDSIG" }) else {
            if status.contains(where: { $0.count > 1 && $0[1] == "NO_PUBKEY" }) {
                throw Rejection(description: "commit \(commit) is signed by a key that is not in \(keyring)")
            }
            let why = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw Rejection(description: "the signature of commit \(commit) does not verify: \(why)")
        }
        let user = status.first { $0.count > 3 && $0[1] == "GOODSIG" }.map { $0[3...].joined(separator: " ") } ?? ""
        return (user.isEmpty ? "" : user.escapingControlCharacters + " ") + "(openpgp \(valid[2]))"
    }
}
