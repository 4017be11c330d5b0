import Foundation
import Hummingbird
import ParleyCore
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
    /// Where a stored message's time goes (`SendStages`), and the socket's write after
    /// it (`recordSocketWrite`).
    private let stages: [SendStage: DurationHistogram]
    /// The series recorded per request and per database operation, by their labels.
    private let requests: MetricsByLabels<RouteStatus, Counter>
    private let requestDurations: MetricsByLabels<Route, DurationHistogram>
    private let dbDurations: MetricsByLabels<String, DurationHistogram>
    private let dbErrors: MetricsByLabels<String, Counter>

    private struct Route: Hashable, Sendable {
        let route: String
        let method: String
    }

    private struct RouteStatus: Hashable, Sendable {
        let route: Route
        let status: Int
    }

    /// The stages of `parley_send_stage_seconds`.
    enum SendStage: String, CaseIterable {
        case queueWait = "queue_wait", insert, fanout, write
    }

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
        static var sendStage: MetricNameDescriptor { MetricNameDescriptor(
            namespace: "parley", metricName: "send_stage", unitName: "seconds",
            helpText: "Per batch: the oldest message's queue wait, the insert, the fan-out; per write of a socket: its oldest frame's wait") }
        static var dbErrors: MetricNameDescriptor { MetricNameDescriptor(
            namespace: "parley", metricName: "db_operation_errors", unitName: "total", helpText: "Failed database operations") }
    }

    static let latencyBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
    ]

    /// Finer at the low end than `latencyBuckets`: the stages of a light load take microseconds.
    static let stageBuckets: [Duration] = [.microseconds(50), .microseconds(100), .microseconds(250)] + latencyBuckets

    public init() {
        openWebSockets = registry.makeGauge(descriptor: Names.webSockets)
        messagesStored = registry.makeCounter(descriptor: Names.messages)
        clusterMessagesReceived = registry.makeCounter(descriptor: Names.cluster("messages_received", "total", "Other nodes' messages read from the change stream"))
        clusterGapFills = registry.makeCounter(descriptor: Names.cluster("gap_fills", "total", "Holes in a room's seqs read from messages"))
        clusterSignalBatches = registry.makeCounter(descriptor: Names.cluster("signal_batches", "total", "Other nodes' signal batches received"))
        clusterRepairs = registry.makeCounter(descriptor: Names.cluster("repairs", "total", "Repairs after a lost signal batch or a reopened stream"))
        clusterStreamOpen = registry.makeGauge(descriptor: Names.cluster("stream_open", "", "1 while the change stream is open"))
        clusterNodes = registry.makeGauge(descriptor: Names.cluster("nodes", "", "Nodes alive, this one included"))
        let registry = registry
        requests = MetricsByLabels { k in
            registry.makeCounter(descriptor: Names.requests, labels: [("route", k.route.route), ("method", k.route.method), ("status", String(k.status))])
        }
        requestDurations = MetricsByLabels { k in
            registry.makeDurationHistogram(descriptor: Names.requestDuration, labels: [("route", k.route), ("method", k.method)], buckets: Self.latencyBuckets)
        }
        dbDurations = MetricsByLabels { operation in
            registry.makeDurationHistogram(descriptor: Names.dbDuration, labels: [("operation", operation)], buckets: Self.latencyBuckets)
        }
        dbErrors = MetricsByLabels { operation in registry.makeCounter(descriptor: Names.dbErrors, labels: [("operation", operation)]) }
        stages = Dictionary(uniqueKeysWithValues: SendStage.allCases.map { stage in
            (stage, registry.makeDurationHistogram(descriptor: Names.sendStage, labels: [("stage", stage.rawValue)], buckets: Self.stageBuckets))
        })
    }

    /// A socket wrote a burst whose oldest frame was queued at `since` (sampled: see
    /// `OutboundQueue.timed`).
    func recordSocketWrite(since: ContinuousClock.Instant) { stages[.write]?.record(ContinuousClock.now - since) }

    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        let key = Route(route: route, method: method)
        requests[RouteStatus(route: key, status: status)].increment()
        requestDurations[key].record(duration)
    }

    /// The `MongoClient` observer.
    public func recordDatabaseOperation(_ operation: String, _ duration: Duration, _ failed: Bool) {
        dbDurations[operation].record(duration)
        if failed { dbErrors[operation].increment() }
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

extension ParleyMetrics: SendStageObserver {
    public func batchWritten(_ s: SendStages) {
        stages[.queueWait]?.record(s.queueWait)
        stages[.insert]?.record(s.insert)
        stages[.fanout]?.record(s.fanout)
    }
}
