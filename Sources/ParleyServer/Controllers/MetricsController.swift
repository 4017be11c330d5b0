import Hummingbird

/// `GET /metrics`: the Prometheus text exposition.
struct MetricsController {
    let metrics: ParleyMetrics

    func addRoutes(to router: Router<ParleyRequestContext>) {
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.render())))
        }
    }
}
