import ArgumentParser
import Daemon
import Engine
import Foundation
import Runs

struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Keep this node converged: fetch and reconcile on an interval, on a webhook and on SIGHUP.",
        discussion: """
            Every tick (the interval ±10 %) fetches the repository and runs, also when the \
            revision did not change, so drift is corrected. A failed run is retried after 5 s, \
            10 s, … at most 5 minutes; an invalid revision is recorded once and not retried \
            until the branch moves (the last good state stays applied). While suspended \
            (`reconcile suspend`), runs plan and record drift but apply nothing.

            HTTP on --listen: POST /hooks/git (X-Hub-Signature-256: sha256=<HMAC-SHA256 of the \
            body with the secret>) starts a run; GET /metrics (Prometheus), GET /healthz, \
            GET / (status page). SIGHUP runs now; SIGTERM stops after the current batch.

            Example:
              reconcile daemon --repo https://git.example.org/cloud.git --path pool1 --node hv1 \\
                --interval 60 --listen 127.0.0.1:8080 --webhook-secret-file /etc/reconcile/hook.secret
            """
    )

    @Option(help: "The git repository holding the desired state (a path, file://, https://).")
    var repo: String

    @Option(help: "The private key for an ssh:// repository.")
    var sshKey: String?

    @Option(help: "The known_hosts file the ssh:// server's key must be in (default ~/.ssh/known_hosts).")
    var sshKnownHosts: String?

    @Option(help: "The branch, tag or commit id to follow.")
    var ref = "main"

    @Option(help: "The subdirectory holding the desired state.")
    var path = ""

    @Option(help: "Converge only this host's share (needed when several hosts are declared).")
    var node: String?

    @Option(help: "Seconds between runs.")
    var interval = 60.0

    @Option(help: "host:port for the webhook, metrics and the status page.")
    var listen = "127.0.0.1:8080"

    @Option(help: "A file holding the webhook's shared secret; without it every webhook gets 401.")
    var webhookSecretFile: String?

    @OptionGroup var state: StateOptions

    @Flag(help: "Allow deletions the guards would refuse.")
    var allowPrune = false

    @Option(help: "The largest share of this node's managed resources a run may delete without --allow-prune.")
    var maxPruneShare = 0.5

    @Flag(help: "Restart running VMs whose change libvirt cannot apply live.")
    var allowRestart = false

    @Option(help: "Seconds a VM gets to shut down (ACPI) before it is destroyed.")
    var shutdownTimeout = 60

    func run() async throws {
        let parts = listen.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]), interval > 0 else {
            Terminal.printError("--listen must be host:port and --interval positive")
            throw ExitStatus.usage
        }
        var secret: Data?
        if let webhookSecretFile {
            guard let contents = FileManager.default.contents(atPath: webhookSecretFile) else {
                Terminal.printError("cannot read --webhook-secret-file \(webhookSecretFile)")
                throw ExitStatus.usage
            }
            secret = Data(String(decoding: contents, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        }
        let pipeline = RunPipeline(
            source: .repository(.init(url: repo, ref: ref, path: path, sshKey: sshKey, knownHosts: sshKnownHosts)),
            stateDirectory: state.stateDir, node: node,
            pruneGuard: PruneGuard(allowPrune: allowPrune, maxShare: maxPruneShare),
            vmOptions: .init(allowRestart: allowRestart, shutdownTimeout: .seconds(shutdownTimeout))
        )
        try await Daemon(pipeline: pipeline, interval: .seconds(interval), host: String(parts[0]), port: port,
                         webhookSecret: secret).run()
    }
}

struct SuspendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suspend",
        abstract: "Stop the daemon applying changes (it keeps planning and recording drift).",
        discussion: "Example: reconcile suspend --reason \"maintenance of hv1\" --until 2026-12-01T06:00:00Z"
    )

    @Option(help: "Why; shown on the status page.")
    var reason: String

    @Option(help: "When it ends by itself (ISO 8601, e.g. 2026-12-01T06:00:00Z); default: at `reconcile resume`.")
    var until: String?

    @OptionGroup var state: StateOptions

    func run() throws {
        var end: Date?
        if let until {
            guard let date = ISO8601DateFormatter().date(from: until) else {
                Terminal.printError("--until \(until) is not an ISO 8601 time like 2026-12-01T06:00:00Z")
                throw ExitStatus.usage
            }
            end = date
        }
        try Suspension(reason: reason, until: end).save(stateDirectory: state.stateDir)
        print("suspended: \(reason)" + (until.map { " until \($0)" } ?? " until `reconcile resume`"))
    }
}

struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Let the daemon apply changes again.")

    @OptionGroup var state: StateOptions

    func run() throws {
        try Suspension.lift(stateDirectory: state.stateDir)
        print("resumed")
    }
}

/// `reconcile fetch-mirror`: the daemon's fetch, in a process of its own (see `ReconcileLoop`).
struct FetchMirrorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch-mirror", abstract: "Fetch the desired-state mirror (run by the daemon, which holds the lock).",
        shouldDisplay: false
    )

    @Option var repo: String

    @Option var sshKey: String?

    @Option var sshKnownHosts: String?

    @OptionGroup var state: StateOptions

    func run() throws {
        try DesiredStateSource.repository(.init(url: repo, sshKey: sshKey, knownHosts: sshKnownHosts)).fetch(stateDirectory: state.stateDir)
    }
}
