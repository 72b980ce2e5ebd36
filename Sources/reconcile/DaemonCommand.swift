import ArgumentParser
import Basics
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
                --interval 60s --listen 127.0.0.1:8080 --webhook-secret-file /etc/reconcile/hook.secret
            """
    )

    @Option(help: "The git repository holding the desired state (a path, file://, https://, ssh://).")
    var repo: String

    @OptionGroup var git: GitSourceOptions

    @Option(help: "Time between runs: 90s, 5m, 1h (a bare number is seconds).")
    var interval = DurationArgument(seconds: 60)

    @Option(help: "host:port for metrics, /healthz and the status page (and the webhook, without --webhook-listen). Off loopback it needs --token-file.")
    var listen = "127.0.0.1:8080"

    @Option(help: "host:port of a listener for the git server's webhook alone (POST /hooks/git; anything else 404), e.g. 0.0.0.0:9292.")
    var webhookListen: String?

    @Option(help: "A file holding a token (at least 16 bytes) that every request to --listen but the webhook must carry as `Authorization: Bearer <token>`.")
    var tokenFile: String?

    @Option(help: "A file holding the webhook's shared secret (at least 16 bytes); without it every webhook gets 401.")
    var webhookSecretFile: String?

    @Option(help: "How long a run may take before GET /healthz fails (stuck): 15m, 900s.")
    var stuckAfter = DurationArgument(seconds: 900)

    @Option(help: "How long an HTTP connection may stay idle before the daemon closes it: 30s.")
    var idleTimeout = DurationArgument(seconds: 30)

    @Option(help: "Connections each listener holds open at most (more wait in the kernel's backlog until one closes); 512 file descriptors stay for runs.")
    var maxConnections = Daemon.defaultMaxConnections

    @OptionGroup var state: StateOptions

    @OptionGroup var converge: ConvergeOptions

    /// `host:port`, or nil.
    static func address(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        let host = String(text[..<colon])
        return host.isEmpty ? nil : (host, port)
    }

    /// Whether only this machine can reach `host`.
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// A secret of at least 16 bytes from `file`, surrounding whitespace removed: an empty one
    /// would let anyone in, a short one be guessed.
    static func secret(_ file: String, option: String) throws -> Data {
        let contents: Data
        do {
            contents = try BoundedFile.read(file, limit: 4096)
        } catch {
            Terminal.printError("cannot read \(option): \(error)")
            throw ExitStatus.usage
        }
        let secret = Data(String(decoding: contents, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        guard secret.count >= 16 else {
            Terminal.printError("\(option) \(file) holds \(secret.count) bytes; use at least 16, e.g. head -c 32 /dev/urandom | base64")
            throw ExitStatus.usage
        }
        return secret
    }

    func run() async throws {
        guard let address = Self.address(listen), webhookListen.map({ Self.address($0) != nil }) ?? true,
              interval.seconds > 0, stuckAfter.seconds > 0, idleTimeout.seconds >= 1, (16...65_536).contains(maxConnections) else {
            Terminal.printError("--listen and --webhook-listen must be host:port; --interval and --stuck-after positive, --idle-timeout at least 1s, "
                                + "--max-connections 16 to 65536")
            throw ExitStatus.usage
        }
        let secret = try webhookSecretFile.map { try Self.secret($0, option: "--webhook-secret-file") }
        let token = try tokenFile.map { try Self.secret($0, option: "--token-file") }
        // The status page names revisions, errors and drift: off loopback, only with a token.
        guard token != nil || Self.isLoopback(address.host) else {
            Terminal.printError("--listen \(listen) is reachable from other machines: give --token-file, or listen on loopback "
                                + "and serve the webhook alone with --webhook-listen")
            throw ExitStatus.usage
        }
        let pipeline = converge.pipeline(try git.source(repo), stateDirectory: state.stateDir)
        do {
            var daemon = Daemon(pipeline: pipeline, interval: interval.duration, host: address.host, port: address.port,
                                webhookSecret: secret, stuckAfter: stuckAfter.seconds, idleTimeout: Int64(idleTimeout.seconds))
            daemon.webhookListener = webhookListen.flatMap(Self.address)
            daemon.token = token
            daemon.maxConnections = maxConnections
            try await daemon.run()
        } catch {
            // A busy port ends up here before the first run: nothing was changed.
            Terminal.printError("the daemon on \(listen) stopped: \(error)")
            throw ExitStatus.resourceFailed
        }
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

    @Option(help: "text or json.")
    var output: OutputFormat = .text

    func run() throws {
        var end: Date?
        if let until {
            guard let date = ISO8601DateFormatter().date(from: until) else {
                Terminal.printError("--until \(until) is not an ISO 8601 time like 2026-12-01T06:00:00Z")
                throw ExitStatus.usage
            }
            end = date
        }
        let suspension = Suspension(reason: reason, until: end)
        try suspension.save(stateDirectory: state.stateDir)
        switch output {
        case .json: printJSON(SuspensionOutput(suspended: true, suspension: suspension))
        case .text: print("suspended: \(reason)" + (until.map { " until \($0)" } ?? " until `reconcile resume`"))
        }
    }
}

struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Let the daemon apply changes again.")

    @OptionGroup var state: StateOptions

    @Option(help: "text or json.")
    var output: OutputFormat = .text

    func run() throws {
        try Suspension.lift(stateDirectory: state.stateDir)
        switch output {
        case .json: printJSON(SuspensionOutput(suspended: false, suspension: nil))
        case .text: print("resumed")
        }
    }
}

/// `reconcile suspend|resume --output json`.
struct SuspensionOutput: Encodable {
    var suspended: Bool
    var suspension: Suspension?
}

/// `reconcile fetch-mirror`: the daemon's fetch, in a process of its own (see `ReconcileLoop`).
struct FetchMirrorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch-mirror", abstract: "Fetch the desired-state mirror (run by the daemon, which holds the lock).",
        shouldDisplay: false
    )

    @Option var repo: String

    @OptionGroup var git: GitSourceOptions

    @OptionGroup var state: StateOptions

    func run() throws {
        try git.source(repo).fetch(stateDirectory: state.stateDir)
    }
}
