import Foundation
import Logging
import ServiceLifecycle

/// The first step of a graceful shutdown (SIGTERM or SIGINT), before the HTTP server
/// stops: sessions stop taking new messages (`unavailable`, so clients retry the
/// same `clientId` elsewhere or after the restart), the batches in flight are
/// committed and acknowledged, then every socket is closed with 1001 (going away).
/// Run it after the application in one `ServiceGroup` (see `buildServer`): services
/// shut down in reverse order, so this one finishes before the listener closes.
struct RealtimeDrain: Service {
    let services: ParleyServices
    let logger: Logger
    /// The longest wait for batches in flight, and then for sockets to close.
    var deadline: Duration = .seconds(10)

    func run() async throws {
        // Wait for the shutdown signal; cancellation (a failing group) ends it too.
        try? await gracefulShutdown()
        let hub = services.hub
        hub.beginDraining()
        let clock = ContinuousClock()
        let start = clock.now
        while !services.pipeline.isIdle, clock.now - start < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        // Let the acks of the last batch reach the sockets before the close frames.
        try? await Task.sleep(for: .milliseconds(100))
        let connections = hub.all
        logger.info("shutting down: closing \(connections.count) realtime connection(s) with 1001")
        for connection in connections { connection.disconnect(.shutdown) }
        while hub.connectionCount > 0, clock.now - start < deadline * 2 {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}
