import Basics
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import RunLog
import Runs
import ServiceLifecycle
import UnixSignals

/// `reconcile daemon`: the reconcile loop, the HTTP server and a SIGHUP listener in one
/// service group. SIGTERM or SIGINT shut it down gracefully: the run in flight stops after
/// its current batch, is recorded as interrupted, and the process exits 0.
public struct Daemon: Sendable {
    public var pipeline: RunPipeline
    public var interval: Duration
    public var host: String
    public var port: Int
    /// nil: every webhook is refused (401).
    public var webhookSecret: Data?
    /// `/healthz` fails when one run takes longer than this many seconds.
    public var stuckAfter: TimeInterval

    /// Seconds an HTTP connection may stay idle (half-open, a slow client) before it is closed.
    public var idleTimeout: Int64
    /// A listener of its own for the git server's webhook (it answers nothing else); nil:
    /// the webhook is served on `host:port` with the rest.
    public var webhookListener: (host: String, port: Int)?
    /// Required as `Authorization: Bearer` by everything on `host:port` but the webhook.
    public var token: Data?
    /// Connections each listener holds open at most; more wait in the kernel's backlog until
    /// one closes (an idle one within `idleTimeout`), so half-sent webhooks cannot take the
    /// descriptors a run needs nor starve the other listener.
    public var maxConnections = Daemon.defaultMaxConnections
    public static let defaultMaxConnections = 256
    /// Descriptors kept for runs (git, libvirt, pipes to iptables, nft, dhcpd, the run log).
    public static let descriptorsForRuns = 512

    public init(pipeline: RunPipeline, interval: Duration, host: String, port: Int, webhookSecret: Data?, stuckAfter: TimeInterval = 900,
                idleTimeout: Int64 = 30) {
        self.pipeline = pipeline
        self.interval = interval
        self.host = host
        self.port = port
        self.webhookSecret = webhookSecret
        self.stuckAfter = stuckAfter
        self.idleTimeout = idleTimeout
    }

    /// The process's metrics: swift-metrics is bootstrapped once per process.
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    public func run() async throws {
        var logger = Logger(label: "reconcile")
        logger.logLevel = .info
        let listenerCount = webhookListener == nil ? 1 : 2
        let available = DescriptorLimit.raise() - Self.descriptorsForRuns
        let perListener = max(16, min(maxConnections, available / listenerCount))
        if perListener < maxConnections {
            logger.warning("only \(perListener) connections per listener: the descriptor limit leaves no more beside the \(Self.descriptorsForRuns) kept for runs")
        }
        let registry = Self.registry
        let log = try RunLog(stateDirectory: pipeline.stateDirectory)
        let triggers = TriggerQueue(), status = DaemonStatus()
        let signature = webhookSecret.map(WebhookSignature.init(secret:))
        let router = StatusServer.operatorRouter(triggers: triggers, status: status, log: log, registry: registry, signature: signature,
                                                 stuckAfter: stuckAfter, token: token, servesWebhook: webhookListener == nil)
        // The first run waits until every listener is up: a busy port stops the daemon before it.
        let (listening, ready) = AsyncStream<Void>.makeStream()
        let started = Locked(0)
        let up: @Sendable () -> Void = {
            if started.withLock({ count in count += 1; return count }) == listenerCount { ready.yield() }
        }
        var servers: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: Application(router: router, server: .http1(configuration: .init(idleTimeout: .seconds(idleTimeout))),
                                       configuration: .init(address: .hostname(host, port: port), availableConnectionsDelegate: .maximum(perListener, logger: logger)),
                                       onServerRunning: { _ in up() }, logger: logger)),
        ]
        if let webhookListener {
            servers.append(.init(service: Application(
                router: StatusServer.webhookRouter(triggers: triggers, signature: signature), server: .http1(configuration: .init(idleTimeout: .seconds(idleTimeout))),
                configuration: .init(address: .hostname(webhookListener.host, port: webhookListener.port),
                                     availableConnectionsDelegate: .maximum(perListener, logger: logger)), onServerRunning: { _ in up() }, logger: logger)))
        }
        let loop = ReconcileLoop(pipeline: pipeline, interval: interval, triggers: triggers, status: status, log: log, logger: logger,
                                 listening: listening)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: loop)] + servers + [
                .init(service: HangupListener(triggers: triggers), successTerminationBehavior: .ignore),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
    }
}

/// SIGHUP: run now.
struct HangupListener: Service {
    let triggers: TriggerQueue

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            triggers.fire("signal")
        }
    }
}
