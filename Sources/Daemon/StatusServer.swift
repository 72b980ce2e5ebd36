import Crypto
import Foundation
import Hummingbird
import Prometheus
import RunLog

/// The daemon's HTTP side, as two faces. The operator's: `GET /metrics` (Prometheus),
/// `GET /healthz` (`ok` or `failing`, nothing more) and `GET /` (the status page), behind a
/// bearer token when one is given. The git server's: `POST /hooks/git`, a webhook signed with
/// the shared secret, which is all a webhook listener of its own answers; without one, the
/// operator's listener serves it too (signed, so without the token).
enum StatusServer {
    /// Webhook bodies larger than this are refused unread (a push event is a few KiB; GitHub
    /// caps them at 25 MB, and reconcile only needs the signature to check).
    static let webhookBodyLimit = 1 << 20
    /// How long a webhook body may take to arrive: a slow sender does not hold a connection.
    static let webhookBodyTimeout = Duration.seconds(10)

    static func operatorRouter(
        triggers: TriggerQueue, status: DaemonStatus, log: RunLog, registry: PrometheusCollectorRegistry,
        signature: WebhookSignature?, stuckAfter: TimeInterval, token: Data?, servesWebhook: Bool
    ) -> Router<BasicRequestContext> {
        let router = Router()
        if let token { router.add(middleware: BearerToken(token: token)) }
        if servesWebhook { addWebhook(to: router, triggers: triggers, signature: signature) }
        router.get("/metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: registry.emitToString())))
        }
        router.get("/healthz") { _, _ -> Response in
            // Why it fails is on the status page, behind the same door: this one is for probes.
            let healthy = await status.unhealthy(stuckAfter: stuckAfter) == nil
            return Response(status: healthy ? .ok : .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: healthy ? "ok\n" : "failing\n")))
        }
        router.get("/") { _, _ -> Response in
            let page = StatusPage(snapshot: await status.snapshot, runs: try log.recentRuns(limit: 20, changedLimit: StatusPage.listedPerRun),
                                  health: await status.unhealthy(stuckAfter: stuckAfter))
            var headers = HTTPFields()
            headers[.contentType] = "text/html; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page.html)))
        }
        return router
    }

    /// The git server's listener: `POST /hooks/git` and nothing else (404).
    static func webhookRouter(triggers: TriggerQueue, signature: WebhookSignature?) -> Router<BasicRequestContext> {
        let router = Router()
        addWebhook(to: router, triggers: triggers, signature: signature)
        return router
    }

    private static func addWebhook(to router: Router<BasicRequestContext>, triggers: TriggerQueue, signature: WebhookSignature?) {
        router.post("/hooks/git") { request, _ -> Response in
            let incoming = request.body
            let body = try await withThrowingTaskGroup(of: Data?.self) { group in
                group.addTask { Data(buffer: try await incoming.collect(upTo: webhookBodyLimit)) }
                group.addTask {
                    try await Task.sleep(for: webhookBodyTimeout)
                    return nil
                }
                defer { group.cancelAll() }
                return try await group.next() ?? nil
            }
            guard let body else {
                return Response(status: .requestTimeout, body: .init(byteBuffer: ByteBuffer(string: "the body took longer than \(webhookBodyTimeout)\n")))
            }
            guard let signature, signature.isValid(request.headers[.init("X-Hub-Signature-256")!], body: body) else {
                return Response(status: .unauthorized, body: .init(byteBuffer: ByteBuffer(string: "bad or missing X-Hub-Signature-256\n")))
            }
            triggers.fire("webhook")
            return Response(status: .accepted, body: .init(byteBuffer: ByteBuffer(string: "run queued\n")))
        }
    }
}

/// `Authorization: Bearer <token>` on every route but the signed webhook, compared in
/// constant time (as HMACs of one random key).
struct BearerToken<Context: RequestContext>: RouterMiddleware {
    private let key = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
    private let expected: Data

    init(token: Data) {
        expected = Data(HMAC<SHA256>.authenticationCode(for: token, using: SymmetricKey(data: key)))
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/hooks/git" { return try await next(request, context) }
        let header = request.headers[.authorization] ?? ""
        guard header.hasPrefix("Bearer "), HMAC<SHA256>.isValidAuthenticationCode(expected, authenticating: Data(header.dropFirst(7).utf8), using: SymmetricKey(data: key)) else {
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = "Bearer"
            return Response(status: .unauthorized, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "a bearer token is required\n")))
        }
        return try await next(request, context)
    }
}
