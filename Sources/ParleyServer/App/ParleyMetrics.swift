import Foundation
import Hummingbird
import Prometheus

/// The server's Prometheus metrics, one registry per application (so tests do not
/// share counters): HTTP requests by route and status and their latency, open
/// WebSocket connections, messages stored, and database operation latency.
public final class ParleyMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    /// Open WebSocket connections, both transports.
    public let openWebSockets: Gauge
    /// Messages persisted.
    public let messagesStored: Counter
    /// Cluster: other nodes' messages read from the change stream for this node's
    /// connections; holes in a room's seqs read from `messages`; batches of signals
    /// received; repairs (a lost batch or a reopened stream); the stream's state
    /// (1 open); nodes alive, this one included.
    public let clusterMessagesReceived: Counter
    public let clusterGapFills: Counter
    public let clusterSignalBatches: Counter
    public let clusterRepairs: Counter
    public let clusterStreamOpen: Gauge
    public let clusterNodes: Gauge

    /// Descriptors are computed: swift-prometheus's type is not `Sendable`.
    private enum Names {
        static var requests: MetricNameDescriptor { MetricNameDescriptor(
            namespace: "parley", metricName: "http_requests", unitName: "total", helpText: "HTTP requests by route, method and status") }
        static var requestDuration: MetricNameDescriptor { MetricNameDescriptor(
            namespace: "parley", metricName: "http_request_duration", unitName: "seconds", helpText: "HTTP request latency by route") }
        static var webSockets: MetricNameDescriptor { MetricNameDescriptor(
            namespace: "parley", metricName: "websocket_connections", unitName: "", helpText: "Open WebSocket connections") }
        static var messages: MetricNameDescriptor { MetricNameDescriptor(
            namespace: "parley", metricName: "messages_stored", unitName: "total", helpText: "Messages persisted") }
        static func cluster(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "parley", subsystem: "cluster", metricName: name, unitName: unit, helpText: help)
        }
        static var dbDuration: MetricNameDescriptor { MetricNameDescriptor(
            namespace: "parley", metricName: "db_operation_duration", unitName: "seconds",
            helpText: "Database operation latency, including the wait for a driver thread") }
        static var dbErrors: MetricNameDescriptor { MetricNameDescriptor(
            namespace: "parley", metricName: "db_operation_errors", unitName: "total", helpText: "Failed database operations") }
    }

    static let latencyBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
    ]

    public init() {
        openWebSockets = registry.makeGauge(descriptor: Names.webSockets)
        messagesStored = registry.makeCounter(descriptor: Names.messages)
        clusterMessagesReceived = registry.makeCounter(descriptor: Names.cluster("messages_received", "total", "Other nodes' messages read from the change stream"))
        clusterGapFills = registry.makeCounter(descriptor: Names.cluster("gap_fills", "total", "Holes in a room's seqs read from messages"))
        clusterSignalBatches = registry.makeCounter(descriptor: Names.cluster("signal_batches", "total", "Other nodes' signal batches received"))
        clusterRepairs = registry.makeCounter(descriptor: Names.cluster("repairs", "total", "Repairs after a lost signal batch or a reopened stream"))
        clusterStreamOpen = registry.makeGauge(descriptor: Names.cluster("stream_open", "", "1 while the change stream is open"))
        clusterNodes = registry.makeGauge(descriptor: Names.cluster("nodes", "", "Nodes alive, this one included"))
    }

    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        registry.makeCounter(descriptor: Names.requests, labels: [("route", route), ("method", method), ("status", String(status))]).increment()
        registry.makeDurationHistogram(descriptor: Names.requestDuration, labels: [("route", route), ("method", method)], buckets: Self.latencyBuckets)
            .record(duration)
    }

    /// The `MongoClient` observer.
    public func recordDatabaseOperation(_ operation: String, _ duration: Duration, _ failed: Bool) {
        registry.makeDurationHistogram(descriptor: Names.dbDuration, labels: [("operation", operation)], buckets: Self.latencyBuckets)
            .record(duration)
        if failed { registry.makeCounter(descriptor: Names.dbErrors, labels: [("operation", operation)]).increment() }
    }

    /// The exposition text.
    func render() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}

/// Records every request's route (the route pattern, not the raw path, so ids do not
/// explode the label set), method, status and latency.
struct MetricsRecorderMiddleware: RouterMiddleware {
    let metrics: ParleyMetrics

    func handle(
        _ request: Request, context: ParleyRequestContext, next: (Request, ParleyRequestContext) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        metrics.recordRequest(
            route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: response.status.code,
            duration: ContinuousClock.now - start)
        return response
    }
}
