import Foundation
import Hummingbird
import Prometheus
import RunLog

/// The daemon's HTTP side: `POST /hooks/git` (signed webhook), `GET /metrics` (Prometheus),
/// `GET /healthz`, and `GET /` (the status page).
enum StatusServer {
    static func router(
        triggers: TriggerQueue, status: DaemonStatus, log: RunLog, registry: PrometheusCollectorRegistry,
        signature: WebhookSignature?, stuckAfter: TimeInterval
    ) -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/hooks/git") { request, _ -> Response in
            var request = request
            let body = Data(buffer: try await request.collectBody(upTo: 5 << 20))
            guard let signature, signature.isValid(request.headers[.init("X-Hub-Signature-256")!], body: body) else {
                return Response(status: .unauthorized, body: .init(byteBuffer: ByteBuffer(string: "bad or missing X-Hub-Signature-256\n")))
            }
            triggers.fire("webhook")
            return Response(status: .accepted, body: .init(byteBuffer: ByteBuffer(string: "run queued\n")))
        }
        router.get("/metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: registry.emitToString())))
        }
        router.get("/healthz") { _, _ -> Response in
            guard let problem = await status.unhealthy(stuckAfter: stuckAfter) else {
                return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
            }
            return Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: problem + "\n")))
        }
        router.get("/") { _, _ -> Response in
            let page = StatusPage(snapshot: await status.snapshot, runs: try log.recentRuns(limit: 20, changedLimit: StatusPage.listedPerRun))
            var headers = HTTPFields()
            headers[.contentType] = "text/html; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page.html)))
        }
        return router
    }
}
