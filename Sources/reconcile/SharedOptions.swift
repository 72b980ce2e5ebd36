import ArgumentParser
import Basics
import Engine
import Foundation
import Git
import Providers
import Runs

/// Where in a repository the desired state is: shared by `run` and `daemon`.
struct GitSourceOptions: ParsableArguments {
    @Option(help: "The branch, tag or commit id to read.")
    var ref = "main"

    @Option(help: "The subdirectory holding the desired state.")
    var path = ""

    @Option(help: "For an ssh:// repository: the private key to log in with (e.g. a deploy key).")
    var sshKey: String?

    @Option(help: "For an ssh:// repository: the known_hosts file its server's key must be in (default ~/.ssh/known_hosts).")
    var sshKnownHosts: String?

    @Option(help: "For an https://user@host/… repository: a file holding the user's password or token (never put it in the URL).")
    var passwordFile: String?

    @OptionGroup var signatures: SignatureOptions

    private func usage(_ message: String) -> ExitCode {
        Terminal.printError(message)
        return ExitStatus.usage
    }

    /// The repository source; a URL holding a password is refused (exit 64) before it is
    /// stored or shown anywhere.
    func source(_ url: String, offline: Bool = false) throws -> DesiredStateSource {
        guard !Repository.holdsPassword(url) else {
            Terminal.printError(Repository.passwordInURLMessage)
            throw ExitStatus.usage
        }
        for (file, what) in [(sshKey, "the SSH key"), (passwordFile, "the password file")] {
            guard let file else { continue }
            do {
                try TrustedFile.check(file, what: what)
            } catch {
                Terminal.printError("\(error)")
                throw ExitStatus.usage
            }
        }
        return .repository(.init(url: url, ref: ref, path: path, offline: offline, sshKey: sshKey, knownHosts: sshKnownHosts,
                                 passwordFile: passwordFile, signatures: try signatures.policy()))
    }
}

/// Which commits may converge: shared by `run`, `plan`, `daemon` and `apply`.
struct SignatureOptions: ParsableArguments {
    @Flag(help: "Converge only a commit signed by a key of --allowed-signers (SSH) or --keyring (OpenPGP); any other is recorded as rejected and nothing is planned (exit 77).")
    var verifySignatures = false

    @Flag(help: "With --verify-signatures: check every commit since the last applied one (merges included), not only the commit to apply.")
    var verifyHistory = false

    @Option(help: "The SSH keys allowed to sign, in git's gpg.ssh.allowedSignersFile format (principal, then key).")
    var allowedSigners: String?

    @Option(help: "The OpenPGP keys allowed to sign: a keyring file as `gpg --export` writes it.")
    var keyring: String?

    /// The signature policy asked for; a half-asked one is a usage error (exit 64).
    func policy() throws -> SignaturePolicy? {
        let keys = [allowedSigners, keyring].compactMap { $0 }
        guard verifySignatures || verifyHistory else {
            guard keys.isEmpty else { throw usage("--allowed-signers and --keyring take effect with --verify-signatures") }
            return nil
        }
        guard !keys.isEmpty else { throw usage("--verify-signatures needs the keys allowed to sign: --allowed-signers FILE (SSH) and/or --keyring FILE (OpenPGP)") }
        for file in keys where !FileManager.default.isReadableFile(atPath: file) { throw usage("cannot read \(file)") }
        for file in keys {
            do { try TrustedFile.check(file, what: "the key file") } catch { throw usage("\(error)") }
        }
        let absolute = { (path: String) in URL(fileURLWithPath: path).standardizedFileURL.path }
        return SignaturePolicy(mode: verifyHistory ? .history : .head, allowedSigners: allowedSigners.map(absolute), keyring: keyring.map(absolute))
    }

    private func usage(_ message: String) -> ExitCode {
        Terminal.printError(message)
        return ExitStatus.usage
    }
}

/// What a run may do and to which node: shared by `run` and `daemon`.
struct ConvergeOptions: ParsableArguments {
    @Option(help: "Converge only this host's share (needed when several hosts are declared).")
    var node: String?

    @Flag(help: "Allow deletions the guards would refuse: all managed resources, more than --max-prune-share, a running VM's disk.")
    var allowPrune = false

    @Option(help: "The largest share of this node's managed resources a run may delete without --allow-prune.")
    var maxPruneShare = 0.5

    @Flag(help: "Restart running VMs whose change libvirt cannot apply live (as restartPolicy: allowed does per VM).")
    var allowRestart = false

    @Option(help: "How long a VM gets to shut down (ACPI) before it is destroyed: 60s, 2m.")
    var shutdownTimeout = DurationArgument(seconds: 60)

    @Flag(help: "Converge a desired state that declares no VM, pair, rule or reservation (removing what reconcile manages).")
    var allowEmpty = false

    @Flag(help: "Take over what reconcile did not create where it stands in the way: a domain already as declared (its metadata added live, no restart), a dhcpd hosts file or Kea reservations file without reconcile's header. Shown in the plan.")
    var adopt = false

    func pipeline(_ source: DesiredStateSource, stateDirectory: String, dryRun: Bool = false) -> RunPipeline {
        var pipeline = RunPipeline(
            source: source, stateDirectory: stateDirectory, node: node, dryRun: dryRun,
            pruneGuard: PruneGuard(allowPrune: allowPrune, maxShare: maxPruneShare),
            vmOptions: .init(allowRestart: allowRestart, shutdownTimeout: shutdownTimeout.duration)
        )
        pipeline.adopt = adopt
        pipeline.allowEmpty = allowEmpty
        return pipeline
    }
}
